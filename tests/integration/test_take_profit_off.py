"""A take-profit the rules switch off (`exits.take_profit_enabled: false`) rests nowhere: the entry gets its
protective stop only, and the protection check on every candle, a reconcile and a restart take "no
take-profit" as normal (nothing placed, nothing reported). With it on, the stop and the take-profit rest.

The paper executor on the simulated venue saved in the test's Redis, and the bot's state in the same
Redis: a restart is a new venue client and a new engine reading both back, as a new process does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.assembly import EngineParts, assemble
from clock import SimulatedClock, SystemClock
from engine.candles import close_time_ms
from exchange_client import SimVenueClient, load_symbol_rules_for
from models import Candle, Mode, OrderType, Side, Signal
from settings import Settings, load_settings
from simulator import SimConfig
from state import StateStore

BTC = "BTC/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_000_000_000 - 1_746_000_000_000 % (15 * MINUTE)


def settings(take_profit: bool) -> Settings:
    return load_settings(environ={
        "TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STRATEGY__ENABLED": "[]", "TB_VENUE__FUNDING_RATE": "0",
        "TB_EXITS__TAKE_PROFIT_ENABLED": "true" if take_profit else "false",
    })


def candles(start_minute: int, n: int, swings: bool = True) -> list[Candle]:
    """Flat candles, with a swing low every tenth one for the structure stop to stand on (`swings`)."""
    return [Candle(BTC, "1m", T0 + (start_minute + i) * MINUTE, Decimal("100"), Decimal("100.1"),
                   Decimal("98") if swings and i % 10 == 5 else Decimal("99.9"), Decimal("100"), Decimal("1000"))
            for i in range(n)]


def bot(store: StateStore, take_profit: bool) -> tuple[EngineParts, SimVenueClient]:
    """A paper bot as a process builds it: its venue read back from Redis, its memory loaded and reconciled."""
    s = settings(take_profit)
    clock = SimulatedClock(0)
    venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s),
                           store=store.venue_store("sim"))
    parts = assemble(s, store, Mode.PAPER, market_clock=clock, wall_clock=SystemClock(), venue=venue)
    parts.executor.load()
    return parts, venue


def enter_long(parts: EngineParts) -> None:
    history = candles(0, 40)
    parts.engine.warm_up({BTC: history})
    last = history[-1]
    signal = Signal(BTC, Side.LONG, 1.0, last.close, close_time_ms(last), "manual", "test")
    assert parts.engine.try_entry(signal, history, notional=Decimal("1000")) is None


def resting(venue: SimVenueClient) -> list[tuple[str, OrderType]]:
    return sorted((o.client_order_id.rsplit("-", 1)[1], o.order_type) for o in venue.open_orders(BTC))


STOP_ONLY = [("sl0", OrderType.STOP_MARKET)]
STOP_AND_TAKE_PROFIT = [("sl0", OrderType.STOP_MARKET), ("tp", OrderType.TAKE_PROFIT_MARKET)]


@pytest.mark.parametrize("take_profit, expected", [(True, STOP_AND_TAKE_PROFIT), (False, STOP_ONLY)])
def test_entry_when_the_take_profit_is_on_or_off_then_the_stop_rests_and_the_take_profit_only_when_on(
        store, take_profit, expected):
    parts, venue = bot(store, take_profit)

    enter_long(parts)

    [position] = venue.positions()
    assert resting(venue) == expected
    assert all(o.qty == position.qty and o.reduce_only for o in venue.open_orders(BTC))


def test_candles_when_the_take_profit_is_off_then_the_protection_check_places_none_and_reports_nothing(store):
    parts, venue = bot(store, take_profit=False)
    enter_long(parts)
    events_before = len(store.read_audit(1000))

    parts.engine.process(candles(40, 20, swings=False))  # nothing triggers

    assert len(venue.positions()) == 1 and resting(venue) == STOP_ONLY
    new_events = store.read_audit(1000)[: len(store.read_audit(1000)) - events_before]
    assert [e for e in new_events if e.kind in ("error", "reconcile")] == []


@pytest.mark.parametrize("take_profit, expected", [(True, STOP_AND_TAKE_PROFIT), (False, STOP_ONLY)])
def test_restart_when_the_take_profit_is_on_or_off_then_reconcile_repairs_nothing_and_places_no_take_profit(
        store, take_profit, expected):
    first, _ = bot(store, take_profit)
    enter_long(first)
    trade = first.executor.trade_states()[BTC]

    again, venue = bot(store, take_profit)  # a new process: the venue and the memory from Redis
    notes = again.executor.reconcile()

    assert notes == [] and again.executor.trade_states()[BTC] == trade
    assert resting(venue) == expected


def test_restart_when_a_missing_stop_and_the_take_profit_is_off_then_only_the_stop_is_placed_again(store):
    first, venue = bot(store, take_profit=False)
    enter_long(first)
    [stop] = venue.open_orders(BTC)
    venue.cancel(BTC, stop.client_order_id)  # lost while the bot was away

    again, venue = bot(store, take_profit=False)
    notes = again.executor.reconcile()

    assert notes == [] and resting(venue) == [("sl1", OrderType.STOP_MARKET)]
    [placed] = venue.open_orders(BTC)
    assert placed.stop_price == stop.stop_price and placed.qty == venue.positions()[0].qty
