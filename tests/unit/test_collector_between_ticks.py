"""The bot's loop collects garbage between ticks, never inside one (bot.runtime.freeze_warm_heap and
collect_between_ticks): the automatic collector's young collections inside a tick were 6-34 ms."""

import gc
import weakref

import pytest

from bot.runtime import collect_between_ticks, freeze_warm_heap


@pytest.fixture
def collector():
    """The process's collector as the bot leaves it after start-up; put back afterwards."""
    thresholds = gc.get_threshold()
    pauses: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            pauses.append(info["generation"])

    freeze_warm_heap()
    gc.callbacks.append(seen)
    yield pauses
    gc.callbacks.remove(seen)
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def tick_that_keeps(containers: int) -> list:
    """A tick's worth of live objects: lists, dicts and a cycle, alive until the tick ends."""
    return [{"candle": [n, n + 1]} for n in range(containers)]


def test_tick_when_it_allocates_many_containers_then_the_collector_does_not_run_inside_it(collector):
    held = tick_that_keeps(5_000)  # ~150 times what a tick of 100 symbols leaves alive

    assert collector == []
    del held


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_loop_turn_when_a_tick_left_cyclic_garbage_then_it_is_freed_before_the_next_poll(collector):
    node = Node()
    left = weakref.ref(node)
    del node

    collect_between_ticks(0)

    assert left() is None
    assert collector == [1]  # the young generations only: the full one waits for its turn


@pytest.mark.parametrize("turn, generation", [(0, 1), (3598, 1), (3599, 2), (7199, 2), (7200, 1)])
def test_loop_turn_when_its_number_comes_then_the_full_collection_runs_once_an_hour(collector, turn, generation):
    collect_between_ticks(turn)

    assert collector == [generation]
