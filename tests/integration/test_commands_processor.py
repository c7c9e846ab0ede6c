"""The command reader under hostile input, against a real Redis: junk is cheap, the kill switch goes
first, and the decision log keeps its real decisions."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from clock import SimulatedClock, SystemClock
from control.processor import BATCH, CommandProcessor
from models import AuditEvent, Command, CommandStatus, CommandType
from state import COMMAND_MAX_AGE_S, StateStore, connect


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def command_fields(command_type: CommandType, args: dict | None = None, command_id: str | None = None) -> dict[str, str]:
    return {"command_id": command_id or uuid.uuid4().hex, "type": command_type.value, "issued_at_ms": str(now_ms()),
            "issued_by": "test", "args": json.dumps(args or {})}


def deep_nested(cid: str) -> dict[str, str]:
    return command_fields(CommandType.CLOSE, command_id=cid) | {"args": "[" * 3000 + "]" * 3000}


def junk(i: int) -> dict[str, str]:
    kinds = [
        {"command_id": f"j{i}", "type": "liquidate-everything", "issued_at_ms": "1", "issued_by": "x", "args": "{}"},
        {"garbage": "x" * 50},
        {"command_id": f"j{i}", "type": "open", "issued_at_ms": str(now_ms()), "issued_by": "x", "args": '{"a":'},
        {"command_id": f"j{i}", "type": "halt"},
    ]
    return kinds[i % len(kinds)]


def xadd_many(store: StateStore, entries: list[dict[str, str]]) -> None:
    pipe = store.client.pipeline(transaction=False)
    for fields in entries:
        pipe.xadd(store.key("commands"), fields)
    pipe.execute()


class Recorder:
    """Handlers that remember the order they ran in (the real processor calls them)."""

    def __init__(self):
        self.ran: list[tuple[CommandType, str]] = []

    def handler(self, command: Command) -> str:
        self.ran.append((command.type, command.command_id))
        return "ok"

    def table(self) -> dict:
        return {t: self.handler for t in (CommandType.HALT, CommandType.CLOSE_ALL, CommandType.RESUME, CommandType.OPEN, CommandType.CLOSE)}


def reader(store: StateStore, recorder: Recorder, clock=None) -> CommandProcessor:
    return CommandProcessor(store, group="bot", consumer="bot-test", handlers=recorder.table(), clock=clock or SystemClock(),
                            max_bytes=8192)


def drain(processor: CommandProcessor) -> None:
    while processor.poll(block_ms=0):
        pass


def test_poll_when_300_deep_nested_entries_are_queued_then_all_are_rejected_in_a_fraction_of_a_second(store):
    recorder = Recorder()
    processor = reader(store, recorder)
    ids = [f"deep{i}" for i in range(300)]
    xadd_many(store, [deep_nested(cid) for cid in ids])

    started = time.perf_counter()
    drain(processor)
    elapsed_ms = (time.perf_counter() - started) * 1000

    # 30 s before (RecursionError, then a 0.1 s sleep per entry); ~0.1 s here, bounded loosely for a busy machine
    assert elapsed_ms < 1500, f"300 deep-nested entries took {elapsed_ms:.0f} ms"
    results = [store.read_command_result(cid) for cid in ids]
    assert all(r is not None and r.status is CommandStatus.REJECTED and "nested deeper" in r.detail for r in results)
    assert recorder.ran == []
    assert store.client.xpending(store.key("commands"), "bot")["pending"] == 0


def test_poll_when_a_close_all_is_queued_behind_a_backlog_then_it_runs_before_the_backlog(store):
    recorder = Recorder()
    processor = reader(store, recorder)
    backlog = [command_fields(CommandType.CLOSE, {"symbol": "BTC/USDT:USDT"}) for _ in range(3 * BATCH)]
    xadd_many(store, backlog)
    kill = command_fields(CommandType.CLOSE_ALL)
    store.client.xadd(store.key("commands"), kill)

    processor.poll(block_ms=0)  # a full batch: a backlog is waiting
    processor.poll(block_ms=0)

    assert recorder.ran[BATCH] == (CommandType.CLOSE_ALL, kill["command_id"])  # after one batch, not after three
    drain(processor)
    assert [cid for t, cid in recorder.ran].count(kill["command_id"]) == 1  # read again in its turn: not run twice
    assert len(recorder.ran) == 3 * BATCH + 1


def test_poll_when_a_resume_was_sent_before_a_close_all_that_ran_first_then_the_resume_is_refused_as_superseded(store):
    recorder = Recorder()
    processor = reader(store, recorder)
    filler = [command_fields(CommandType.CLOSE, {"symbol": "ETH/USDT:USDT"}) for _ in range(BATCH)]
    resume = command_fields(CommandType.RESUME)
    xadd_many(store, filler + [resume])
    kill = command_fields(CommandType.CLOSE_ALL)
    store.client.xadd(store.key("commands"), kill)
    resume_after = command_fields(CommandType.RESUME)
    store.client.xadd(store.key("commands"), resume_after)

    drain(processor)

    result = store.read_command_result(resume["command_id"])
    assert result.status is CommandStatus.REJECTED and "superseded" in result.detail
    assert (CommandType.RESUME, resume["command_id"]) not in recorder.ran
    assert (CommandType.RESUME, resume_after["command_id"]) in recorder.ran  # sent after the kill switch: runs


def test_poll_when_20000_junk_entries_arrive_then_the_decision_log_keeps_its_decisions_and_one_summary(store):
    recorder = Recorder()
    processor = reader(store, recorder)
    small = StateStore(store.client, store.bot_id, audit_maxlen=1000, stream_maxlen=50_000)
    processor.store = processor.rejections.store = small
    decisions = [small.audit(AuditEvent("order", now_ms(), f"decision {i}", {})) for i in range(200)]
    xadd_many(store, [junk(i) for i in range(20_000)])

    started = time.perf_counter()
    drain(processor)
    elapsed_s = time.perf_counter() - started
    processor.rejections.window_ms = 0  # the window is over: its summary is due
    processor.rejections.flush_if_due()

    audit = small.read_audit(5000)
    assert [e.message for e in audit if e.kind == "order"] == [f"decision {i}" for i in range(200)]
    rejection_lines = [e for e in audit if e.kind == "command"]
    assert len(rejection_lines) <= processor.rejections.lines_per_window + 1
    summary = rejection_lines[-1]
    assert summary.data["rejected"] == 20_000 - processor.rejections.lines_per_window
    assert decisions
    assert elapsed_s < 10, f"20,000 junk entries took {elapsed_s:.1f} s"  # ~1.3 s on a busy 2-core machine


def test_poll_when_raw_xadds_left_the_stream_uncapped_then_the_reader_trims_it_to_stream_maxlen(store):
    processor = reader(store, Recorder())
    processor.store = StateStore(store.client, store.bot_id, stream_maxlen=1000)
    xadd_many(store, [junk(i) for i in range(5000)])

    drain(processor)

    # MAXLEN ~ trims whole macro nodes (100 entries by default), so a little above the cap may stay
    assert store.client.xlen(store.key("commands")) <= 1000 + 100


def test_poll_when_an_entry_is_older_than_the_oldest_a_claim_covers_then_rejected_as_expired_and_not_run(store):
    recorder = Recorder()
    later = SimulatedClock(now_ms() + (COMMAND_MAX_AGE_S + 60) * 1000)
    processor = reader(store, recorder, clock=later)
    old = command_fields(CommandType.CLOSE_ALL)
    store.client.xadd(store.key("commands"), old)

    drain(processor)

    result = store.read_command_result(old["command_id"])
    assert result.status is CommandStatus.REJECTED and "expired" in result.detail
    assert recorder.ran == []


def test_poll_when_the_same_command_id_arrives_twice_in_one_batch_then_it_runs_once(store):
    recorder = Recorder()
    processor = reader(store, recorder)
    halt = command_fields(CommandType.HALT)
    xadd_many(store, [halt, halt])

    drain(processor)

    assert recorder.ran == [(CommandType.HALT, halt["command_id"])]


@pytest.mark.parametrize("other_group_first", [False, True])
def test_reject_when_bot_and_supervisor_both_read_a_malformed_entry_then_one_result_is_written(store, redis_url, other_group_first):
    bot = reader(store, Recorder())
    supervisor = CommandProcessor(StateStore(connect(redis_url), store.bot_id), group="supervisor", consumer="sup-test",
                                  handlers={}, clock=SystemClock(), max_bytes=8192)
    entry = store.client.xadd(store.key("commands"), {"garbage": "1"})

    for processor in ((supervisor, bot) if other_group_first else (bot, supervisor)):
        drain(processor)

    results = [r for r in store.read_command_results(50) if r.command_id == f"entry:{entry}"]
    assert len(results) == 1 and results[0].status is CommandStatus.REJECTED

