"""Mean reversion: buy a stretched sell-off, sell a stretched rally.

Fires long at the close of a candle where RSI < oversold AND the close is below the lower Bollinger
band; short where RSI > overbought AND the close is above the upper band. Both conditions are strict:
touching the threshold is not past it.

Strength: 0.25 when both only just cross, rising linearly to 1.0 when (a) RSI has gone half of the
remaining way to its extreme past the threshold (e.g. oversold 25 → RSI 12.5; overbought 75 → 87.5) and
(b) the close is one standard deviation beyond the band — the mean of the two scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.indicators import bollinger, rsi
from settings import MeanReversionSettings

from .base import Strategy, empty_signals, register, strength_from_scores

# Fraction of the room between the RSI threshold and its extreme (0 or 100) that scores full marks.
RSI_FULL_FRACTION = 0.5
# Standard deviations beyond the band that score full marks.
BAND_FULL_STD = 1.0


@register
class MeanReversion(Strategy):
    name = "mean_reversion"

    def __init__(self, params: MeanReversionSettings | None = None):
        super().__init__(params if params is not None else MeanReversionSettings())

    @property
    def warmup(self) -> int:
        # Wilder's RSI is recursive: after 5 × period candles the seed weighs under 1 %.
        p = self.params
        return max(5 * p.rsi_period, p.bollinger_period) + 1

    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        close = frame["close"].astype(float)
        oversold, overbought = float(p.oversold), float(p.overbought)
        k = float(p.bollinger_std)
        r = rsi(close, p.rsi_period)
        mid, upper, lower = bollinger(close, p.bollinger_period, k)
        std = (upper - mid) / k

        long_ = (r < oversold) & (close < lower)
        short = (r > overbought) & (close > upper)
        side = np.where(long_, 1, np.where(short, -1, 0)).astype(np.int64)

        rsi_past = np.where(side > 0, (oversold - r) / oversold, (r - overbought) / (100.0 - overbought))
        band_past_std = np.where(side > 0, (lower - close) / std, (close - upper) / std)
        rsi_score = np.nan_to_num(np.clip(rsi_past / RSI_FULL_FRACTION, 0.0, 1.0), nan=0.0)
        band_score = np.nan_to_num(np.clip(band_past_std / BAND_FULL_STD, 0.0, 1.0), nan=0.0)

        out = empty_signals(frame.index)
        out["side"] = side
        out["strength"] = np.where(side != 0, strength_from_scores(rsi_score, band_score), 0.0)
        rows = np.flatnonzero(side)
        out.iloc[rows, out.columns.get_loc("reason")] = [
            (
                f"RSI {r.iat[i]:.1f} < {oversold:g} and close {close.iat[i]:g} below lower band {lower.iat[i]:g}"
                if side[i] > 0
                else f"RSI {r.iat[i]:.1f} > {overbought:g} and close {close.iat[i]:g} above upper band {upper.iat[i]:g}"
            )
            for i in rows
        ]
        return out
