"""The go-live evidence is read again in the background: the page shows the last answer at once, never
waits for the read after the first one, and keeps the last answer when a read fails."""

from __future__ import annotations

import threading
import time

import pytest

from ui.refreshing import Refreshing


class SlowRead:
    """A read that answers only when the test lets it (as 100,000 signal entries take seconds)."""

    def __init__(self):
        self.calls = 0
        self.release = threading.Event()
        self.answered = threading.Event()
        self.fail = False

    def __call__(self) -> int:
        self.calls += 1
        if self.calls > 1:
            assert self.release.wait(10), "never released"
        self.answered.set()
        if self.fail:
            raise RuntimeError("Redis went away")
        return self.calls


def test_get_when_the_answer_is_stale_then_the_old_one_is_shown_at_once_and_the_new_one_after_the_read():
    cache: Refreshing[int] = Refreshing(ttl_s=0)
    read = SlowRead()
    assert cache.get("bot", read) == 1  # the first read is made in the caller's run

    assert cache.get("bot", read) == 1  # stale: shown while a thread reads again (it waits for release)
    assert cache.get("bot", read) == 1 and read.calls == 2  # one read in flight per key, not one per call
    read.release.set()
    assert read.answered.wait(10)
    deadline = time.monotonic() + 10  # the thread stores its answer right after it answered
    while cache.get("bot", read) == 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get("bot", read) >= 2
    assert cache.get("other", lambda: 99) == 99  # keys are apart


def test_get_when_a_background_read_fails_then_the_last_answer_stays():
    cache: Refreshing[int] = Refreshing(ttl_s=0)
    read = SlowRead()
    cache.get("bot", read)
    read.fail = True
    read.release.set()

    assert cache.get("bot", read) == 1
    assert read.answered.wait(10)
    assert cache.get("bot", read) == 1


def test_get_when_the_first_read_fails_then_the_error_reaches_the_caller_and_nothing_is_kept():
    cache: Refreshing[int] = Refreshing(ttl_s=60)

    def broken() -> int:
        raise ConnectionError("no Redis")

    with pytest.raises(ConnectionError):
        cache.get("bot", broken)
    assert cache.get("bot", lambda: 7) == 7


def test_clear_when_an_answer_is_known_then_the_next_get_reads_in_the_callers_run():
    cache: Refreshing[int] = Refreshing(ttl_s=60)
    cache.get("bot", lambda: 1)
    assert cache.get("bot", lambda: 2) == 1  # fresh: not read again

    cache.clear("bot")

    assert cache.get("bot", lambda: 3) == 3


def test_clear_when_a_background_read_is_in_flight_then_its_older_answer_is_dropped():
    cache: Refreshing[int] = Refreshing(ttl_s=0)
    read = SlowRead()
    cache.get("bot", read)
    assert cache.get("bot", read) == 1  # a background read starts and waits (an approval is recorded meanwhile)

    cache.clear("bot")
    assert cache.get("bot", lambda: 42) == 42  # read in the caller's run, after the approval
    read.release.set()
    assert read.answered.wait(10)

    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # the old read's answer (2) must never replace the newer one
        assert cache.get("bot", lambda: 42) in (42,)
        time.sleep(0.02)


def test_age_when_a_background_read_fails_then_it_says_how_old_the_answer_is_and_why_until_a_read_succeeds():
    cache: Refreshing[int] = Refreshing(ttl_s=0)
    read = SlowRead()
    assert cache.age("bot") is None  # nothing read yet
    cache.get("bot", read)
    first_age, failure = cache.age("bot")
    assert 0 <= first_age < 5 and failure is None

    read.fail = True
    read.release.set()
    cache.get("bot", read)
    deadline = time.monotonic() + 10  # the failure is noted right after the read answered
    while cache.age("bot")[1] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    age_s, failure = cache.age("bot")
    assert failure == "RuntimeError: Redis went away" and age_s >= first_age

    read.fail = False
    cache.get("bot", read)
    while cache.age("bot")[1] is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.age("bot")[1] is None and cache.get("bot", read) >= 3


def test_age_when_a_read_begun_before_clear_fails_then_the_fresh_answer_has_no_failure():
    cache: Refreshing[str] = Refreshing(ttl_s=0)
    cache.get("bot", lambda: "old")
    release, started, failed = threading.Event(), threading.Event(), threading.Event()

    def failing_read() -> str:
        started.set()
        assert release.wait(10), "never released"
        failed.set()
        raise RuntimeError("Redis went away")

    assert cache.get("bot", failing_read) == "old"  # stale: read again in the background
    assert started.wait(10)
    cache.clear("bot")  # an approval was just recorded (ui/live_offer.forget)
    assert cache.get("bot", lambda: "fresh") == "fresh"  # read in the page's run, after the clear
    release.set()
    assert failed.wait(10)
    deadline = time.monotonic() + 10  # the failing thread finishes right after it raised
    while any(t.name == "refresh-bot" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)

    assert cache.age("bot")[1] is None  # that failure was about an answer no longer shown
