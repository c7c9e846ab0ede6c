"""The bot and the supervisor both notice a flushed Redis at the same moment: both halt, one alert (real Redis)."""

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
