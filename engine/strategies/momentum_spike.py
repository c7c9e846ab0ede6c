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

from settings import MomentumSpikeSettings

from .base import Strategy, empty_signals, excess_score, register, strength_from_scores

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
        volume_avg = volume.shift(1).rolling(p.volume_window, min_periods=p.volume_window).mean()
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
            f"price {move_pct.iat[i]:+.2f}% in {p.window} candles (min {min_move:g}%), "
            f"volume {volume_ratio.iat[i]:.1f}x average (min {multiple:g}x)"
            for i in rows
        ]
        return out
