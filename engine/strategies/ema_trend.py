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

from engine.indicators import Atr, Ema, atr, ema
from models import Candle
from settings import EmaTrendSettings

from .base import (
    NO_SIGNAL, SignalRow, SignalStream, Strategy, divide, empty_signals, excess_of, excess_score, register,
    strength_from_scores, strength_of,
)

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
        # weight is below 0.5 %, so where the history began no longer colours a decision.
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
            _reason(p, int(side[i]), spread_atr[i], atr_pct.iat[i], min_atr) for i in rows
        ]
        return out

    def stream(self, symbol: str, timeframe: str, window: int | None = None) -> SignalStream:
        return EmaTrendStream(self, symbol, timeframe)


def _reason(p: EmaTrendSettings, side: int, spread_atr: float, atr_pct: float, min_atr: float) -> str:
    return (
        f"EMA{p.fast} crossed {'above' if side > 0 else 'below'} EMA{p.slow} "
        f"(gap {spread_atr:.2f} ATR), ATR {atr_pct:.3f}% of price (min {min_atr:g}%)"
    )


class EmaTrendStream(SignalStream):
    """`EmaTrend.generate` one candle at a time: two EMAs, Wilder's ATR and the previous EMA gap."""

    def __init__(self, strategy: EmaTrend, symbol: str, timeframe: str):
        super().__init__(strategy, symbol, timeframe)
        p = self.params = strategy.params
        self._fast, self._slow, self._atr = Ema(p.fast), Ema(p.slow), Atr(p.atr_period)
        self._min_atr = float(p.min_atr_pct)
        self._lively_at = self._min_atr * (1 - _EPS)
        self._prev_diff = float("nan")
        self._row_index = -1

    def _row(self, candle: Candle) -> SignalRow:
        close = float(candle.close)
        diff = self._fast.update(close) - self._slow.update(close)
        range_ = self._atr.update(float(candle.high), float(candle.low), close)
        prev, self._prev_diff = self._prev_diff, diff
        self._row_index += 1
        if self._row_index < self.params.slow:
            return NO_SIGNAL
        if diff > 0 and prev <= 0:
            side = 1
        elif diff < 0 and prev >= 0:
            side = -1
        else:
            return NO_SIGNAL
        atr_pct = divide(range_, close) * 100.0
        min_atr = self._min_atr
        if not (atr_pct >= self._lively_at if min_atr > 0 else atr_pct == atr_pct):
            return NO_SIGNAL
        atr_score = excess_of(atr_pct / min_atr) if min_atr > 0 else 1.0
        spread_atr = abs(diff) / range_ if range_ > 0 else float("nan")
        spread_score = 0.0 if spread_atr != spread_atr else min(max(spread_atr / SPREAD_FULL_ATR, 0.0), 1.0)
        return SignalRow(side, strength_of(atr_score, spread_score), _reason(self.params, side, spread_atr, atr_pct, min_atr))
