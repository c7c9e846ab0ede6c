"""The supervisor's take-over queue: bounded, close-all and halt first, each command id once."""

from __future__ import annotations

import threading
import time
import uuid

from bot_manager import TakeoverQueue
from models import Command, CommandType

WAIT_S = 0.01


def cmd(command_type: CommandType, command_id: str | None = None) -> Command:
    return Command(command_id or uuid.uuid4().hex, command_type, 1, "test", {})


def drain(queue: TakeoverQueue, max_priority: int = 9) -> list[CommandType]:
    out = []
    while (c := queue.take(max_priority, WAIT_S)) is not None:
        out.append(c.type)
    return out


def test_take_when_commands_of_every_kind_wait_then_close_all_first_then_halt_then_the_rest_in_order():
    queue = TakeoverQueue()
    for t in (CommandType.OPEN, CommandType.STOP, CommandType.HALT, CommandType.CLOSE, CommandType.RESUME, CommandType.CLOSE_ALL):
        queue.put(cmd(t))

    assert drain(queue) == [CommandType.CLOSE_ALL, CommandType.HALT, CommandType.CLOSE, CommandType.STOP,
                            CommandType.OPEN, CommandType.RESUME]


def test_take_when_the_urgent_worker_asks_then_it_gets_only_close_all_and_halt():
    queue = TakeoverQueue()
    queue.put(cmd(CommandType.STOP))
    queue.put(cmd(CommandType.HALT))

    assert drain(queue, max_priority=1) == [CommandType.HALT]
    assert drain(queue) == [CommandType.STOP]


def test_put_when_the_same_command_id_comes_twice_then_it_is_queued_once():
    queue = TakeoverQueue()
    kill = cmd(CommandType.CLOSE_ALL, "same")

    assert queue.put(kill) is True
    assert queue.put(kill) is False
    assert drain(queue) == [CommandType.CLOSE_ALL]
    assert queue.put(kill) is False  # remembered after it ran, too


def test_put_when_20000_resumes_flood_a_full_queue_then_it_stays_bounded_and_a_close_all_still_gets_in():
    queue = TakeoverQueue(capacity=256)
    for _ in range(20_000):
        queue.put(cmd(CommandType.RESUME))

    assert queue.put(cmd(CommandType.CLOSE_ALL)) is True

    assert len(queue) == 256
    assert queue.take(1, WAIT_S).type is CommandType.CLOSE_ALL
    assert queue.take_dropped() == {"resume": 20_000 - 256 + 1}


def test_put_when_the_queue_is_full_of_close_alls_then_a_halt_is_dropped_not_a_close_all():
    queue = TakeoverQueue(capacity=2)
    queue.put(cmd(CommandType.CLOSE_ALL))
    queue.put(cmd(CommandType.CLOSE_ALL))

    assert queue.put(cmd(CommandType.HALT)) is False
    assert drain(queue) == [CommandType.CLOSE_ALL, CommandType.CLOSE_ALL]


def test_take_when_a_command_arrives_while_a_worker_waits_then_the_worker_gets_it_at_once():
    queue = TakeoverQueue()
    got: list[Command] = []
    worker = threading.Thread(target=lambda: got.append(queue.take(1, 5.0)))
    worker.start()

    started = time.monotonic()
    queue.put(cmd(CommandType.CLOSE_ALL))
    worker.join(5.0)

    assert got and got[0].type is CommandType.CLOSE_ALL
    assert time.monotonic() - started < 4.0
