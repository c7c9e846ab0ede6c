"""How hard we may push Binance: a 429 is waited out as its Retry-After says, a 418 ban stops every request.

Binance answers too many requests with 429 and a Retry-After (seconds); a client that keeps sending
after a 429 is banned with 418 for minutes to days. So after a 429 we wait what it asks (bounded: a
longer wait is not done inside a call, it is refused until then, so the trading loop stays responsive)
and send again at most `max_retries` times; nothing at all goes out while a cool-down or a ban runs.
A 429 means the request was not processed, so sending the same order again is safe.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, TypeVar

from errors import RateLimitError

T = TypeVar("T")


def _status(exc: BaseException) -> int | None:
    """ccxt's binance raises DDoSProtection("binanceusdm 418 I'm a teapot {body}") for both codes."""
    words = str(exc).split()
    for word in words[:3]:
        if word in ("418", "429"):
            return int(word)
    return None


def retry_after_s(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


class Pacer:
    def __init__(self, venue: str, *, max_wait_s: float = 5.0, max_retries: int = 3, ban_s: float = 120.0,
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.venue = venue
        self.max_wait_s = max_wait_s  # the longest Retry-After waited out inside one call
        self.max_retries = max_retries
        self.ban_s = ban_s  # a 418 without Retry-After: Binance's shortest ban is 2 minutes
        self._monotonic = monotonic
        self._sleep = sleep
        self._quiet_until = 0.0
        self._quiet_reason = ""

    def run(self, send: Callable[[], T], headers: Callable[[], Mapping[str, Any] | None]) -> T:
        """`send()` once, or again after each 429 it waited out; RateLimitError while told to keep quiet."""
        import ccxt

        for attempt in range(self.max_retries + 1):
            self._refuse_while_quiet()
            try:
                return send()
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                status = _status(exc)
                if status not in (418, 429):
                    raise  # another throttle message (-1003 in a 400 body): mapped as it is
                wait = retry_after_s(headers())
                if status == 418:
                    self._keep_quiet(wait if wait is not None else self.ban_s, "banned us (HTTP 418)")
                    raise RateLimitError(f"{self.venue} banned this IP for sending after a 429 (HTTP 418); "
                                         f"nothing is sent for {self._remaining():.0f} s") from None
                wait = wait if wait is not None else min(self.max_wait_s, 0.5 * 2**attempt)
                if wait > self.max_wait_s or attempt == self.max_retries:
                    self._keep_quiet(wait, "asked us to slow down (HTTP 429)")
                    raise RateLimitError(f"{self.venue} asked us to slow down (HTTP 429, Retry-After {wait:g} s); "
                                         f"nothing is sent for {self._remaining():.1f} s") from None
                self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _keep_quiet(self, seconds: float, reason: str) -> None:
        self._quiet_until = max(self._quiet_until, self._monotonic() + seconds)
        self._quiet_reason = reason

    def _remaining(self) -> float:
        return max(0.0, self._quiet_until - self._monotonic())

    def _refuse_while_quiet(self) -> None:
        if self._remaining() > 0:
            raise RateLimitError(f"{self.venue} {self._quiet_reason}: nothing is sent for "
                                 f"{self._remaining():.1f} s more")
