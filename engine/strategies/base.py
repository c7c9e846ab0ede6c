"""What a strategy is, and the registry that finds them.

A strategy looks at a frame of candles and says, for every candle, whether to enter at its close:
`generate` is vectorised over the whole frame, so a backtest or ghost replay scores a month of candles
in one call, and the live loop asks `latest_signal` for the newest closed candle only, which runs the
same `generate` over the engine's bounded window of recent candles. The indicators are causal, so the
live decision equals `generate` over the same candles exactly.

Adding a strategy is one new file in this package: subclass `Strategy`, set `name`, decorate the class
with `@register`. The package imports every module in it at start-up, so the engine never needs to
know the new name; `strategy.enabled` in config.yaml switches it on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from models import Candle, Side, Signal, timeframe_ms

# Columns of a candle frame, in order, and of a signal frame.
FRAME_COLUMNS = ("open_time_ms", "open", "high", "low", "close", "volume")
SIGNAL_COLUMNS = ("side", "strength", "reason")

# Strength of a signal that only just meets its thresholds; it rises linearly to 1.0 as the signal
# goes further past them (see `excess_score`). A floor above zero keeps every real signal visible to
# an "aggressive" min_confidence of 0 while leaving room for cautious levels to filter.
STRENGTH_FLOOR = 0.25


STRATEGIES: dict[str, type["Strategy"]] = {}


def register(cls: type["Strategy"]) -> type["Strategy"]:
    """Class decorator: make a strategy selectable by its `name` in `strategy.enabled`."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} must set a non-empty class attribute `name`")
    existing = STRATEGIES.get(name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"strategy name '{name}' is taken by {existing.__module__}.{existing.__qualname__}")
    STRATEGIES[name] = cls
    return cls


def candles_to_frame(candles: Sequence[Candle]) -> pd.DataFrame:
    """Candles → DataFrame with open_time_ms (int64) and float64 open/high/low/close/volume."""
    n = len(candles)
    frame = pd.DataFrame(
        {
            "open_time_ms": np.fromiter((c.open_time_ms for c in candles), dtype=np.int64, count=n),
            "open": np.fromiter((c.open for c in candles), dtype=np.float64, count=n),
            "high": np.fromiter((c.high for c in candles), dtype=np.float64, count=n),
            "low": np.fromiter((c.low for c in candles), dtype=np.float64, count=n),
            "close": np.fromiter((c.close for c in candles), dtype=np.float64, count=n),
            "volume": np.fromiter((c.volume for c in candles), dtype=np.float64, count=n),
        }
    )
    return frame


def excess_score(ratio: pd.Series | np.ndarray, full_at: float = 2.0) -> np.ndarray:
    """How far past a threshold, in 0..1: 0 at the threshold (ratio 1), 1 at `full_at` × the threshold.

    Linear in between, clipped outside; NaN counts as 0.
    """
    score = (np.asarray(ratio, dtype=float) - 1.0) / (full_at - 1.0)
    return np.nan_to_num(np.clip(score, 0.0, 1.0), nan=0.0)


def strength_from_scores(*scores: np.ndarray) -> np.ndarray:
    """STRENGTH_FLOOR + (1 - STRENGTH_FLOOR) × the mean of the 0..1 scores."""
    mean = np.mean(np.vstack([np.asarray(s, dtype=float) for s in scores]), axis=0)
    return STRENGTH_FLOOR + (1.0 - STRENGTH_FLOOR) * mean


def empty_signals(index: pd.Index) -> pd.DataFrame:
    """A signal frame with no signals: side 0, strength 0.0, reason ''."""
    return pd.DataFrame(
        {
            "side": np.zeros(len(index), dtype=np.int64),
            "strength": np.zeros(len(index), dtype=np.float64),
            "reason": pd.Series([""] * len(index), index=index, dtype=object),
        },
        index=index,
    )


class Strategy(ABC):
    """A signal generator. Subclasses set `name`, `warmup` and `generate`; nothing else.

    `params` is the strategy's section of `strategy` in config.yaml, or None for the defaults (a user
    strategy with no section of its own always gets None).
    """

    name: ClassVar[str]

    def __init__(self, params: Any = None):
        self.params = params

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Candles needed before a signal can be trusted."""

    @abstractmethod
    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """For every row of a candle frame: side (+1/-1/0), strength (0..1), reason (text).

        A non-zero side means: at the close of this candle, enter. Must be vectorised and must return
        a frame with the same index as `frame`.
        """

    def latest_signal(self, symbol: str, timeframe: str, candles: Sequence[Candle]) -> Signal | None:
        """The signal at the close of the last candle in `candles` (which must all be closed), or None.

        Computed over every candle given (the engine passes a bounded window): the indicators are causal,
        so this equals `generate` over the same candles at the last row exactly — a recursive indicator
        (EMA, Wilder RSI/ATR) seeded on a shorter tail could otherwise decide differently near a threshold."""
        if len(candles) < self.warmup:
            return None
        row = self.generate(candles_to_frame(candles)).iloc[-1]
        side = int(row["side"])
        if side == 0:
            return None
        last = candles[-1]
        return Signal(
            symbol=symbol,
            side=Side.LONG if side > 0 else Side.SHORT,
            strength=float(min(1.0, max(0.0, row["strength"]))),
            price=Decimal(last.close),
            ts_ms=last.open_time_ms + timeframe_ms(timeframe),
            strategy=self.name,
            reason=str(row["reason"]),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"
