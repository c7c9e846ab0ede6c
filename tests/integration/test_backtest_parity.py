"""The backtest is the very same engine: the same real candles replayed through the real bot (a
`main.py bot --mode paper` process, replay source at speed 0, the simulated venue in a real Redis) give
exactly the trades `main.py backtest` gives in memory — every field, trade ids and times included.

The candles are the first rows of ../shared/data/klines (BTC and SOL), written by the test to small files
so the bot's replay ends in seconds."""

from __future__ import annotations

import json
import uuid

import pytest

from state import StateStore, connect

from processes import BotFleet, run_cli, wait_for

pytestmark = pytest.mark.slow

ROWS = 1500
FILES = {
    "BTC/USDT:USDT": "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    "SOL/USDT:USDT": "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}
# the default strategies, every signal a candidate, and limits that the hourly risk check in the backtest
# and the bot's wall-clock one cannot tell apart (no loss-limit halt in either)
STRATEGY_ENV = {
    "TB_STRATEGY__ENABLED": "[momentum_spike, ema_trend, mean_reversion]",
    "TB_STRATEGY__MIN_CONFIDENCE": "0",
    "TB_RISK__DAILY_LOSS_LIMIT_PCT": "100",
    "TB_RISK__WEEKLY_LOSS_LIMIT_PCT": "100",
    "TB_EXITS__TIME_LIMIT_MINUTES": "120",
    "TB_EXITS__TRAILING__ENABLED": "true",
    "TB_EXITS__VOLUME_EXHAUSTION_ENABLED": "true",
    "TB_STOPS__MIN_STOP_PCT": "0.5",
    "TB_STOPS__MAX_STOP_PCT": "3",
    "TB_EXITS__EMERGENCY_LOSS_PCT": "2",
}


def test_backtest_when_the_same_candles_are_replayed_through_the_real_bot_then_the_same_trades(
        redis_server, tmp_path, shared_klines):
    data = tmp_path / "data"
    data.mkdir()
    for name in FILES.values():
        lines = (shared_klines / name).read_text().splitlines()[: ROWS + 1]
        (data / name).write_text("\n".join(lines) + "\n")
    files = "{" + ", ".join(f"{sym}: {data / name}" for sym, name in FILES.items()) + "}"
    replay_env = {
        **STRATEGY_ENV,
        "TB_BOT__SYMBOLS": "[" + ", ".join(FILES) + "]",
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": files,
        "TB_MARKET_DATA__REPLAY__SPEED": "0",
        "TB_MARKET_DATA__REPLAY__LOOP": "false",
    }
    store = StateStore(connect(redis_server.url), "bp" + uuid.uuid4().hex[:10])
    fleet = BotFleet(store, redis_server.url, tmp_path, **replay_env)
    try:
        # Act 1: the real bot replays the files to their end
        fleet.start_bot("paper")
        wait_for(lambda: store.read_state().get("data_exhausted") == "1", 120, "the replay's end", interval_s=0.2,
                 on_timeout=fleet.logs)
        bot_trades = sorted(store.read_trades(5000), key=lambda t: (t.exit_ms, t.trade_id))

        # Act 2: the backtest on the same files, with the same settings
        done = run_cli(["backtest", "--data", str(data), "--json"], fleet.env, timeout_s=120)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
    finally:
        fleet.cleanup()
        store.wipe()

    # Assert: the same trades, field by field
    assert len(bot_trades) >= 5, f"too few trades to compare: {len(bot_trades)}"
    backtest = sorted(result["trades"], key=lambda t: (t["exit_time"], t["trade_id"]))
    assert [t["trade_id"] for t in backtest] == [t.trade_id for t in bot_trades]
    for ours, theirs in zip(backtest, bot_trades):
        assert (ours["symbol"], ours["side"], ours["qty"], ours["entry_price"], ours["exit_price"], ours["fees"],
                ours["pnl"], ours["exit_reason"]) == (
            theirs.symbol, theirs.side.value, str(theirs.qty), str(theirs.entry_price), str(theirs.exit_price),
            str(theirs.fees), str(theirs.pnl), theirs.exit_reason.value), ours["trade_id"]
