"""`main.py report` over a real replay: the real bot (paper, simulated venue) trades a slice of
../shared/data/klines, `main.py journal` copies Redis into the journal, and the month's report shows
exactly the figures analytics.metrics computes over the same trades."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.metrics import compute_metrics
from processes import BotFleet, run_cli, wait_for

pytestmark = pytest.mark.slow
BTC_FILE = "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"
ROWS = 1200  # from 2025-05-20 00:00: enough EMA crosses for a dozen trades, a replay of ~30 s


def test_report_when_a_replayed_month_is_reported_then_its_figures_are_the_analytics_figures(
    redis_url, store, tmp_path, shared_klines
):
    lines = (shared_klines / BTC_FILE).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("1747699200000"))  # 2025-05-20 00:00 UTC
    data = tmp_path / "btc.csv"
    data.write_text("\n".join([lines[0], *lines[start : start + ROWS]]) + "\n")
    fleet = BotFleet(
        store, redis_url, tmp_path,
        TB_BOT__SYMBOLS="[BTC/USDT:USDT]", TB_MARKET_DATA__SOURCE="replay",
        TB_MARKET_DATA__REPLAY__FILES="{BTC/USDT:USDT: " + str(data) + "}",
        TB_MARKET_DATA__REPLAY__SPEED="0", TB_MARKET_DATA__REPLAY__LOOP="false",
        TB_STRATEGY__ENABLED="[ema_cross]", TB_STRATEGY__EMA_CROSS__FAST="5", TB_STRATEGY__EMA_CROSS__SLOW="13",
        TB_REDIS__RUN_MARKER_DIR=str(tmp_path / "run"), TB_JOURNAL__DIR=str(tmp_path / "journal"),
    )
    for key in ("TB_MARKET_DATA__SYNTHETIC__CANDLE_SECONDS", "TB_MARKET_DATA__SYNTHETIC__GAP_PROBABILITY"):
        fleet.env.pop(key, None)
    try:
        fleet.start_bot("paper")
        wait_for(lambda: store.read_state().get("data_exhausted") == "1", 240, "the replay's end", interval_s=0.2,
                 on_timeout=fleet.logs)
    finally:
        fleet.cleanup()
    trades = store.read_trades()
    assert len(trades) >= 3, f"the replay made {len(trades)} trades: too few to compare"

    synced = run_cli(["journal"], fleet.env)
    assert synced.returncode == 0, synced.stderr
    out = tmp_path / "reports"
    report = run_cli(["report", "--period", "month", "--month", "2025-05", "--mode", "paper", "--out", str(out),
                      "--benchmark", str(shared_klines / BTC_FILE)], fleet.env, timeout_s=60)
    assert report.returncode == 0, report.stderr

    may = [t for t in trades if t.exit_ms < 1_748_736_000_000]  # closed before 2025-06-01
    expected = compute_metrics(may, starting_equity=Decimal("10000"))
    assert f"{expected['trades']} trade(s)" in report.stdout
    assert f"{expected['total_pnl']:,.2f} USDT" in report.stdout
    html = next(out.glob("*_month_2025-05_paper.html")).read_text()
    assert "Buy and hold" in html and BTC_FILE in html
    with next(out.glob("*_month_2025-05_paper_trades.csv")).open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["trade_id"] for r in rows) == sorted(t.trade_id for t in may)
    assert sum(Decimal(r["pnl"]) for r in rows) == expected["total_pnl"]


def test_report_when_the_month_is_not_a_month_then_exit_2_naming_the_flag(redis_url, store, tmp_path):
    env = BotFleet(store, redis_url, tmp_path, TB_JOURNAL__DIR=str(tmp_path / "journal")).env
    bad = run_cli(["report", "--period", "month", "--month", "2025-13"], env)
    empty = run_cli(["report", "--period", "week"], env)

    assert bad.returncode == 2 and "--month" in bad.stderr
    assert empty.returncode == 2 and "trades in the journal" in empty.stderr and "--mode" in empty.stderr
