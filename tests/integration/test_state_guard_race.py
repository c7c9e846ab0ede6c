"""Which losses of Redis end in a halt and exactly one state_lost alert, when the bot and the supervisor notice
them at the same moment or one after the other (real Redis, two guards as the two processes hold them)."""

from __future__ import annotations

import threading

from clock import SystemClock
from models import HaltCause
from state import StateStore, connect
from state_guard import StateGuard

ROUNDS = 40


def _state_lost_alerts(store: StateStore) -> list[str]:
    return [e.data.get("by", "") for e in store.read_audit(200, kinds=["state"]) if e.data.get("alert") == "state_lost"]


def test_check_when_both_processes_see_the_marker_gone_at_once_then_both_halt_and_one_alert_is_sent(
        redis_url, bot_id, tmp_path):
    stores = [StateStore(connect(redis_url), bot_id) for _ in range(2)]
    guards = [StateGuard(s, tmp_path, SystemClock(), who=who, holdings="paper account")
              for s, who in zip(stores, ("bot", "supervisor"))]
    for guard in guards:
        guard.open_run()
    alerts_per_loss = []
    try:
        for _ in range(ROUNDS):
            stores[0].wipe()  # what a FLUSHALL does to this bot's keys
            barrier = threading.Barrier(2)
            answers: list[str | None] = [None, None]

            def check(i: int) -> None:
                barrier.wait()
                answers[i] = guards[i].check()

            threads = [threading.Thread(target=check, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)

            assert all(answers), answers  # each process knows its state was lost
            halt = stores[0].read_halt()
            assert halt is not None and halt.cause is HaltCause.STATE_LOST
            assert stores[0].read_epoch() == guards[0].store.epoch == guards[1].store.epoch  # one marker adopted
            alerts_per_loss.append(len(_state_lost_alerts(stores[0])))
    finally:
        stores[0].wipe()

    assert alerts_per_loss == [1] * ROUNDS


def _guards(redis_url: str, bot_id: str, marker_dir) -> tuple[list[StateStore], list[StateGuard]]:
    stores = [StateStore(connect(redis_url), bot_id) for _ in range(2)]
    guards = [StateGuard(s, marker_dir, SystemClock(), who=who, holdings="paper account")
              for s, who in zip(stores, ("bot", "supervisor"))]
    for guard in guards:
        guard.open_run()
    return stores, guards


def test_check_when_redis_comes_back_from_an_older_snapshot_with_an_older_marker_then_halted_and_alerted(
        redis_url, bot_id, tmp_path):
    # Run 1 had marker A; a flush was declared and run 2 got marker B. Redis then restarts from a dump taken
    # in run 1 (an RDB copied back, a replica promoted): the marker is A again and every record is run 1's.
    stores, guards = _guards(redis_url, bot_id, tmp_path)
    try:
        older = stores[0].epoch
        stores[0].wipe()
        assert guards[0].check() and guards[1].check()  # run 2 declared (one alert) and adopted by both
        stores[0].wipe()
        stores[0].claim_epoch(older, 0)  # what the older dump holds

        answers = [g.check() for g in guards]

        assert all(answers), answers
        halt = stores[0].read_halt()
        # nobody declared this loss: neither process may take it for another's declaration
        assert halt is not None and halt.cause is HaltCause.STATE_LOST, halt
        assert len(_state_lost_alerts(stores[0])) == 1
    finally:
        stores[0].wipe()


def test_check_when_a_venue_loss_is_noted_and_the_marker_is_intact_then_one_alert(redis_url, bot_id, tmp_path):
    stores, guards = _guards(redis_url, bot_id, tmp_path)
    try:
        stores[0].note_state_lost("the simulated venue's snapshot version went back from 7 to 3")
        assert guards[0].check()
        assert guards[1].check() is None  # the marker is intact: the supervisor has nothing to notice
        halt = stores[0].read_halt()
        assert halt is not None and halt.cause is HaltCause.STATE_LOST
        assert _state_lost_alerts(stores[0]) == ["bot"]
    finally:
        stores[0].wipe()


def test_check_when_flushed_again_between_the_two_processes_checks_then_each_loss_alerts_once(
        redis_url, bot_id, tmp_path):
    stores, guards = _guards(redis_url, bot_id, tmp_path)
    try:
        stores[0].wipe()
        assert guards[0].check()  # the bot declares the first flush
        assert len(_state_lost_alerts(stores[0])) == 1
        stores[0].wipe()  # a second flush before the supervisor looked
        assert guards[1].check()
        assert len(_state_lost_alerts(stores[0])) == 1  # the second loss, in the new Redis
        assert guards[0].check()  # the bot sees the supervisor's marker: declared by another
        assert len(_state_lost_alerts(stores[0])) == 1
        halt = stores[0].read_halt()
        assert halt is not None and halt.cause is HaltCause.STATE_LOST
    finally:
        stores[0].wipe()


def test_open_run_when_racing_a_running_processs_check_on_a_flushed_redis_then_both_halt_and_one_alert(
        redis_url, bot_id, tmp_path):
    stores, guards = _guards(redis_url, bot_id, tmp_path)
    per_round = []
    try:
        for _ in range(ROUNDS):
            stores[0].wipe()
            starting = StateGuard(StateStore(connect(redis_url), bot_id), tmp_path, SystemClock(), who="bot",
                                  holdings="paper account")  # the bot restarted by the supervisor
            barrier = threading.Barrier(2)
            answers: list = [None, None]

            def run(i: int) -> None:
                barrier.wait()
                answers[i] = starting.open_run() if i == 0 else guards[1].check()

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            # the starting bot may find the supervisor's new marker already there (open_run None): it is halted
            # by the flag the supervisor wrote before its marker
            assert answers[1], answers
            halt = stores[0].read_halt()
            assert halt is not None and halt.cause is HaltCause.STATE_LOST
            assert stores[0].read_epoch() == starting.store.epoch == guards[1].store.epoch
            per_round.append(len(_state_lost_alerts(stores[0])))
    finally:
        stores[0].wipe()
    assert per_round == [1] * ROUNDS


def _restarted_bot(redis_url: str, bot_id: str, marker_dir) -> StateGuard:
    return StateGuard(StateStore(connect(redis_url), bot_id), marker_dir, SystemClock(), who="bot",
                      holdings="paper account")


def test_open_run_when_redis_was_restored_from_an_older_dump_while_the_bot_was_down_then_halted_and_alerted(
        redis_url, bot_id, tmp_path):
    stores, guards = _guards(redis_url, bot_id, tmp_path)
    try:
        older = stores[0].read_epoch_marker()
        stores[0].wipe()
        guards[0].check()  # a flush declared: a newer run, in the marker file too
        stores[0].wipe()
        stores[0].claim_epoch(older[0], older[1])  # the bot is down; Redis comes back from the first run's dump

        reason = _restarted_bot(redis_url, bot_id, tmp_path).open_run()

        assert reason is not None and "restored from an older copy" in reason
        halt = stores[0].read_halt()
        assert halt is not None and halt.cause is HaltCause.STATE_LOST
        assert len(_state_lost_alerts(stores[0])) == 1
        assert stores[0].read_epoch() != older[0]
    finally:
        stores[0].wipe()


def test_open_run_when_another_process_declared_a_newer_run_while_the_bot_was_down_then_adopted_quietly(
        redis_url, bot_id, tmp_path):
    stores, guards = _guards(redis_url, bot_id, tmp_path)
    try:
        stores[0].wipe()
        assert guards[1].check()  # the supervisor declares while the bot is down: a newer marker, one alert

        restarted = _restarted_bot(redis_url, bot_id, tmp_path)
        assert restarted.open_run() is None
        assert restarted.store.epoch == stores[0].read_epoch()
        assert len(_state_lost_alerts(stores[0])) == 1
    finally:
        stores[0].wipe()
