"""Injected time. Every component takes a `Clock`; replay, backtests and tests run on simulated time.

All times are UTC epoch milliseconds.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class SimulatedClock:
    """Time that moves only when told to: replay, backtests, tests."""

    def __init__(self, start_ms: int = 0):
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def set(self, ts_ms: int) -> None:
        with self._lock:
            if ts_ms < self._now:
                raise ValueError(f"simulated time cannot go back: {ts_ms} < {self._now}")
            self._now = ts_ms

    def advance(self, ms: int) -> None:
        with self._lock:
            self._now += ms
