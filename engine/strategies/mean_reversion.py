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

from engine.indicators import Bollinger, Rsi, bollinger, rsi
from models import Candle
from settings import MeanReversionSettings

from .base import NO_SIGNAL, SignalRow, SignalStream, Strategy, divide, empty_signals, register, strength_from_scores, strength_of

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
            _reason(int(side[i]), r.iat[i], close.iat[i], lower.iat[i], upper.iat[i], oversold, overbought) for i in rows
        ]
        return out

    def stream(self, symbol: str, timeframe: str, window: int | None = None) -> SignalStream:
        return MeanReversionStream(self, symbol, timeframe)


def _reason(side: int, r: float, close: float, lower: float, upper: float, oversold: float, overbought: float) -> str:
    if side > 0:
        return f"RSI {r:.1f} < {oversold:g} and close {close:g} below lower band {lower:g}"
    return f"RSI {r:.1f} > {overbought:g} and close {close:g} above upper band {upper:g}"


def _score(past: float, full: float) -> float:
    score = past / full
    return 0.0 if score != score else min(max(score, 0.0), 1.0)


class MeanReversionStream(SignalStream):
    """`MeanReversion.generate` one candle at a time: Wilder's RSI and a Bollinger window of closes."""

    def __init__(self, strategy: MeanReversion, symbol: str, timeframe: str):
        super().__init__(strategy, symbol, timeframe)
        p = strategy.params
        self._oversold, self._overbought, self._k = float(p.oversold), float(p.overbought), float(p.bollinger_std)
        self._rsi = Rsi(p.rsi_period)
        self._bands = Bollinger(p.bollinger_period, self._k)

    def _row(self, candle: Candle) -> SignalRow:
        close = float(candle.close)
        r = self._rsi.update(close)
        mid, upper, lower = self._bands.update(close)
        oversold, overbought = self._oversold, self._overbought
        if r < oversold and close < lower:
            side = 1
        elif r > overbought and close > upper:
            side = -1
        else:
            return NO_SIGNAL
        std = (upper - mid) / self._k
        if side > 0:
            rsi_past, band_past_std = (oversold - r) / oversold, divide(lower - close, std)
        else:
            rsi_past, band_past_std = (r - overbought) / (100.0 - overbought), divide(close - upper, std)
        strength = strength_of(_score(rsi_past, RSI_FULL_FRACTION), _score(band_past_std, BAND_FULL_STD))
        return SignalRow(side, strength, _reason(side, r, close, lower, upper, oversold, overbought))
