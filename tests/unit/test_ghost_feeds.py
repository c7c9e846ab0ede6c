"""A ghost trade belongs to the feed it was opened on (issue 12): another feed's candles never price it."""

from __future__ import annotations

from decimal import Decimal as D

from clock import SimulatedClock
from exchange_client import PriceModel
from executors.ghost import GhostExecutor
from memory_store import InMemoryStore
from models import Candle, EntryPlan, Side
from risk.exits import ExitRules
from settings import load_settings
from simulator.symbols import BUILTIN_RULES

BTC = "BTC/USDT:USDT"
T = 1_746_400_000_000 - 1_746_400_000_000 % 60_000


def ghost(store: InMemoryStore, feed: str) -> GhostExecutor:
    s = load_settings(environ={"TB_BOT__SYMBOLS": f"[{BTC}]"})
    executor = GhostExecutor(store=store, rules=ExitRules(s.exits, s.venue.taker_fee_rate),
                             prices=PriceModel.from_settings(s, BUILTIN_RULES), clock=SimulatedClock(T),
                             starting_balance=s.venue.starting_balance, leverage=3, feed=feed)
    executor.load()
    return executor


def candle(price: str, minute: int = 0) -> Candle:
    p = D(price)
    return Candle(BTC, "1m", T + minute * 60_000, p, p + 5, p - 5, p, D("100"))


def test_load_when_the_feed_changed_then_open_trades_wait_aside_and_come_back_on_their_feed():
    # Arrange: a long at 20,000 on a replay, stop 19,000, target 21,000
    store = InMemoryStore()
    first = ghost(store, "replay:btc.csv")
    first.on_candle(candle("20000"))
    first.submit(EntryPlan("t1", BTC, Side.LONG, D("0.01"), D("20000"), D("19000"), D("21000"), "test", "test"))

    # Act: the bot on the synthetic feed, BTC at 95,000, then back on the replay
    synthetic = ghost(store, "synthetic:seed 42")
    closed_on_synthetic = synthetic.on_candle(candle("95000", 1))
    aside = (synthetic.trade_states(), synthetic.portfolio().positions, synthetic.reconcile())
    back = ghost(store, "replay:btc.csv")

    # Assert: nothing closed at 95,000 (the old code took profit there); the trade returns whole
    assert closed_on_synthetic == []
    assert aside[0] == {} and aside[1] == ()
    assert aside[2] and "kept aside" in aside[2][0]
    assert back.trade_states()[BTC].entry_price == first.trade_states()[BTC].entry_price
    assert back.trade_states()[BTC].stop == D("19000")
    assert "taken up again" in back.reconcile()[0]
