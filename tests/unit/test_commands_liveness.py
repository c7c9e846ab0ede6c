"""The one liveness rule (state.bot_status) with the trading loop's progress: a wedged loop behind a live
heartbeat thread is unresponsive; a loop waiting for its next tick is not."""

from __future__ import annotations

import pytest

from state import BotStatus, bot_status, loop_stalled_s

NOW = 1_700_000_000_000
TIMEOUT_S = 5.0


@pytest.mark.parametrize(
    ("progress_ms", "expected"),
    [
        (NOW, BotStatus.RUNNING),
        (NOW - 4_999, BotStatus.RUNNING),
        (NOW - 5_000, BotStatus.RUNNING),  # exactly the timeout: not yet older
        (NOW - 5_001, BotStatus.UNRESPONSIVE),  # the loop stuck in one step with a fresh heartbeat
        (NOW - 3_600_000, BotStatus.UNRESPONSIVE),
        (NOW + 2_000, BotStatus.RUNNING),  # clock skew: progress from the future
        (None, BotStatus.RUNNING),  # a bot that does not report progress: its heartbeat decides
        ("", BotStatus.RUNNING),
        ("garbage", BotStatus.RUNNING),
        (0, BotStatus.RUNNING),
    ],
)
def test_bot_status_when_the_heartbeat_is_fresh_and_the_loop_progress_is_at_a_boundary_then_as_expected(progress_ms, expected):
    state = {"heartbeat_ms": str(NOW - 200), "running": "1"}
    if progress_ms is not None:
        state["progress_ms"] = str(progress_ms)

    assert bot_status(state, NOW, TIMEOUT_S) is expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"heartbeat_ms": str(NOW - 6_000), "progress_ms": str(NOW)}, BotStatus.UNRESPONSIVE),  # heartbeat old
        ({"heartbeat_ms": str(NOW), "progress_ms": str(NOW - 60_000), "running": "0"}, BotStatus.STOPPED),
        ({"progress_ms": str(NOW)}, BotStatus.STOPPED),  # never beat
    ],
)
def test_bot_status_when_heartbeat_or_running_decide_first_then_progress_does_not_change_that(state, expected):
    assert bot_status(state, NOW, TIMEOUT_S) is expected


def test_loop_stalled_when_progress_is_reported_then_seconds_since_else_none():
    assert loop_stalled_s({"progress_ms": str(NOW - 1_500)}, NOW) == 1.5
    assert loop_stalled_s({}, NOW) is None
