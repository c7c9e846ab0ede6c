"""The order-failure circuit breaker: after N consecutive order failures the bot stops adding risk.

A venue that rejects or loses every order is not a venue to keep trading on: 24 failed entries, 35
protective orders not placed and 15 failed closes in a row used to change nothing. Any order that
reaches a definite outcome resets the count; a failure is an order whose outcome is a rejection or
still unknown after its retries, or a venue error in the candle path. Pure: the caller decides what
tripping means (the engine halts through control.trading_state with cause CIRCUIT_BREAKER).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class OrderFailureBreaker:
    max_consecutive: int
    on_trip: Callable[[str], None] = lambda summary: None
    consecutive: int = 0
    tripped: bool = False
    recent: deque = field(default_factory=lambda: deque(maxlen=5))

    def __post_init__(self) -> None:
        if self.max_consecutive < 1:
            raise ValueError(f"max_consecutive must be at least 1, not {self.max_consecutive}")

    def success(self) -> None:
        self.consecutive = 0

    def failure(self, what: str) -> bool:
        """Count one failure; True when this one trips the breaker (once, until `reset`)."""
        self.consecutive += 1
        self.recent.append(what)
        if self.tripped or self.consecutive < self.max_consecutive:
            return False
        self.tripped = True
        self.on_trip(f"{self.consecutive} consecutive order failures; last: " + " | ".join(self.recent))
        return True

    def reset(self) -> None:
        """An operator resumed: count again from zero."""
        self.consecutive = 0
        self.tripped = False
        self.recent.clear()
