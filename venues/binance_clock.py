"""The venue's clock against ours: measured, applied to every signed request, and a limit on trading.

Binance refuses a signed request whose timestamp is more than recvWindow behind its clock, or ahead of
it (-1021). ccxt signs with `milliseconds() - options['timeDifference']`, so the measured offset goes
there and requests carry the venue's time. A host whose clock is off by more than recvWindow allows is
still wrong about everything else it times (candle ages, stale data), so while that lasts nothing that
adds risk is sent; closes and protective stops still are (their timestamps are corrected).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from errors import ClockSkewError

log = logging.getLogger(__name__)


class ServerClock:
    def __init__(self, venue: str, recv_window_ms: int, *, wall_ms: Callable[[], int] | None = None):
        self.venue = venue
        self.recv_window_ms = recv_window_ms
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self.offset_ms: int | None = None  # venue minus ours
        self.round_trip_ms = 0

    def measure(self, fetch_server_ms: Callable[[], int], exchange: object) -> int:
        """One round trip to the venue's clock; the offset from the round trip's midpoint."""
        before = self._wall_ms()
        server = int(fetch_server_ms())
        after = self._wall_ms()
        self.round_trip_ms = after - before
        self.offset_ms = server - (before + after) // 2
        getattr(exchange, "options")["timeDifference"] = -self.offset_ms
        if not self.within_window():
            log.warning("%s: %s", self.venue, self.describe())
        return self.offset_ms

    def venue_now_ms(self) -> int:
        return self._wall_ms() + (self.offset_ms or 0)

    def within_window(self) -> bool:
        # the midpoint is only known to half the round trip
        return self.offset_ms is not None and abs(self.offset_ms) + self.round_trip_ms // 2 <= self.recv_window_ms

    def describe(self) -> str:
        return (f"this host's clock is {self.offset_ms:+d} ms off the venue's (round trip {self.round_trip_ms} ms); "
                f"recvWindow allows {self.recv_window_ms} ms: fix the clock (NTP) before trading")

    def refuse_if_off(self) -> None:
        if self.offset_ms is None:
            raise ClockSkewError(f"{self.venue}: the venue's clock was never measured; nothing sent")
        if not self.within_window():
            raise ClockSkewError(f"{self.venue}: {self.describe()}; only closes and stops are sent meanwhile")
