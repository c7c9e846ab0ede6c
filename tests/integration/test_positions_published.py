"""What the bot publishes as open (the positions the dashboard shows) follows the venue at each entry and
exit, not only at the next equity snapshot: a real paper bot on real candles (../shared/data/klines, BTC)
replayed at 40 candles a second, trading the bare EMA crossing, with snapshots a minute apart."""

from __future__ import annotations

import json
import uuid

import pytest

from state import StateStore, connect

from processes import BotFleet, read_venue, wait_for

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
FILE = "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"
SNAPSHOT_S = 60  # far beyond every deadline below: only a publish at the fill can meet them
FOLLOW_S = 3
HOLD_CANDLES = 200  # 5 s at 40 candles a second: the entry is still open when it is looked for


def ema_cross_env(csv: str) -> dict[str, str]:
    return {
        "TB_BOT__SYMBOLS": f"[{BTC}]",
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": json.dumps({BTC: csv}),
        "TB_MARKET_DATA__REPLAY__SPEED": "2400",
        "TB_MARKET_DATA__REPLAY__LOOP": "true",
        "TB_STRATEGY__ENABLED": "[ema_cross]",
        "TB_STRATEGY__MIN_CONFIDENCE": "0",
        "TB_STRATEGY__ENTRY_SIDES": "long",
        "TB_SIZING__METHOD": "fixed_notional",
        "TB_SIZING__FIXED_NOTIONAL": "1000",
        "TB_STOPS__METHOD": "none",
        "TB_EXITS__TAKE_PROFIT_ENABLED": "false",
        "TB_EXITS__EMERGENCY_ENABLED": "false",
        "TB_EXITS__TIME_LIMIT_ENABLED": "false",
        "TB_EXITS__MIN_HOLD_SECONDS": str(HOLD_CANDLES * 60),
        "TB_RISK__DAILY_LOSS_LIMIT_PCT": "100",
        "TB_RISK__WEEKLY_LOSS_LIMIT_PCT": "100",
        "TB_BOT__EQUITY_SNAPSHOT_SECONDS": str(SNAPSHOT_S),
    }


def published(store: StateStore) -> set[tuple]:
    return {(p.symbol, p.entry_price, p.qty) for p in store.read_positions()}


def at_venue(store: StateStore) -> set[tuple]:
    positions, _ = read_venue(store)
    return {(p.symbol, p.entry_price, p.qty) for p in positions}


def test_positions_when_the_bot_enters_and_exits_then_published_at_once_not_at_the_next_snapshot(
        redis_server, tmp_path, shared_klines):
    store = StateStore(connect(redis_server.url), "pp" + uuid.uuid4().hex[:10])
    fleet = BotFleet(store, redis_server.url, tmp_path, **ema_cross_env(str(shared_klines / FILE)))
    try:
        fleet.start_bot("paper")
        fleet.wait_bot_running(60)
        position = next(iter(wait_for(lambda: at_venue(store), 30, "an entry at the venue", interval_s=0.05,
                                      on_timeout=fleet.logs)))
        wait_for(lambda: position in published(store), FOLLOW_S, f"{position} published after its entry",
                 on_timeout=lambda: f"published: {published(store)}")

        wait_for(lambda: position not in at_venue(store), 60, f"{position} closed at the venue", interval_s=0.05,
                 on_timeout=fleet.logs)
        wait_for(lambda: position not in published(store), FOLLOW_S, f"{position} gone after its exit",
                 on_timeout=lambda: f"published: {published(store)}")
    finally:
        fleet.cleanup()
        store.wipe()
