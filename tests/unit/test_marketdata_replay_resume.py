"""ReplaySource.resume: a restarted replay goes on after the previous run's newest candle, never before it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from clock import SimulatedClock
from errors import MarketDataError
from marketdata.csvfile import HEADER_LINE
from marketdata.replay import ReplaySource

T0 = 1_746_372_780_000
MIN = 60_000
ROWS = 200
SYM = "AAA/USDT:USDT"


def write_csv(path: Path, rows: int = ROWS) -> Path:
    lines = [HEADER_LINE] + [f"{T0 + i * MIN},{100 + i},{101 + i},{99 + i},{100 + i},{i + 1}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def source(tmp_path: Path, *, loop: bool, speed: float = 0.0) -> ReplaySource:
    return ReplaySource({SYM: write_csv(tmp_path / "a.csv")}, "1m", SimulatedClock(1_800_000_000_000), speed=speed, loop=loop,
                        batch_candles=5)


@pytest.mark.parametrize(("last_row", "refused"), [(ROWS - 2, False), (ROWS - 1, True), (ROWS + 50, True)])
def test_resume_when_non_looping_files_end_at_or_before_the_last_candle_then_refused(tmp_path, last_row, refused):
    replay = source(tmp_path, loop=False)
    if refused:
        with pytest.raises(MarketDataError, match="the replay files end at 2025-05-04 18:52 UTC and do not loop"):
            replay.resume(T0 + last_row * MIN)
    else:
        replay.resume(T0 + last_row * MIN)
        replay.backfill(50)
        assert [c.open_time_ms for c in replay.poll()] == [T0 + (ROWS - 1) * MIN]
        assert replay.exhausted()


@pytest.mark.parametrize("lap", [0, 1, 7])
def test_resume_when_looping_then_the_next_candle_is_the_next_row_in_the_same_lap(tmp_path, lap):
    replay = source(tmp_path, loop=True)
    span = ROWS * MIN
    last = T0 + lap * span + 120 * MIN

    replay.resume(last)
    backfill = replay.backfill(50)[SYM]
    polled = replay.poll()

    assert [c.open_time_ms for c in backfill] == [last - (49 - i) * MIN for i in range(50)]
    assert [c.open_time_ms for c in polled] == [last + (i + 1) * MIN for i in range(5)]
    assert [c.close for c in polled] == [Decimal(100 + 121 + i) for i in range(5)]  # rows 121.. of the file


def test_resume_when_at_the_start_of_a_lap_then_backfill_reaches_into_the_lap_before(tmp_path):
    replay = source(tmp_path, loop=True)
    last = T0 + 3 * ROWS * MIN + 9 * MIN  # row 9 of the fourth lap

    replay.resume(last)
    backfill = replay.backfill(50)[SYM]

    assert [c.open_time_ms for c in backfill] == [last - (49 - i) * MIN for i in range(50)]
    assert [c.close for c in backfill[:2]] == [Decimal(100 + ROWS - 40), Decimal(100 + ROWS - 39)]
    assert replay.gaps() == []
    assert replay.poll()[0].open_time_ms == last + MIN


def test_resume_when_last_candle_before_the_warm_up_then_the_replay_starts_as_usual(tmp_path):
    fresh, resumed = source(tmp_path, loop=False), source(tmp_path, loop=False)
    resumed.resume(T0 + 10 * MIN)  # inside what the warm-up backfill covers anyway

    assert resumed.backfill(50) == fresh.backfill(50)
    assert resumed.poll() == fresh.poll()


def test_resume_when_paced_then_candles_follow_the_clock_from_the_resumed_point(tmp_path):
    clock = SimulatedClock(1_800_000_000_000)
    replay = ReplaySource({SYM: write_csv(tmp_path / "a.csv")}, "1m", clock, speed=60, loop=False)
    replay.resume(T0 + 150 * MIN)
    replay.backfill(50)

    assert replay.poll() == []
    clock.advance(1000)
    assert [c.open_time_ms for c in replay.poll()] == [T0 + 151 * MIN]


def test_resume_when_already_started_then_refused(tmp_path):
    replay = source(tmp_path, loop=True)
    replay.backfill(50)
    with pytest.raises(MarketDataError, match="resume must come before the first backfill or poll"):
        replay.resume(T0 + 120 * MIN)
