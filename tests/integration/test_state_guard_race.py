"""Which losses of Redis end in a halt and exactly one state_lost alert, when the bot and the supervisor notice
them at the same moment or one after the other (real Redis, two guards as the two processes hold them)."""

from __future__ import annotations

import threading
from typing import Callable

import pytest

from clock import SystemClock
from models import HaltCause
from state import StateStore, connect
from state_guard import StateGuard

ROUNDS = 40


def _state_lost_alerts(store: StateStore) -> list[str]:
    return [e.data.get("by", "") for e in store.read_audit(200, kinds=["state"]) if e.data.get("alert") == "state_lost"]


def _assert_halted_state_lost(store: StateStore) -> None:
    halt = store.read_halt()
    assert halt is not None and halt.cause is HaltCause.STATE_LOST, halt


@pytest.fixture
def pair(redis_url, bot_id, tmp_path):
    """The bot's and the supervisor's guards, each on its own connection, both running; the bot's keys
    wiped afterwards."""
    stores = [StateStore(connect(redis_url), bot_id) for _ in range(2)]
    guards = [StateGuard(s, tmp_path, SystemClock(), who=who, holdings="paper account")
              for s, who in zip(stores, ("bot", "supervisor"))]
    for guard in guards:
        guard.open_run()
    yield stores, guards
    stores[0].wipe()


def _restarted_bot(redis_url: str, bot_id: str, marker_dir) -> StateGuard:
    return StateGuard(StateStore(connect(redis_url), bot_id), marker_dir, SystemClock(), who="bot",
                      holdings="paper account")


def _at_once(*calls: Callable[[], str | None]) -> list[str | None]:
    """Each call in its own thread, released together: the two processes looking at the same moment."""
    barrier = threading.Barrier(len(calls))
    answers: list[str | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return answers


@pytest.mark.parametrize("bot_is", ["running", "restarting"])
def test_flush_when_both_processes_look_at_the_same_moment_then_both_halt_on_one_marker_and_one_alert_is_sent(
        pair, redis_url, bot_id, tmp_path, bot_is):
    stores, guards = pair
    alerts_per_loss = []
    for _ in range(ROUNDS):
        stores[0].wipe()  # what a FLUSHALL does to this bot's keys
        bot = guards[0] if bot_is == "running" else _restarted_bot(redis_url, bot_id, tmp_path)

        answers = _at_once(bot.check if bot_is == "running" else bot.open_run, guards[1].check)

        # a restarting bot may find the supervisor's new marker already there (open_run None): it is halted
        # by the flag the supervisor wrote before its marker
        assert answers[1] and (answers[0] or bot_is == "restarting"), answers
        _assert_halted_state_lost(stores[0])
        assert stores[0].read_epoch_marker()[0] == bot.store.epoch == guards[1].store.epoch  # one marker adopted
        alerts_per_loss.append(len(_state_lost_alerts(stores[0])))

    assert alerts_per_loss == [1] * ROUNDS


def test_check_when_redis_comes_back_from_an_older_snapshot_with_an_older_marker_then_halted_and_alerted(
        pair, redis_url, bot_id, tmp_path):
    # Run 1 had marker A; a flush was declared and run 2 got marker B. Redis then restarts from a dump taken
    # in run 1 (an RDB copied back, a replica promoted): the marker is A again and every record is run 1's.
    stores, guards = pair
    older = stores[0].epoch
    stores[0].wipe()
    assert guards[0].check() and guards[1].check()  # run 2 declared (one alert) and adopted by both
    stores[0].wipe()
    stores[0].claim_epoch(older, 0)  # what the older dump holds

    answers = [g.check() for g in guards]

    assert all(answers), answers
    # nobody declared this loss: neither process may take it for another's declaration
    _assert_halted_state_lost(stores[0])
    assert len(_state_lost_alerts(stores[0])) == 1


def test_check_when_a_venue_loss_is_noted_and_the_marker_is_intact_then_one_alert(pair, redis_url, bot_id, tmp_path):
    stores, guards = pair
    stores[0].note_state_lost("the simulated venue's snapshot version went back from 7 to 3")
    assert guards[0].check()
    assert guards[1].check() is None  # the marker is intact: the supervisor has nothing to notice
    _assert_halted_state_lost(stores[0])
    assert _state_lost_alerts(stores[0]) == ["bot"]


def test_check_when_flushed_again_between_the_two_processes_checks_then_each_loss_alerts_once(
        pair, redis_url, bot_id, tmp_path):
    stores, guards = pair
    stores[0].wipe()
    assert guards[0].check()  # the bot declares the first flush
    assert len(_state_lost_alerts(stores[0])) == 1
    stores[0].wipe()  # a second flush before the supervisor looked
    assert guards[1].check()
    assert len(_state_lost_alerts(stores[0])) == 1  # the second loss, in the new Redis
    assert guards[0].check()  # the bot sees the supervisor's marker: declared by another
    assert len(_state_lost_alerts(stores[0])) == 1
    _assert_halted_state_lost(stores[0])


def test_open_run_when_redis_was_restored_from_an_older_dump_while_the_bot_was_down_then_halted_and_alerted(
        pair, redis_url, bot_id, tmp_path):
    stores, guards = pair
    older = stores[0].read_epoch_marker()
    stores[0].wipe()
    guards[0].check()  # a flush declared: a newer run, in the marker file too
    stores[0].wipe()
    stores[0].claim_epoch(older[0], older[1])  # the bot is down; Redis comes back from the first run's dump

    reason = _restarted_bot(redis_url, bot_id, tmp_path).open_run()

    assert reason is not None and "restored from an older copy" in reason
    _assert_halted_state_lost(stores[0])
    assert len(_state_lost_alerts(stores[0])) == 1
    assert stores[0].read_epoch_marker()[0] != older[0]


def test_open_run_when_another_process_declared_a_newer_run_while_the_bot_was_down_then_adopted_quietly(
        pair, redis_url, bot_id, tmp_path):
    stores, guards = pair
    stores[0].wipe()
    assert guards[1].check()  # the supervisor declares while the bot is down: a newer marker, one alert

    restarted = _restarted_bot(redis_url, bot_id, tmp_path)
    assert restarted.open_run() is None
    assert restarted.store.epoch == stores[0].read_epoch_marker()[0]
    assert len(_state_lost_alerts(stores[0])) == 1


def test_check_when_a_venue_loss_was_noted_as_another_process_declared_a_flush_then_both_are_in_the_audit(pair):
    stores, guards = pair
    stores[0].wipe()
    assert guards[1].check()  # the supervisor declares the flush
    stores[0].note_state_lost("the simulated venue's snapshot version went back from 7 to 3")  # the bot, meanwhile

    reason = guards[0].check()

    assert reason is not None and "declared by another process" in reason and "went back from 7 to 3" in reason
    assert any("went back from 7 to 3" in e.message for e in stores[0].read_audit(50, kinds=["state"]))
    assert len(_state_lost_alerts(stores[0])) == 1
