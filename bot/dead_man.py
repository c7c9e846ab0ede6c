"""The dead-man switch: Binance's countdownCancelAll, re-armed while the bot lives.

Each traded symbol's countdown is set to `venue.dead_man_seconds` and set again every third of it; when
the bot dies (SIGKILL, a lost host) the countdown runs out and the venue cancels the symbol's open orders,
so no order that adds risk outlives the bot. A wedged trading loop that holds the engine's lock stops the
re-arming too: a half-dead bot leaves nothing resting either.

It is armed only when the venue is stated to leave algo orders alone (`venue.countdown_keeps_algo_orders`):
the protective stops rest as algo orders, and a countdown that cancelled them would strip a dead bot's
positions of their protection — worse than no switch at all. Entries are market orders, so without the
switch nothing that adds risk rests either; the switch guards against an entry that ever does.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)


def decide(dead_man_seconds: float, keeps_algo_orders: bool, venue: Any) -> tuple[bool, str]:
    """Whether to arm, and the start-up line that says so (empty when the switch was not asked for)."""
    if dead_man_seconds <= 0:
        return False, ""
    if not callable(getattr(venue, "arm_countdown", None)) or getattr(venue, "spot", False):
        return False, "dead-man switch off: this venue has no countdownCancelAll"
    if not keeps_algo_orders:
        return False, ("dead-man switch off: venue.countdown_keeps_algo_orders is false, and a countdown that "
                       "also cancelled the algo (protective) stops would leave a dead bot's positions unprotected")
    return True, (f"dead-man switch armed: countdownCancelAll {dead_man_seconds:g} s per symbol, re-armed every "
                  f"{dead_man_seconds / 3:g} s; the protective stops are algo orders it leaves alone")


class DeadManSwitch:
    """Re-arms every symbol's countdown from a thread of its own until `stop()`."""

    def __init__(self, venue: Any, symbols: Sequence[str], countdown_s: float, lock: Any,
                 on_error: Callable[[str], None] = lambda message: None):
        self.venue = venue
        self.symbols = tuple(symbols)
        self.countdown_ms = int(countdown_s * 1000)
        self.every_s = countdown_s / 3
        self.lock = lock  # the engine's: the venue client is never used by two threads at once
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> bool:
        """One round; False when the lock stayed busy (a wedged loop) or the venue did not answer."""
        if not self.lock.acquire(timeout=self.every_s):
            return False
        try:
            for symbol in self.symbols:
                self.venue.arm_countdown(symbol, self.countdown_ms)
            return True
        except Exception as exc:  # the next round tries again; the countdown still runs meanwhile
            self.on_error(f"dead-man switch not re-armed: {exc}")
            return False
        finally:
            self.lock.release()

    def start(self) -> None:
        self.arm()
        self._thread = threading.Thread(target=self._loop, name="dead-man", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.arm()

    def stop(self) -> None:
        """A graceful stop disarms: the bot cancelled its entries itself, and a countdown left running
        would fire on a bot that is merely restarting."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every_s + 5)
        with self.lock:
            for symbol in self.symbols:
                try:
                    self.venue.arm_countdown(symbol, 0)
                except Exception as exc:
                    log.warning("dead-man switch of %s not disarmed: %s", symbol, exc)
