"""Funding reaches trades: the paper executor books every funding payment the simulated venue settles on a
position into the trade that held it, so a trade's P&L is gross − fees − funding and the trades add up to
the wallet to the last digit.

The venue is the real simulator (in memory, as a backtest runs it) with its configured funding rate; the
position is held across several 8-hour funding times on hourly candles.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from clock import SimulatedClock
from exchange_client import SimVenueClient, load_symbol_rules_for
from executors.paper import PaperExecutor
from models import Candle, EntryPlan, ExitReason, Side
from risk.exits import ExitRules
from settings import load_settings
from simulator import SimConfig, SimExchange

ETH = "ETH/USDT:USDT"
HOUR = 3_600_000
T0 = 1_746_000_000_000  # 2025-04-30 08:00 UTC, itself a funding time
RATE = Decimal("0.0003")


def hourly(hour: int, close: str) -> Candle:
    price = Decimal(close)
    return Candle(ETH, "1h", T0 + hour * HOUR, price, price + 1, price - 1, price, Decimal("1000"))


def new_executor(store, venue: SimVenueClient, clock: SimulatedClock) -> PaperExecutor:
    s = load_settings(environ={})
    executor = PaperExecutor(venue=venue, store=store, rules=ExitRules(s.exits, s.venue.taker_fee_rate), clock=clock)
    executor.load()
    return executor


def new_venue(clock: SimulatedClock) -> SimVenueClient:
    s = load_settings(environ={"TB_VENUE__FUNDING_RATE": str(RATE)})
    return SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s))


def held_across_funding(store, side: Side, hours: int) -> tuple[PaperExecutor, SimulatedClock]:
    """An ETH position opened on the first candle and held `hours` hourly candles (prices drift up)."""
    clock = SimulatedClock(T0 + HOUR)
    executor = new_executor(store, new_venue(clock), clock)
    executor.on_candle(hourly(0, "3000"))
    stop, take_profit = (Decimal("2000"), Decimal("4000")) if side is Side.LONG else (Decimal("4000"), Decimal("2000"))
    executor.submit(EntryPlan("ETH1746000000" + side.value[0].upper(), ETH, side, Decimal("2"), Decimal("3000"),
                              stop, take_profit, "test", "test"))
    for hour in range(1, hours + 1):
        clock.set(T0 + (hour + 1) * HOUR)
        assert executor.on_candle(hourly(hour, str(3000 + 5 * hour))) == []
    return executor, clock


@pytest.mark.parametrize("side, pays", [(Side.LONG, True), (Side.SHORT, False)])
def test_close_when_the_position_was_held_across_funding_times_then_the_trade_carries_the_funding_and_trades_sum_to_the_wallet(
        store, side, pays):
    # Arrange: 25 hourly candles cross the funding times 16:00, 00:00 and 08:00
    executor, _ = held_across_funding(store, side, hours=25)
    paid = executor.venue.exchange.funding_by_symbol()[ETH]

    # Act
    trade = executor.close(ETH, ExitReason.MANUAL)

    # Assert
    assert trade is not None
    ledger = executor.venue.exchange.ledger()
    start = ledger.starting_balance
    assert (paid > 0) is pays and paid != 0
    assert trade.funding == paid == ledger.funding
    assert trade.pnl == trade.gross_pnl - trade.fees - trade.funding
    assert ledger.wallet_balance - start == trade.pnl  # exactly: nothing left between the wallet and the trades
    assert executor.venue.pending_funding() == []  # booked and acknowledged


def test_restart_when_funding_was_booked_but_not_acknowledged_then_it_is_charged_once(store):
    # Arrange: funding settled at the venue and booked into the trade; the crash comes before the ack
    executor, clock = held_across_funding(store, Side.LONG, hours=6)
    venue = executor.venue
    clock.set(T0 + 8 * HOUR)
    venue.on_candle(hourly(7, "3035"))  # closes at 16:00: one settlement queued at the venue
    [payment] = venue.pending_funding()
    executor._apply_funding(payment)
    del executor

    # Act: the restarted bot over the same store and venue reads the queue again, then closes
    restarted = new_executor(store, venue, clock)
    restarted.reconcile()
    trade = restarted.close(ETH, ExitReason.MANUAL)

    # Assert
    assert trade is not None and trade.funding == payment.amount == venue.exchange.ledger().funding
    assert venue.exchange.ledger().wallet_balance - venue.exchange.ledger().starting_balance == trade.pnl


def test_snapshot_when_funding_is_queued_then_the_restored_venue_still_queues_it():
    clock = SimulatedClock(T0 + HOUR)
    venue = new_venue(clock)
    ex = venue.exchange
    ex.on_candle(hourly(0, "3000"))
    from models import OrderIntent, OrderSide, OrderType
    ex.submit(OrderIntent("buy", ETH, OrderSide.BUY, Decimal("1"), OrderType.MARKET))
    for hour in range(1, 9):
        clock.set(T0 + (hour + 1) * HOUR)
        ex.on_candle(hourly(hour, "3000"))

    restored = SimExchange.restore(ex.snapshot(), venue.config, clock, venue.rules)

    assert restored.pending_funding() == ex.pending_funding() != []
    assert restored.pending_funding()[0].amount == Decimal("3000") * RATE
