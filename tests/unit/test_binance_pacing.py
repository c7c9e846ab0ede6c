"""429 is waited out as Retry-After says, a 418 ban stops every request until it ends: never hammer into a ban.

The venue here is a function raising what ccxt's binance raises for those answers (DDoSProtection with
the status in its message); time is a hand-moved clock, so nothing sleeps."""

from __future__ import annotations

import ccxt
import pytest

from errors import RateLimitError
from venues.binance_pacing import Pacer, retry_after_s


class Time:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Venue:
    """Answers 429 (with Retry-After) `busy` times, then "ok"; counts what reached it."""

    def __init__(self, busy: int, retry_after: str | None = "1", status: int = 429):
        self.busy, self.retry_after, self.status = busy, retry_after, status
        self.requests = 0
        self.headers: dict[str, str] = {}

    def send(self) -> str:
        self.requests += 1
        if self.requests <= self.busy:
            self.headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            raise ccxt.DDoSProtection(f'binanceusdm {self.status} Too Many Requests {{"code":-1003,"msg":"Too many requests."}}')
        self.headers = {}
        return "ok"


def _pacer(time_: Time, **kw) -> Pacer:
    return Pacer("binance-demo", monotonic=time_.monotonic, sleep=time_.sleep, **kw)


def test_run_when_429_with_retry_after_then_waits_that_long_and_succeeds():
    time_, venue = Time(), Venue(busy=2, retry_after="1")

    assert _pacer(time_).run(venue.send, lambda: venue.headers) == "ok"

    assert venue.requests == 3
    assert time_.slept == [1.0, 1.0]


def test_run_when_429_outlasts_the_retries_then_rate_limit_error_and_nothing_sent_until_retry_after():
    time_, venue = Time(), Venue(busy=10, retry_after="2")
    pacer = _pacer(time_, max_retries=2)

    with pytest.raises(RateLimitError, match="HTTP 429"):
        pacer.run(venue.send, lambda: venue.headers)
    sent = venue.requests
    with pytest.raises(RateLimitError, match="nothing is sent"):
        pacer.run(venue.send, lambda: venue.headers)

    assert sent == 3 and venue.requests == 3  # the cool-down sent nothing: that is what earns a 418
    time_.now += 2.0
    venue.busy = 0
    assert pacer.run(venue.send, lambda: venue.headers) == "ok"


def test_run_when_retry_after_is_longer_than_a_call_may_wait_then_refused_at_once_without_sleeping():
    time_, venue = Time(), Venue(busy=1, retry_after="30")

    with pytest.raises(RateLimitError, match="Retry-After 30"):
        _pacer(time_, max_wait_s=5).run(venue.send, lambda: venue.headers)

    assert time_.slept == [] and venue.requests == 1


def test_run_when_418_then_nothing_is_sent_until_the_ban_ends():
    time_, venue = Time(), Venue(busy=1, retry_after="120", status=418)
    pacer = _pacer(time_)

    with pytest.raises(RateLimitError, match="418"):
        pacer.run(venue.send, lambda: venue.headers)
    time_.now += 119
    with pytest.raises(RateLimitError):
        pacer.run(venue.send, lambda: venue.headers)
    assert venue.requests == 1
    time_.now += 1
    assert pacer.run(venue.send, lambda: venue.headers) == "ok"


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "3"}, 3.0),
    ({"retry-after": "0"}, 0.0),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": "-1"}, None),
    ({}, None),
    (None, None),
])
def test_retry_after_s_when_header_given_then_seconds_or_none(headers, expected):
    assert retry_after_s(headers) == expected
