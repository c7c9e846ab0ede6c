"""The backtest's skipping changes nothing: with quiet open trades skipped or every candle through the
engine, the same trades, the same equity points and the same final equity, to the last digit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backtest import Backtest, load_tables
from settings import load_settings

PROJECT = Path(__file__).resolve().parents[2]
FILE = "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"


def run(data: Path, skip_quiet: bool, config: str | None = None):
    settings = load_settings(PROJECT / config if config else None, environ={"TB_BOT__SYMBOLS": "[BTC/USDT:USDT]"})
    tables = load_tables(data, None, settings.bot.timeframe)
    return Backtest(settings, tables, warmup=0, skip_quiet=skip_quiet).run()


@pytest.mark.parametrize("config", ["configs/ema_cross.yaml", None], ids=["signal-only exits", "default rules"])
def test_backtest_when_quiet_candles_are_skipped_then_the_result_is_that_of_every_candle(shared_klines, tmp_path, config):
    data = tmp_path / FILE
    data.write_text("\n".join((shared_klines / FILE).read_text().splitlines()[:6001]) + "\n")

    fast, slow = run(data, True, config), run(data, False, config)

    assert len(fast.trades) > 20
    assert fast.trades == slow.trades
    assert fast.equity_curve == slow.equity_curve and fast.final_equity == slow.final_equity
    if config:  # only signal-only exits let open trades be skipped
        assert fast.candles_processed < slow.candles_processed / 3
