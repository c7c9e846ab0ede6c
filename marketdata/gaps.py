"""Bookkeeping of missing candles, shared by every source so gaps look the same whatever the feed.

A feed with a hole must say so instead of papering over it: indicators computed across a hole are
wrong, and the engine (or a human on the dashboard) needs to know why.
"""

from __future__ import annotations


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
