"""`main.py backtest` as a user runs it: the real CLI in a subprocess, no Redis.

- the comparison rules (configs/ema_cross.yaml) through the whole engine give exactly the trades and the
  final equity (to the cent) of the plain reference implementation (benchmarks/ema_reference.py);
- `--json` carries what scripts need; `--report` writes one self-contained HTML file;
- bad data and bad arguments are one line and a non-zero exit, nothing written.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks.ema_reference import run as reference_run

from processes import run_cli

pytestmark = pytest.mark.slow

BTC_FILE = "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"
ETH_FILE = "binance_usdm_ETHUSDT_1m_2025-05-04_2025-06-15.csv"


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TB_") and k != "REDIS_URL"}


def first_rows(shared_klines: Path, name: str, rows: int, out: Path) -> Path:
    lines = (shared_klines / name).read_text().splitlines()[: rows + 1]
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize("name", [BTC_FILE, ETH_FILE])
def test_backtest_when_run_on_the_comparison_rules_then_trades_and_final_equity_equal_the_reference(
        shared_klines, tmp_path, name):
    data = first_rows(shared_klines, name, 12_000, tmp_path / name)
    trades, equity = reference_run(data)

    done = run_cli(["--config", "configs/ema_cross.yaml", "backtest", "--warmup", "0", "--data", str(data), "--json"],
                   env(), timeout_s=120)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["trades"]) == len(trades) > 100
    assert Decimal(result["final_equity"]).quantize(Decimal("0.01")) == equity.quantize(Decimal("0.01"))
    assert all(t["side"] == "long" and t["exit_reason"] == "reverse_signal" for t in result["trades"])


def test_backtest_json_when_run_then_it_carries_metrics_trades_parameters_range_and_speed(shared_klines, tmp_path):
    data = first_rows(shared_klines, BTC_FILE, 3000, tmp_path / BTC_FILE)
    report = tmp_path / "out" / "report.html"

    done = run_cli(["backtest", "--data", str(data), "--json", "--report", str(report)], env(), timeout_s=120)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("metrics", "trades", "parameters", "data_range", "candles", "wall_s", "candles_per_s"):
        assert key in result, key
    assert result["candles"] == 3000 and result["data_range"]["BTC/USDT:USDT"]["candles"] == 3000
    assert result["data_range"]["BTC/USDT:USDT"]["gaps"] == []
    assert result["parameters"]["strategies"] == ["momentum_spike", "ema_trend", "mean_reversion"]
    for trade in result["trades"]:
        assert set(trade) >= {"symbol", "side", "qty", "entry_time", "entry_price", "exit_time", "exit_price", "fees",
                              "funding", "pnl", "exit_reason"}
        assert Decimal(trade["fees"]) > 0
    html = report.read_text()
    assert "<script src=" not in html and len(html) > 3_000_000 and "Equity and drawdown" in html  # plotly.js inline


def test_backtest_when_the_data_has_a_gap_then_it_is_reported_with_its_times(tmp_path):
    rows = [f"{i * 60_000},10,10,10,10,1" for i in (0, 1, 2, 5, 6)]  # 3 and 4 missing
    (tmp_path / "gap_BTCUSDT.csv").write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")

    done = run_cli(["backtest", "--data", str(tmp_path / "gap_BTCUSDT.csv"), "--warmup", "0"], env(), timeout_s=60)

    assert done.returncode == 0, done.stderr
    assert "GAPS: 2 candles missing, 1970-01-01 00:03 UTC → 1970-01-01 00:04 UTC" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--data", "{tmp}/missing.csv"], "no such file or folder"),
    (["--data", "{tmp}/bad.csv", "--symbols", "BTC/USDT:USDT"], "line 3: high '9' is below low '11'"),
    (["--data", "{tmp}/bad.csv"], "cannot tell its symbol from the name"),
    (["--data", "{tmp}/good_BTCUSDT.csv", "--from", "someday"], "is not a date or time"),
    (["--data", "{tmp}/good_BTCUSDT.csv", "--strategy", "nope"], "unknown strategy 'nope'"),
])
def test_backtest_when_the_input_is_bad_then_one_line_and_a_non_zero_exit(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("timestamp_ms,open,high,low,close,volume\n0,10,10,10,10,1\n60000,10,9,11,10,1\n")
    (tmp_path / "good_BTCUSDT.csv").write_text("timestamp_ms,open,high,low,close,volume\n0,10,10,10,10,1\n")

    done = run_cli(["backtest", *[a.format(tmp=tmp_path) for a in args]], env(), timeout_s=60)

    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert done.stdout == ""
