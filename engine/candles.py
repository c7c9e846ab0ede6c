"""Candle windows per symbol, and resampling to a higher timeframe for structure stops."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Iterable, Sequence

from models import Candle, close_time_ms, timeframe_ms  # noqa: F401  (close_time_ms: re-exported)



class CandleWindow:
    """The most recent closed candles of one symbol; bounded, so work per candle stays bounded."""

    def __init__(self, size: int):
        self._candles: deque[Candle] = deque(maxlen=size)

    def extend(self, candles: Iterable[Candle]) -> None:
        for c in candles:
            self.append(c)

    def append(self, candle: Candle) -> bool:
        """False (and ignored) when the candle is not newer than the last one: no double counting."""
        if self._candles and candle.open_time_ms <= self._candles[-1].open_time_ms:
            return False
        self._candles.append(candle)
        return True

    def candles(self) -> list[Candle]:
        return list(self._candles)

    def __len__(self) -> int:
        return len(self._candles)

    @property
    def last(self) -> Candle | None:
        return self._candles[-1] if self._candles else None

    def volume_average(self, window: int) -> Decimal:
        """Average volume of the `window` candles before the last one (the last is what is judged)."""
        # from the right end only: asked on every candle of an open trade, and copying the whole window
        # each time cost more than the average
        candles = self._candles
        if window >= 0:
            previous = [candles[i] for i in range(max(-len(candles), -window - 1), -1)]
        else:
            previous = list(candles)[-window - 1 : -1]
        if not previous:
            return Decimal("0")
        return sum((c.volume for c in previous), Decimal("0")) / len(previous)


def resample(candles: Sequence[Candle], timeframe: str) -> list[Candle]:
    """Closed higher-timeframe candles built from lower-timeframe ones (incomplete buckets dropped)."""
    if not candles:
        return []
    size = timeframe_ms(timeframe)
    step = timeframe_ms(candles[0].timeframe)
    per_bucket = size // step
    buckets: dict[int, list[Candle]] = {}
    for c in candles:
        buckets.setdefault(c.open_time_ms - c.open_time_ms % size, []).append(c)
    out = []
    for start in sorted(buckets):
        group = buckets[start]
        if len(group) < per_bucket:
            continue
        out.append(
            Candle(
                symbol=group[0].symbol,
                timeframe=timeframe,
                open_time_ms=start,
                open=group[0].open,
                high=max(c.high for c in group),
                low=min(c.low for c in group),
                close=group[-1].close,
                volume=sum((c.volume for c in group), Decimal("0")),
            )
        )
    return out
