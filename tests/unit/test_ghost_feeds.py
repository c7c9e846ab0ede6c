"""A ghost trade belongs to the feed it was opened on (issue 12): another feed's candles never price it."""

from __future__ import annotations

from decimal import Decimal as D

from clock import SimulatedClock
from exchange_client import PriceModel
from executors.ghost import GhostExecutor
from memory_store import InMemoryStore
from models import Candle, EntryPlan, ExitReason, Side
from risk.exits import ExitRules
from settings import load_settings
from simulator.symbols import BUILTIN_RULES

BTC = "BTC/USDT:USDT"
T = 1_746_400_000_000 - 1_746_400_000_000 % 60_000


def ghost(store: InMemoryStore, feed: str) -> GhostExecutor:
    s = load_settings(environ={"TB_BOT__SYMBOLS": f"[{BTC}]"})
    executor = GhostExecutor(store=store, rules=ExitRules(s.exits, s.venue.taker_fee_rate),
                             prices=PriceModel.from_settings(s, BUILTIN_RULES), clock=SimulatedClock(T),
                             starting_balance=s.venue.starting_balance, leverage=3, **({"feed": feed} if feed else {}))
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


def test_on_candle_when_a_ghost_long_holds_across_a_funding_time_then_it_pays_funding_as_the_venue_would():
    # Arrange: a long of 0.01 BTC entered on the candle closing 07:58 UTC; funding 0.01 % every 8 h
    store = InMemoryStore()
    executor = ghost(store, "")
    day = T - T % 86_400_000 + 86_400_000  # the next UTC day: the clock only goes forward
    before = Candle(BTC, "1m", day + 8 * 3_600_000 - 3 * 60_000, D("20000"), D("20005"), D("19995"), D("20000"), D("100"))
    executor.on_candle(before)
    executor.clock.set(day + 8 * 3_600_000 - 2 * 60_000)
    executor.submit(EntryPlan("t1", BTC, Side.LONG, D("0.01"), D("20000"), D("10000"), D("40000"), "test", "test"))

    # Act: candles closing 07:59 and 08:00 (the 08:00 settlement, at its close 20,100), then an exit
    for minute, close in ((-2, "20050"), (-1, "20100")):
        c = D(close)
        executor.on_candle(Candle(BTC, "1m", day + 8 * 3_600_000 + minute * 60_000, c, c + 5, c - 5, c, D("100")))
    trade = executor.close(BTC, ExitReason.MANUAL)

    # Assert: 0.01 × 20,100 × 0.0001 = 0.0201 paid (0 before the fix), inside the trade's P&L and the wallet
    assert trade.funding == D("0.0201")
    assert trade.pnl == trade.gross_pnl - trade.fees - trade.funding
    assert executor.portfolio().account.wallet_balance == executor.starting_balance + trade.pnl  # the sum of trades
