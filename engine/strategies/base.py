"""What a strategy is, and the registry that finds them.

A strategy looks at a frame of candles and says, for every candle, whether to enter at its close, in
two forms that decide the same:
- `generate` is vectorised over a whole frame, so a backtest or ghost replay scores a month of candles
  in one call;
- `stream(symbol, timeframe)` is the live form: a `SignalStream` that takes one closed candle at a time
  and holds only its indicators' state, so a candle costs microseconds instead of a `generate` over a
  window. Its decision at every candle equals `generate` over every candle it was fed, at that row: the
  same side, and the same strength and reason (the streaming indicators in engine/indicators.py repeat
  the vectorised arithmetic operation for operation, so nothing near a threshold can flip).
A strategy without a streaming form of its own gets `RecomputingStream`, which runs `generate` over a
bounded window of recent candles on every candle (`latest_signal`), as the engine did before.

Adding a strategy is one new file in this package: subclass `Strategy`, set `name`, decorate the class
with `@register` (and, for speed, give it a `stream` in the same file). The package imports every module
in it at start-up, so the engine never needs to know the new name; `strategy.enabled` in config.yaml
switches it on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple, Sequence

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


def excess_of(ratio: float, full_at: float = 2.0) -> float:
    """`excess_score` of one value, with the same operations."""
    score = (ratio - 1.0) / (full_at - 1.0)
    if score != score:
        return 0.0
    return min(max(score, 0.0), 1.0)


def strength_of(a: float, b: float) -> float:
    """`strength_from_scores` of two scores, with the same operations (numpy's mean of two rows is (a + b) / 2)."""
    return STRENGTH_FLOOR + (1.0 - STRENGTH_FLOOR) * ((a + b) / 2)


def divide(a: float, b: float) -> float:
    """a / b as numpy divides floats: ±inf or NaN for a zero divisor instead of ZeroDivisionError."""
    if b:
        return a / b
    if a != a or a == 0:
        return float("nan")
    return math.copysign(float("inf"), a) * math.copysign(1.0, b)


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
    """A signal generator. Subclasses set `name`, `warmup` and `generate`, and may give `stream` a
    streaming form that decides as `generate` does.

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

    def stream(self, symbol: str, timeframe: str, window: int | None = None) -> "SignalStream":
        """This strategy's decisions for one symbol, one closed candle at a time.

        The default recomputes `generate` over the last `window` candles on every candle (None: twice
        `warmup`, at least 300); a strategy with a streaming form returns its own and ignores `window`."""
        size = window if window is not None else max(2 * self.warmup, 300)
        return RecomputingStream(self, symbol, timeframe, size)

    def latest_signal(self, symbol: str, timeframe: str, candles: Sequence[Candle]) -> Signal | None:
        """The signal at the close of the last candle in `candles` (which must all be closed), or None.

        `generate` over every candle given, at the last row; None with fewer than `warmup` candles."""
        if len(candles) < self.warmup:
            return None
        return signal_from(self.name, symbol, timeframe, candles[-1], row_of(self.generate(candles_to_frame(candles))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


class SignalRow(NamedTuple):
    """One row of a signal frame: what `generate` says about one candle."""

    side: int
    strength: float
    reason: str


NO_SIGNAL = SignalRow(0, 0.0, "")


def row_of(signals: pd.DataFrame, i: int = -1) -> SignalRow:
    row = signals.iloc[i]
    return SignalRow(int(row["side"]), float(row["strength"]), str(row["reason"]))


def signal_from(strategy: str, symbol: str, timeframe: str, candle: Candle, row: SignalRow) -> Signal | None:
    """The Signal a row means at the close of `candle`, or None when its side is 0."""
    if row.side == 0:
        return None
    return Signal(
        symbol=symbol,
        side=Side.LONG if row.side > 0 else Side.SHORT,
        strength=float(min(1.0, max(0.0, row.strength))),
        price=Decimal(candle.close),
        ts_ms=candle.open_time_ms + timeframe_ms(timeframe),
        strategy=strategy,
        reason=row.reason,
    )


class SignalStream(ABC):
    """One strategy's decisions for one symbol, fed every closed candle in time order.

    `step` gives the row `generate` would give the candle over every candle fed so far; `update` turns it
    into a Signal, None before `warmup` candles were fed (as `latest_signal`); `warm` feeds history without
    deciding. A candle that is not newer than the last one fed is ignored (and changes nothing): a feed
    may repeat its newest candle."""

    def __init__(self, strategy: Strategy, symbol: str, timeframe: str):
        self.strategy = strategy
        self.symbol = symbol
        self.timeframe = timeframe
        self.fed = 0
        self._warmup = strategy.warmup
        self._last_open_ms: int | None = None

    def _accept(self, candle: Candle) -> bool:
        if self._last_open_ms is not None and candle.open_time_ms <= self._last_open_ms:
            return False
        self._last_open_ms = candle.open_time_ms
        self.fed += 1
        return True

    def step(self, candle: Candle) -> SignalRow | None:
        """Feed one candle; its row (None when the candle was ignored)."""
        return self._row(candle) if self._accept(candle) else None

    def warm(self, candle: Candle) -> None:
        """Feed one candle of history: no decision is asked for."""
        if self._accept(candle):
            self._advance(candle)

    def update(self, candle: Candle) -> Signal | None:
        """Feed one candle; the signal at its close, or None."""
        if not self._accept(candle):
            return None
        if self.fed < self._warmup:
            self._advance(candle)
            return None
        return signal_from(self.strategy.name, self.symbol, self.timeframe, candle, self._row(candle))

    @abstractmethod
    def _row(self, candle: Candle) -> SignalRow:
        """Advance the state by `candle` and say what `generate` says about it."""

    def _advance(self, candle: Candle) -> None:
        self._row(candle)


class RecomputingStream(SignalStream):
    """The fallback for a strategy without a streaming form: `generate` over the last `size` candles.

    Equal to `generate` over the whole history only while fewer than `size` candles were fed, or for
    strategies whose indicators forget faster than `size` candles (which `warmup` should promise)."""

    def __init__(self, strategy: Strategy, symbol: str, timeframe: str, size: int):
        super().__init__(strategy, symbol, timeframe)
        self._candles: deque[Candle] = deque(maxlen=size)

    def _row(self, candle: Candle) -> SignalRow:
        self._candles.append(candle)
        return row_of(self.strategy.generate(candles_to_frame(self._candles)))

    def _advance(self, candle: Candle) -> None:
        self._candles.append(candle)

    def update(self, candle: Candle) -> Signal | None:
        if not self._accept(candle):
            return None
        self._candles.append(candle)
        return self.strategy.latest_signal(self.symbol, self.timeframe, list(self._candles))
