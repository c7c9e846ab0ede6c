"""EMA cross: the bare rules this engine is compared on against other engines (configs/ema_cross.yaml).

EMA(fast) and EMA(slow) of the close (alpha = 2 / (n + 1), seeded with the first close, as
engine/indicators.py computes every EMA). Long when the difference fast − slow turns positive, short when
it turns negative — where "turns" looks back to the last non-zero difference: a candle with the EMAs
exactly equal neither crosses nor resets, so a touch followed by a return is no signal, and a cross
through a candle of equality is one signal. No filter and no warm-up beyond the first candle (whose
difference is zero by construction): the peers being compared trade from the first crossing too.

Strength is always 1.0: the rules trade every crossing. Which signals open a trade and which only close
one is the config's business (`strategy.entry_sides: long` with `exits.exit_on_reverse_signal`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.indicators import Ema, ema
from models import Candle
from settings import EmaCrossSettings

from .base import NO_SIGNAL, SignalRow, SignalStream, Strategy, empty_signals, register

STRENGTH = 1.0


@register
class EmaCross(Strategy):
    name = "ema_cross"

    def __init__(self, params: EmaCrossSettings | None = None):
        super().__init__(params if params is not None else EmaCrossSettings())

    @property
    def warmup(self) -> int:
        return 1

    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        close = frame["close"].astype(float)
        sign = np.sign((ema(close, p.fast) - ema(close, p.slow)).to_numpy())
        # the sign of the last non-zero difference before each row (NaN before the first one)
        before = pd.Series(np.where(sign != 0, sign, np.nan)).ffill().shift(1).to_numpy()
        side = np.where((sign > 0) & (before < 0), 1, np.where((sign < 0) & (before > 0), -1, 0)).astype(np.int64)

        out = empty_signals(frame.index)
        out["side"] = side
        out["strength"] = np.where(side != 0, STRENGTH, 0.0)
        reasons = {1: _reason(p, 1), -1: _reason(p, -1)}
        rows = np.flatnonzero(side)
        out.iloc[rows, out.columns.get_loc("reason")] = [reasons[int(side[i])] for i in rows]
        return out

    def stream(self, symbol: str, timeframe: str, window: int | None = None) -> SignalStream:
        return EmaCrossStream(self, symbol, timeframe)


def _reason(p: EmaCrossSettings, side: int) -> str:
    return f"EMA{p.fast} crossed {'above' if side > 0 else 'below'} EMA{p.slow}"


class EmaCrossStream(SignalStream):
    """`EmaCross.generate` one candle at a time: two EMAs and the sign of the last non-zero difference."""

    def __init__(self, strategy: EmaCross, symbol: str, timeframe: str):
        super().__init__(strategy, symbol, timeframe)
        p = strategy.params
        self._fast, self._slow = Ema(p.fast), Ema(p.slow)
        self._rows = {1: SignalRow(1, STRENGTH, _reason(p, 1)), -1: SignalRow(-1, STRENGTH, _reason(p, -1))}
        self._last_sign = 0  # none yet

    def _row(self, candle: Candle) -> SignalRow:
        close = float(candle.close)
        diff = self._fast.update(close) - self._slow.update(close)
        sign = 1 if diff > 0 else -1 if diff < 0 else 0
        if sign == 0:
            return NO_SIGNAL
        before, self._last_sign = self._last_sign, sign
        return self._rows[sign] if before == -sign else NO_SIGNAL
