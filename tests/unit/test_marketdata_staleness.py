"""FeedWatch: a price is stale once its age reaches the limit."""

import pytest

from clock import SimulatedClock
from errors import StaleDataError
from marketdata.staleness import FeedWatch

LIMIT_S = 120
T0 = 1_750_000_000_000


@pytest.mark.parametrize(
    "age_ms, stale",
    [
        (0, False),
        (LIMIT_S * 1000 - 1, False),
        (LIMIT_S * 1000, True),
        (LIMIT_S * 1000 + 1, True),
    ],
)
def test_is_stale_when_age_around_the_limit_then_stale_from_the_limit_on(age_ms, stale):
    clock = SimulatedClock(T0)
    watch = FeedWatch(LIMIT_S, clock)
    watch.observe("BTC/USDT:USDT", T0)

    clock.advance(age_ms)

    assert watch.is_stale("BTC/USDT:USDT") is stale
    assert watch.age_s("BTC/USDT:USDT") == age_ms / 1000


def test_is_stale_when_never_observed_then_stale_with_no_age():
    watch = FeedWatch(LIMIT_S, SimulatedClock(T0))

    assert watch.is_stale("ETH/USDT:USDT") and watch.age_s("ETH/USDT:USDT") is None


def test_observe_when_older_than_seen_then_ignored():
    clock = SimulatedClock(T0)
    watch = FeedWatch(LIMIT_S, clock)
    watch.observe("BTC/USDT:USDT", T0)

    watch.observe("BTC/USDT:USDT", T0 - 500_000)

    assert not watch.is_stale("BTC/USDT:USDT")


def test_age_when_observation_is_ahead_of_the_clock_then_zero():
    watch = FeedWatch(LIMIT_S, SimulatedClock(T0))
    watch.observe("BTC/USDT:USDT", T0 + 5_000)

    assert watch.age_s("BTC/USDT:USDT") == 0 and not watch.is_stale("BTC/USDT:USDT")


def test_stale_symbols_when_one_feed_freezes_then_only_that_one_listed():
    clock = SimulatedClock(T0)
    watch = FeedWatch(LIMIT_S, clock)
    watch.observe("BTC/USDT:USDT", T0)
    clock.advance(100_000)
    watch.observe("ETH/USDT:USDT", clock.now_ms())
    clock.advance(30_000)

    assert watch.stale_symbols() == ["BTC/USDT:USDT"]
    assert watch.stale_symbols(["SOL/USDT:USDT", "ETH/USDT:USDT"]) == ["SOL/USDT:USDT"]


def test_check_when_stale_then_raises_with_age_and_limit():
    clock = SimulatedClock(T0)
    watch = FeedWatch(LIMIT_S, clock)
    watch.observe("BTC/USDT:USDT", T0)
    clock.advance(150_000)

    with pytest.raises(StaleDataError, match=r"BTC/USDT:USDT: last price is 150 s old \(limit 120 s\)"):
        watch.check("BTC/USDT:USDT")


def test_check_when_fresh_then_silent():
    clock = SimulatedClock(T0)
    watch = FeedWatch(LIMIT_S, clock)
    watch.observe("BTC/USDT:USDT", T0)

    watch.check("BTC/USDT:USDT")


@pytest.mark.parametrize("limit", [0, -1])
def test_feedwatch_when_limit_not_positive_then_refused(limit):
    with pytest.raises(ValueError):
        FeedWatch(limit, SimulatedClock(T0))
