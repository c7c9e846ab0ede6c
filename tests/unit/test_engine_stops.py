"""Moving stops: the engine puts a moved stop on the tick, exits at market when it moved to or through the
close (the venue would refuse that stop), and the paper executor never drops the old stop before a new
one rests on the venue. Ghost and paper must do the same thing on the same candle."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from clock import SimulatedClock, SystemClock
from engine.candles import close_time_ms
from models import TradeState
from risk.exits import ExitRules
from bot.assembly import EngineParts, assemble
from errors import OrderRejectedError
from exchange_client import SimVenueClient, load_symbol_rules_for
from models import EntryPlan
from executors.paper import PaperExecutor
from order_ids import exit_order_id
from models import Candle, ExitReason, Mode, OrderIntent, OrderSide, OrderType, Side, Signal, Trade
from settings import Settings, load_settings
from simulator import SimConfig
from memory_store import InMemoryStore
from stores import EngineStore

BTC = "BTC/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_000_000_000 - 1_746_000_000_000 % (15 * MINUTE)


def settings() -> Settings:
    return load_settings(environ={
        "TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STRATEGY__ENABLED": "[]", "TB_VENUE__FUNDING_RATE": "0",
        "TB_EXITS__TRAILING__ACTIVATION_PCT": "0.5", "TB_EXITS__TRAILING__TRAIL_PCT": "0.5",
    })


def candle(minute: int, o: str, h: str, lo: str, c: str) -> Candle:
    return Candle(BTC, "1m", T0 + minute * MINUTE, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal("1000"))


def v_shape() -> list[Candle]:
    closes = ["100"] * 40 + [f"{100 - i * 0.1:.2f}" for i in range(16)] + [f"{98.5 + i * 0.1:.2f}" for i in range(1, 16)]
    out, previous = [], Decimal(closes[0])
    for i, raw in enumerate(closes):
        close = Decimal(raw)
        out.append(Candle(BTC, "1m", T0 + i * MINUTE, previous, max(previous, close) + Decimal("0.05"),
                          min(previous, close) - Decimal("0.05"), close, Decimal("1000")))
        previous = close
    return out


def engine_with_a_long(store: EngineStore, mode: Mode) -> EngineParts:
    s = settings()
    clock = SimulatedClock(0)
    venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s)) if mode is Mode.PAPER else None
    parts = assemble(s, store, mode, market_clock=clock, wall_clock=SystemClock(), venue=venue)
    candles = v_shape()
    parts.engine.warm_up({BTC: candles})
    last = candles[-1]
    signal = Signal(BTC, Side.LONG, 1.0, last.close, close_time_ms(last), "manual", "test")
    assert parts.engine.try_entry(signal, candles, notional=Decimal("1000")) is None
    return parts


def comparable(t: Trade) -> tuple:
    return t.symbol, t.side, t.qty, t.entry_price, t.exit_price, t.exit_reason, t.entry_ms, t.exit_ms, t.fees, t.pnl


# ----------------------------------------------------------------------------------- exit rules


@pytest.mark.parametrize(
    "side, close, exits",
    [
        (Side.LONG, "100.51", False), (Side.LONG, "100.50", True), (Side.LONG, "100.30", True),
        (Side.SHORT, "100.49", False), (Side.SHORT, "100.50", True), (Side.SHORT, "100.70", True),
    ],
)
def test_stop_through_close_when_the_close_is_at_or_beyond_the_stop_then_exit_for_the_stops_reason(side, close, exits):
    # Arrange
    rules = ExitRules(settings().exits, Decimal("0"))
    state = TradeState(BTC, side, Decimal("1"), Decimal("100"), T0, Decimal("100.50"), Decimal("110"), Decimal("98"),
                       Decimal("101"), breakeven_moved=True, trailing_active=True)

    # Act
    decision = rules.stop_through_close(state, candle(0, "100.6", "101", "100.2", close))

    # Assert
    assert (decision.reason if decision else None) == (ExitReason.TRAILING_STOP if exits else None)
    if decision:
        assert decision.price == Decimal(close)


# --------------------------------------------------------------------------------------- engine


def test_on_candle_when_the_trailing_stop_moves_through_the_close_then_ghost_and_paper_exit_at_market_alike(store):
    # Arrange: a long at 100; a spike to 101 activates the trail (0.5 % behind: 100.495 → 100.5 on the
    # tick) and closes at 100.3, below it
    other = InMemoryStore("paper")
    ghost = engine_with_a_long(store, Mode.GHOST)
    paper = engine_with_a_long(other, Mode.PAPER)
    spike = candle(len(v_shape()), "100", "101", "99.95", "100.3")

    # Act
    ghost_trades = ghost.engine.on_candle(spike)
    paper_trades = paper.engine.on_candle(spike)

    # Assert
    assert [t.exit_reason for t in ghost_trades] == [ExitReason.TRAILING_STOP]
    assert [comparable(t) for t in paper_trades] == [comparable(t) for t in ghost_trades]
    assert ghost_trades[0].exit_ms == close_time_ms(spike)
    assert ghost_trades[0].exit_price < Decimal("100.3")  # a market exit: it slips
    assert paper.venue.positions() == [] and paper.venue.open_orders() == []
    assert [e for e in other.read_audit(100, kinds=["error"])] == []


def test_on_candle_when_the_trail_moves_but_stays_below_the_close_then_the_venue_stop_follows_on_the_tick(store):
    # Arrange
    paper = engine_with_a_long(store, Mode.PAPER)
    trade_id = next(iter(paper.executor.trade_states().values())).trade_id

    # Act: up to 101 and closing there: the trail (100.495) moves up to 100.5 and rests below the close
    trades = paper.engine.on_candle(candle(len(v_shape()), "100", "101", "99.95", "101"))

    # Assert
    assert trades == []
    assert [(o.client_order_id, o.stop_price) for o in paper.venue.open_orders() if o.order_type.value == "stop_market"] == [
        (f"{trade_id}-sl1", Decimal("100.5"))
    ]
    assert paper.executor.trade_states()[BTC].stop == Decimal("100.5")


# ------------------------------------------------------------------------------- paper executor


def test_move_stop_when_the_venue_refuses_the_new_stop_then_the_old_one_stays_on_the_venue_and_in_memory():
    # Arrange: a long at 100,000 with its stop at 99,000 on an in-memory simulated venue
    s = settings()
    clock = SimulatedClock(MINUTE)
    venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s))
    executor = PaperExecutor(venue=venue, store=None, rules=ExitRules(s.exits, s.venue.taker_fee_rate), clock=clock)
    price = Decimal("100000")
    venue.on_candle(Candle(BTC, "1m", 0, price, price, price, price, Decimal("10")))
    executor.submit(EntryPlan("BTC60L", BTC, Side.LONG, Decimal("0.01"), price, Decimal("99000"), Decimal("102000"), "t", "t"))
    before = executor.trade_states()[BTC]

    # Act: a stop above the mark would trigger at once; Binance and the simulator refuse it
    with pytest.raises(OrderRejectedError):
        executor.move_stop(replace(before, stop=Decimal("100100"), peak_price=Decimal("100300"), trailing_active=True))

    # Assert: still protected by the old stop; memory keeps the old stop (and learns the new peak)
    assert sorted((o.client_order_id, o.stop_price) for o in venue.open_orders()) == [
        ("BTC60L-sl0", Decimal("99000")), ("BTC60L-tp", Decimal("102000"))
    ]
    after = executor.trade_states()[BTC]
    assert after == replace(before, peak_price=Decimal("100300"))
    assert executor.book.ledger(BTC).stop_gen == 0


def test_close_when_another_symbols_close_completes_in_the_same_fill_pass_then_its_trade_is_kept():
    # Arrange: longs in BTC and ETH; ETH is flattened straight on the venue (as the supervisor's kill
    # switch does while the bot is frozen), so its fill is still waiting when the bot closes BTC
    eth = "ETH/USDT:USDT"
    s = settings()
    clock = SimulatedClock(MINUTE)
    venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s))
    executor = PaperExecutor(venue=venue, store=None, rules=ExitRules(s.exits, s.venue.taker_fee_rate), clock=clock)
    for symbol, price in ((BTC, Decimal("100000")), (eth, Decimal("2000"))):
        venue.on_candle(Candle(symbol, "1m", 0, price, price, price, price, Decimal("1000")))
    executor.submit(EntryPlan("BTC60L", BTC, Side.LONG, Decimal("0.01"), Decimal("100000"), Decimal("99000"), Decimal("102000"), "t", "t"))
    executor.submit(EntryPlan("ETH60L", eth, Side.LONG, Decimal("0.5"), Decimal("2000"), Decimal("1980"), Decimal("2040"), "t", "t"))
    venue.cancel_all(eth)
    venue.submit(OrderIntent(exit_order_id("ETH60L", ExitReason.KILL_SWITCH), eth, OrderSide.SELL, Decimal("0.5"), OrderType.MARKET, reduce_only=True))

    # Act
    btc_trade = executor.close(BTC, ExitReason.MANUAL)
    others = executor.take_unreported_trades()

    # Assert: the BTC trade comes back from the call, the ETH trade is handed over, not dropped
    assert btc_trade is not None and btc_trade.symbol == BTC and btc_trade.exit_reason is ExitReason.MANUAL
    assert [(t.symbol, t.exit_reason) for t in others] == [(eth, ExitReason.KILL_SWITCH)]
    assert executor.take_unreported_trades() == []
