"""A backtest runs with the automatic cyclic collector paused (its passes found next to nothing to free and
cost the run time) and leaves it as it found it: a process that runs backtests keeps its own setting."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bot.backtest import Backtest, load_tables
from settings import load_settings

PROJECT = Path(__file__).resolve().parents[2]
FILE = "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"


@pytest.mark.parametrize("on_before", [True, False], ids=["collector on", "collector off"])
def test_run_when_it_ends_then_the_collector_was_paused_inside_and_is_as_before(shared_klines, tmp_path, on_before):
    data = tmp_path / FILE
    data.write_text("\n".join((shared_klines / FILE).read_text().splitlines()[:1001]) + "\n")
    settings = load_settings(PROJECT / "configs/ema_cross.yaml", environ={"TB_BOT__SYMBOLS": "[BTC/USDT:USDT]"})
    tables = load_tables(data, None, settings.bot.timeframe)
    inside: list[bool] = []
    (gc.enable if on_before else gc.disable)()
    try:
        result = Backtest(settings, tables, warmup=0, progress=lambda done, total: inside.append(gc.isenabled())).run()
        after = gc.isenabled()
    finally:
        gc.enable()

    assert result.trades and inside and not any(inside)
    assert after is on_before
