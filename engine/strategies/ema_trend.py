"""EMA trend: follow a fast/slow EMA crossover, but only in a market that is actually moving.

Fires at the close of the candle where the fast EMA crosses the slow one — long when fast goes from
≤ slow to > slow, short on the mirror — provided ATR as a percentage of the close is ≥ min_atr_pct
(a crossover in a dead market is noise that fees eat).

Strength: 0.25 at a bare crossover in a market exactly at min_atr_pct, rising linearly to 1.0 as
(a) ATR% reaches twice min_atr_pct and (b) the EMAs have already opened a gap of SPREAD_FULL_ATR × ATR
at the crossing candle (a decisive cross rather than a graze) — the mean of the two scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.indicators import atr, ema
from settings import EmaTrendSettings

from .base import Strategy, empty_signals, excess_score, register, strength_from_scores

# A crossing where |fast - slow| is this many ATRs scores full marks for decisiveness.
SPREAD_FULL_ATR = 0.25
_EPS = 1e-9


@register
class EmaTrend(Strategy):
    name = "ema_trend"

    def __init__(self, params: EmaTrendSettings | None = None):
        super().__init__(params if params is not None else EmaTrendSettings())

    @property
    def warmup(self) -> int:
        # EMA and Wilder ATR are recursive: after 4 × slow (and 5 × atr_period) candles the seed's
        # weight is below 0.5 %, so a bounded tail agrees with the full history.
        p = self.params
        return max(4 * p.slow, 5 * p.atr_period) + 1

    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        close = frame["close"].astype(float)
        fast, slow = ema(close, p.fast), ema(close, p.slow)
        range_ = atr(frame, p.atr_period)
        atr_pct = range_ / close * 100.0
        min_atr = float(p.min_atr_pct)

        diff = fast - slow
        prev = diff.shift(1)
        up = (diff > 0) & (prev <= 0)
        down = (diff < 0) & (prev >= 0)
        lively = atr_pct >= min_atr * (1 - _EPS) if min_atr > 0 else atr_pct.notna()
        # The first slow-EMA candles are the seed settling, not a trend: no signals during warm-up.
        warm = pd.Series(np.arange(len(frame)) >= p.slow, index=frame.index)
        side = np.where(up & lively & warm, 1, np.where(down & lively & warm, -1, 0)).astype(np.int64)

        out = empty_signals(frame.index)
        out["side"] = side
        atr_score = excess_score(atr_pct / min_atr) if min_atr > 0 else np.ones(len(frame))
        spread_atr = (diff.abs() / range_.where(range_ > 0)).to_numpy()
        spread_score = np.nan_to_num(np.clip(spread_atr / SPREAD_FULL_ATR, 0.0, 1.0), nan=0.0)
        out["strength"] = np.where(side != 0, strength_from_scores(atr_score, spread_score), 0.0)
        rows = np.flatnonzero(side)
        out.iloc[rows, out.columns.get_loc("reason")] = [
            f"EMA{p.fast} crossed {'above' if side[i] > 0 else 'below'} EMA{p.slow} "
            f"(gap {spread_atr[i]:.2f} ATR), ATR {atr_pct.iat[i]:.3f}% of price (min {min_atr:g}%)"
            for i in rows
        ]
        return out
