"""Candle files keep every value exactly as written, without a Python string per row: the Decimal a
backtest or a replay builds from a cell is the one the file says."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from marketdata.csvfile import HEADER_LINE, DecimalColumn, read_candles

T0 = 1_746_372_780_000
MIN = 60_000


def write_csv(directory: Path, rows: list[str]) -> Path:
    path = directory / "candles.csv"
    path.write_text("\n".join([HEADER_LINE, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("written", [
    "95478", "95478.1", "100.50", "0.00012", "146.780", "0", "12345678901234.5",  # 15 significant digits
    "1234567890123456",  # 16: more than a float keeps, stays as written
    "1.5e3",  # an exponent: stays as written
    "000123.40",
])
def test_read_candles_when_a_volume_is_written_so_then_it_reads_back_as_written(tmp_path: Path, written: str):
    path = write_csv(tmp_path, [f"{T0},100,101,99,100.5,{written}", f"{T0 + MIN},100.5,101,99,100,1"])

    table = read_candles(path)

    assert table.volume[0] == written
    assert Decimal(table.volume[0]) == Decimal(written)
    assert str(Decimal(table.volume[0])) == str(Decimal(written))  # the exponent too: 100.50 stays 100.50
    assert [str(v) for v in table.volume] == [written, "1"]


def test_read_candles_when_the_file_is_plain_decimals_then_no_string_per_row_is_kept(tmp_path: Path):
    rows = [f"{T0 + i * MIN},{100 + i}.5,{101 + i}.25,{99 + i}.75,{100 + i}.0,3.5" for i in range(1000)]

    table = read_candles(write_csv(tmp_path, rows))

    for name in ("open", "high", "low", "close", "volume"):
        column = getattr(table, name)
        assert isinstance(column, DecimalColumn)
        assert column.values.dtype == np.float64 and column.places.dtype == np.int8
    assert table.close[999] == "1099.0" and table.high[3] == "104.25"
    assert np.asarray(table.low[2:4], dtype=np.float64).tolist() == [101.75, 102.75]
    assert sys.getsizeof(table.open.values) < 1000 * 9 + 200  # a float64 each, not a str object each
