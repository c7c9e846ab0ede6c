"""The comparison's arbiter on hand-checked series, and each peer engine against it on the edge cases that
once split them (a buy on the last candle, a lot like 0.400). Not under tests/, so `make test` does not
collect it: run `.venv/bin/python -m pytest benchmarks/compare -q`. The engine cases need the bench venvs
(benchmarks/compare/setup_venvs.sh) and are skipped without them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks.compare import rules, run

FEE = Decimal("0.0004")


def write_csv(path: Path, closes: list[str]) -> str:
    # a volume far above any order: nautilus offers only a quarter of a bar's volume at its close
    lines = [rules.HEADER] + [f"{1746372780000 + 60_000 * i},{c},{c},{c},{c},1000000" for i, c in enumerate(closes)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_arbiter_when_closes_dip_rise_fall_rise_then_buys_sells_and_buys_again_at_each_close(tmp_path):
    # EMA12 − EMA26 goes −, +, −, + from the second candle on (checked by hand with alpha 2/13 and 2/27)
    record = run.arbiter(write_csv(tmp_path / "x.csv", ["100", "90", "110", "80", "125"]))
    first, second = Decimal("9.090"), Decimal("8.000")  # floor(1000/110) and 1000/125 to the lot
    cash = (Decimal(10000) - first * 110 * (1 + FEE) + first * 80 * (1 - FEE) - second * 125 * (1 + FEE))
    assert (record["fills"], record["round_trips"], record["open_position"]) == (3, 1, "8.000")
    assert Decimal(record["final_equity"]) == cash + second * 125  # the open position at the last close, no exit fee


@pytest.mark.parametrize("closes, why", [
    (["100", "100", "100", "100"], "a zero difference never crosses"),
    (["100", "101", "102", "103"], "the first non-zero difference is no cross"),
    (["2000000", "1800000", "2200000"], "a cross up that cannot afford one lot buys nothing"),
])
def test_arbiter_when_no_trade_is_due_then_equity_stays_at_the_start(tmp_path, closes, why):
    record = run.arbiter(write_csv(tmp_path / "x.csv", closes))
    assert (record["fills"], Decimal(record["final_equity"])) == (0, Decimal(10000)), why


@pytest.mark.parametrize("close, qty", [
    ("2500", "0.400"), ("3333.3", "0.300"), ("1000", "1.000"), ("999.9999", "1.000"), ("1000001", "0.000"),
])
def test_entry_qty_when_priced_then_floors_to_the_lot_with_its_three_decimals(close, qty):
    assert str(rules.entry_qty(Decimal(close))) == qty


@pytest.mark.parametrize("symbol, close, qty", [
    ("SOLUSDT", "146.74", "6.81"), ("SOLUSDT", "1001", "0.99"), ("SOLUSDT", "100001", "0.00"), ("BTCUSDT", "95502.7", "0.010"), ("ETHUSDT", "1800", "0.555"),
])
def test_entry_qty_when_the_symbol_has_its_venue_lot_then_floors_to_that_lot(symbol, close, qty):
    # the simulated venue's lots (simulator/symbols.py): SOLUSDT trades in 0.01, not the 0.001 of the others
    assert str(rules.entry_qty(Decimal(close), rules.lot_of(symbol))) == qty


@pytest.mark.parametrize("body, message", [
    ("time,o,h,l,c,v\n1,1,1,1,1,1\n", "header is"),
    (rules.HEADER + "\n1746372780000,1,1,1,nan,1\n", "row 2 is not"),
    (rules.HEADER + "\n1746372780000,1,1,1,1,1\n1746372840000,1,1,1,-2,1\n", "row 3 is not"),
    (rules.HEADER + "\n1746372780000,1,1,1\n", "row 2 is not"),
    (rules.HEADER + "\n", "no candles"),
])
def test_read_rows_when_the_file_is_malformed_then_one_line_names_the_file_and_row(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(SystemExit) as refused:
        rules.read_rows(path)
    assert str(path) in str(refused.value) and message in str(refused.value)


@pytest.mark.slow
@pytest.mark.parametrize("engine", list(run.ENGINES))
def test_engine_when_the_last_candle_buys_a_lot_with_trailing_zeros_then_it_agrees_with_the_arbiter(tmp_path, engine):
    if not (run.VENVS / run.VENV_OF[engine] / "bin" / "python").exists():
        pytest.skip(f"no bench venv for {engine}: bash benchmarks/compare/setup_venvs.sh")
    # the first series ends in a cross up at 2500 (0.400 of a lot-0.001 instrument) on its very last candle
    paths = [write_csv(tmp_path / "last.csv", ["2000", "1900", "2500"]),
             write_csv(tmp_path / "x.csv", ["100", "90", "110", "80", "125"])]
    records = run.collect(paths, [engine])
    assert Decimal(records[0]["open_position"]) == Decimal("0.4")
    assert [r["agrees_with_arbiter"] for r in records] == [True] * 4, records
