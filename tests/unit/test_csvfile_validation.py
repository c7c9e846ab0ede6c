"""Candle files: a corrupted row is refused with one line naming the file, the line and the value;
missing candles are listed with their times, as data."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors import MarketDataError
from marketdata.csvfile import HEADER_LINE, read_candles
from marketdata.gaps import Gap, find_gaps

T0 = 1_746_372_780_000  # first row of the real BTC file
MIN = 60_000
GOOD = "100.5,101.25,99.75,100.0,3.5"  # open, high, low, close, volume


def write_csv(directory: Path, rows: list[str], name: str = "candles.csv") -> Path:
    path = directory / name
    path.write_text("\n".join([HEADER_LINE, *rows]) + "\n", encoding="utf-8")
    return path


def good_rows(count: int, start_ms: int = T0) -> list[str]:
    return [f"{start_ms + i * MIN},{GOOD}" for i in range(count)]


# ------------------------------------------------------------------------------------ bad rows

# the third data row (line 4) carries the fault; each case states what the message must quote
BAD_ROWS = [
    # high and low against each other and against the body
    ("100,99,101,100,1", "high '99' is below low '101'"),
    ("100,101,99.5,100,1", None),  # sane: control row, must load
    ("100,99.99,99,99.5,1", "high '99.99' is below open '100'"),
    ("99.5,99.99,99,100,1", "high '99.99' is below close '100'"),
    ("100,101,100.01,101,1", "low '100.01' is above open '100'"),
    ("101,101,100.01,100,1", "low '100.01' is above close '100'"),
    # the boundaries: high equal to the body's top, low equal to its bottom, a flat candle
    ("100,100,99,99.5,1", None),
    ("99.5,100,99.5,100,1", None),
    ("100,100,100,100,0", None),
    # non-positive, NaN and infinite prices
    ("0,101,99,100,1", "open '0' is not a positive number"),
    ("100,101,-99,100,1", "low '-99' is not a positive number"),
    ("100,101,99,nan,1", "close 'nan' is not a positive number"),
    ("100,NaN,99,100,1", "high 'NaN' is not a positive number"),
    ("100,inf,99,100,1", "high 'inf' is not a positive number"),
    ("100,101,99,1e400,1", "close '1e400' is not a positive number"),
    # volume: zero is a quiet minute, negative or NaN is corruption
    ("100,101,99,100,0", None),
    ("100,101,99,100,-0.001", "volume '-0.001' is not a number >= 0"),
    ("100,101,99,100,nan", "volume 'nan' is not a number >= 0"),
]


@pytest.mark.parametrize("row, quoted", BAD_ROWS)
def test_read_when_a_row_is_corrupted_then_one_line_names_file_line_and_value(tmp_path, row, quoted):
    # Arrange
    path = write_csv(tmp_path, [*good_rows(2), f"{T0 + 2 * MIN},{row}", *good_rows(2, T0 + 3 * MIN)])

    if quoted is None:
        # Act / Assert: a sane row loads with its strings intact
        table = read_candles(path)
        assert len(table) == 5 and ",".join(str(getattr(table, c)[2]) for c in ("open", "high", "low", "close", "volume")) == row
        return

    # Act
    with pytest.raises(MarketDataError) as caught:
        read_candles(path)

    # Assert
    message = str(caught.value)
    assert message == f"{path}: line 4: {quoted}"
    assert "\n" not in message


@pytest.mark.parametrize(
    "timestamps, line, quoted",
    [
        ([T0, T0 + MIN, T0 + MIN], 4, f"duplicate timestamp {T0 + MIN} (also on line 3)"),
        ([T0, T0 + 2 * MIN, T0 + MIN], 4, f"not sorted: timestamp {T0 + MIN} comes before {T0 + 2 * MIN} (line 3)"),
        ([T0 + MIN, T0, T0 + 2 * MIN], 3, f"not sorted: timestamp {T0} comes before {T0 + MIN} (line 2)"),
        ([T0, T0], 3, f"duplicate timestamp {T0} (also on line 2)"),
    ],
)
def test_read_when_timestamps_repeat_or_go_back_then_the_row_is_named(tmp_path, timestamps, line, quoted):
    path = write_csv(tmp_path, [f"{ts},{GOOD}" for ts in timestamps])

    with pytest.raises(MarketDataError) as caught:
        read_candles(path)

    assert str(caught.value).startswith(f"{path}: line {line}: {quoted}")


def test_read_when_several_rows_are_bad_then_the_first_one_in_the_file_is_named(tmp_path):
    # a high below its low on line 5 and a bad volume on line 6: the reader stops at line 5
    rows = good_rows(3) + [f"{T0 + 3 * MIN},100,99,101,100,1", f"{T0 + 4 * MIN},100,101,99,100,-1"]
    path = write_csv(tmp_path, rows)

    with pytest.raises(MarketDataError, match=r"line 5: high '99' is below low '101'"):
        read_candles(path)


# ----------------------------------------------------------------------------------------- gaps


def table_at(tmp_path: Path, minutes: list[int], step_ms: int = MIN):
    return read_candles(write_csv(tmp_path, [f"{T0 + m * step_ms},{GOOD}" for m in minutes]))


@pytest.mark.parametrize(
    "minutes, expected",
    [
        ([0, 1, 2, 3], []),
        ([0], []),
        ([], []),
        ([0, 2], [Gap(T0 + MIN, T0 + MIN, 1)]),
        ([0, 1, 5, 6], [Gap(T0 + 2 * MIN, T0 + 4 * MIN, 3)]),
        ([0, 2, 3, 10], [Gap(T0 + MIN, T0 + MIN, 1), Gap(T0 + 4 * MIN, T0 + 9 * MIN, 6)]),
    ],
)
def test_find_gaps_when_candles_are_missing_then_each_run_is_listed_with_its_times(tmp_path, minutes, expected):
    table = table_at(tmp_path, minutes)

    assert find_gaps(table, MIN) == expected


def test_find_gaps_when_a_file_of_5m_candles_is_read_at_5m_then_no_gap_but_at_1m_every_minute_between(tmp_path):
    table = table_at(tmp_path, [0, 1, 2], step_ms=5 * MIN)

    assert find_gaps(table, 5 * MIN) == []
    assert find_gaps(table, MIN) == [Gap(T0 + MIN, T0 + 4 * MIN, 4), Gap(T0 + 6 * MIN, T0 + 9 * MIN, 4)]


def test_gap_when_shown_then_it_says_how_many_and_from_when_to_when():
    gap = Gap(T0 + 2 * MIN, T0 + 4 * MIN, 3)

    assert str(gap) == "3 candles missing, 2025-05-04 15:35 UTC → 2025-05-04 15:37 UTC"


def test_find_gaps_when_the_timeframe_is_not_positive_then_refused(tmp_path):
    with pytest.raises(ValueError, match="timeframe_ms must be positive"):
        find_gaps(table_at(tmp_path, [0, 1]), 0)


# ------------------------------------------------------------------------------- the real files


def test_read_when_the_three_real_files_then_all_load_without_a_gap(shared_klines):
    files = sorted(shared_klines.glob("binance_usdm_*USDT_1m_*.csv"))

    tables = [read_candles(path) for path in files]

    assert [len(t) for t in tables] == [43_199, 60_191, 43_200]
    assert [find_gaps(t, MIN) for t in tables] == [[], [], []]
