"""Bookkeeping of missing candles, shared by every source so gaps look the same whatever the feed.

A feed with a hole must say so instead of papering over it: indicators computed across a hole are
wrong, and the engine (or a human on the dashboard) needs to know why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from marketdata.csvfile import CandleTable


class GapLog:
    """Remembers, per symbol, the last open time seen and records every jump larger than a timeframe."""

    def __init__(self, tf_ms: int):
        self._tf_ms = tf_ms
        self._last: dict[str, int] = {}
        self._gaps: list[dict] = []

    def see(self, symbol: str, open_time_ms: int) -> None:
        last = self._last.get(symbol)
        if last is not None and open_time_ms > last + self._tf_ms:
            self.record(symbol, last + self._tf_ms, open_time_ms - self._tf_ms)
        if last is None or open_time_ms > last:
            self._last[symbol] = open_time_ms

    def record(self, symbol: str, from_ms: int, to_ms: int) -> None:
        """A run of missing candles, open times `from_ms`..`to_ms` inclusive."""
        missing = (to_ms - from_ms) // self._tf_ms + 1
        self._gaps.append({"symbol": symbol, "from_ms": from_ms, "to_ms": to_ms, "missing": missing})

    def last_seen(self, symbol: str) -> int | None:
        return self._last.get(symbol)

    def gaps(self) -> list[dict]:
        return [dict(g) for g in self._gaps]


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of missing candles in a file: open times `from_ms`..`to_ms` inclusive, `missing` of them."""

    from_ms: int
    to_ms: int
    missing: int

    def __str__(self) -> str:
        def utc(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

        return f"{self.missing} candle{'s' if self.missing != 1 else ''} missing, {utc(self.from_ms)} → {utc(self.to_ms)}"


def find_gaps(table: "CandleTable", timeframe_ms: int) -> list[Gap]:
    """Every run of missing `timeframe_ms` candles between consecutive rows of a validated (sorted) table.

    Data, not an error: a backtest reports them with their times and runs on what is there, never on
    invented prices. A step that is not a whole number of timeframes counts the whole candles that fit."""
    if timeframe_ms <= 0:
        raise ValueError(f"timeframe_ms must be positive, got {timeframe_ms}")
    ts = np.asarray(table.ts, dtype=np.int64)
    steps = np.diff(ts)
    holes = np.flatnonzero(steps > timeframe_ms)
    gaps = []
    for i in holes:
        missing = int((steps[i] - 1) // timeframe_ms)
        if missing:
            start = int(ts[i]) + timeframe_ms
            gaps.append(Gap(start, start + (missing - 1) * timeframe_ms, missing))
    return gaps
