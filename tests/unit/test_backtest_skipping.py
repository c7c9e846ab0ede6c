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


def test_backtest_when_quiet_trades_of_several_symbols_are_skipped_then_the_result_is_that_of_every_candle(shared_klines, tmp_path):
    # three symbols: a skipped candle of one symbol's quiet trade reaches the venue before another symbol's
    # candle is decided on, as if the venue had seen them all
    files = sorted(shared_klines.glob("*.csv"))
    for path in files:
        (tmp_path / path.name).write_text("\n".join(path.read_text().splitlines()[:4001]) + "\n")
    settings = load_settings(PROJECT / "configs/ema_cross.yaml",
                             environ={"TB_BOT__SYMBOLS": "[BTC/USDT:USDT, ETH/USDT:USDT, SOL/USDT:USDT]"})
    tables = load_tables(tmp_path, None, settings.bot.timeframe)

    fast = Backtest(settings, tables, warmup=0, skip_quiet=True).run()
    slow = Backtest(settings, tables, warmup=0, skip_quiet=False).run()

    assert {t.symbol for t in fast.trades} == set(tables) and len(fast.trades) > 60
    assert fast.trades == slow.trades
    assert fast.equity_curve == slow.equity_curve and fast.final_equity == slow.final_equity
    assert fast.candles_processed < slow.candles_processed / 3


@pytest.mark.parametrize("warmup", [0, 1, 300])
def test_backtest_when_warmup_is_any_then_the_equity_curve_starts_at_the_first_traded_candle(shared_klines, tmp_path, warmup):
    # with no warm-up the curve used to start at epoch 0: 55 years of flat equity in Sharpe and the drawdowns
    data = tmp_path / FILE
    data.write_text("\n".join((shared_klines / FILE).read_text().splitlines()[:3001]) + "\n")
    settings = load_settings(PROJECT / "configs/ema_cross.yaml", environ={"TB_BOT__SYMBOLS": "[BTC/USDT:USDT]"})
    tables = load_tables(data, None, settings.bot.timeframe)

    result = Backtest(settings, tables, warmup=warmup).run()

    first_ts = int(tables["BTC/USDT:USDT"].ts[0])
    assert result.equity_curve[0] == (first_ts + warmup * 60_000, settings.venue.starting_balance)
    assert result.metrics["longest_drawdown_ms"] <= result.equity_curve[-1][0] - first_ts
