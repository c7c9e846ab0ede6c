"""Momentum spike: a sharp price move over a few candles, confirmed by a burst of volume.

Fires at the close of a candle when
    |close / close `window` candles ago - 1| ≥ min_move_pct   and
    volume of this candle ≥ volume_multiple × the mean volume of the `volume_window` candles before it
in the direction of the move. The average excludes the signal candle itself, so a spike cannot dilute
its own confirmation.

Strength: 0.25 when both only just meet their thresholds, rising linearly to 1.0 when the move and the
volume ratio are each twice their threshold (the mean of the two `excess_score`s; see base.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from collections import deque

from engine.indicators import rolling_mean, window_mean
from models import Candle
from settings import MomentumSpikeSettings

from .base import (
    NO_SIGNAL, SignalRow, SignalStream, Strategy, divide, empty_signals, excess_of, excess_score, register,
    strength_from_scores, strength_of,
)

# Floats carry representation noise; a value equal to its threshold on paper must count as meeting it.
_EPS = 1e-9


@register
class MomentumSpike(Strategy):
    name = "momentum_spike"

    def __init__(self, params: MomentumSpikeSettings | None = None):
        super().__init__(params if params is not None else MomentumSpikeSettings())

    @property
    def warmup(self) -> int:
        p = self.params
        return max(p.window, p.volume_window) + 1

    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        close = frame["close"].astype(float)
        volume = frame["volume"].astype(float)
        min_move = float(p.min_move_pct)
        multiple = float(p.volume_multiple)

        move_pct = (close / close.shift(p.window) - 1.0) * 100.0
        volume_avg = rolling_mean(volume.shift(1), p.volume_window)
        volume_ratio = volume / volume_avg.where(volume_avg > 0)

        moved = move_pct.abs() >= min_move * (1 - _EPS)
        confirmed = volume_ratio >= multiple * (1 - _EPS)
        fire = (moved & confirmed).to_numpy()

        out = empty_signals(frame.index)
        side = np.where(fire, np.sign(move_pct.fillna(0.0).to_numpy()), 0).astype(np.int64)
        out["side"] = side
        strength = strength_from_scores(excess_score(move_pct.abs() / min_move), excess_score(volume_ratio / multiple))
        out["strength"] = np.where(side != 0, strength, 0.0)
        rows = np.flatnonzero(side)
        out.iloc[rows, out.columns.get_loc("reason")] = [
            _reason(p, move_pct.iat[i], volume_ratio.iat[i], min_move, multiple) for i in rows
        ]
        return out

    def stream(self, symbol: str, timeframe: str, window: int | None = None) -> SignalStream:
        return MomentumSpikeStream(self, symbol, timeframe)


def _reason(p: MomentumSpikeSettings, move_pct: float, volume_ratio: float, min_move: float, multiple: float) -> str:
    return (
        f"price {move_pct:+.2f}% in {p.window} candles (min {min_move:g}%), "
        f"volume {volume_ratio:.1f}x average (min {multiple:g}x)"
    )


class MomentumSpikeStream(SignalStream):
    """`MomentumSpike.generate` one candle at a time: the last `window` + 1 closes and the `volume_window`
    volumes before the newest candle."""

    def __init__(self, strategy: MomentumSpike, symbol: str, timeframe: str):
        super().__init__(strategy, symbol, timeframe)
        p = self.params = strategy.params
        self._closes: deque[float] = deque(maxlen=p.window + 1)
        self._volumes: deque[float] = deque(maxlen=p.volume_window)  # before the newest candle
        self._min_move, self._multiple = float(p.min_move_pct), float(p.volume_multiple)
        self._moved_at, self._confirmed_at = self._min_move * (1 - _EPS), self._multiple * (1 - _EPS)

    def _row(self, candle: Candle) -> SignalRow:
        close, volume = float(candle.close), float(candle.volume)
        closes, volumes = self._closes, self._volumes
        closes.append(close)
        full = len(volumes) == volumes.maxlen
        volume_avg = window_mean(volumes) if full else float("nan")
        volumes.append(volume)
        if not full or len(closes) < (closes.maxlen or 0):
            return NO_SIGNAL
        move_pct = (divide(close, closes[0]) - 1.0) * 100.0
        volume_ratio = volume / volume_avg if volume_avg > 0 else float("nan")
        if not (abs(move_pct) >= self._moved_at and volume_ratio >= self._confirmed_at):
            return NO_SIGNAL
        side = 1 if move_pct > 0 else -1 if move_pct < 0 else 0
        if side == 0:
            return NO_SIGNAL
        strength = strength_of(excess_of(abs(move_pct) / self._min_move), excess_of(volume_ratio / self._multiple))
        return SignalRow(side, strength, _reason(self.params, move_pct, volume_ratio, self._min_move, self._multiple))
