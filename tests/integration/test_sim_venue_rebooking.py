"""The simulated venue saved in parts (venues/sim.py, state.VenueSnapshotStore), as an attack found it: a fill
booked in a tick must never be booked again on the next trade when the tick's venue copy is reloaded (another
process saved meanwhile, or an order was refused), and a version from before the parts must refuse the
venue loudly, never read it as a fresh account.

A real Redis throughout; a second StateStore over it is the supervisor (another process)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from clock import SimulatedClock
from exchange_client import SimVenueClient, load_symbol_rules_for
from errors import OrderRejectedError
from models import EntryPlan, ExitReason, OrderIntent, OrderSide, Side
from settings import load_settings
from simulator import SimConfig, SimExchange
from state import StateStore
from tests.integration.test_fill_path_crash import ETH, MINUTE, T0, candle, stopped_out

BTC = "BTC/USDT:USDT"


def supervisor_venue(redis_url: str, store: StateStore, clock: SimulatedClock) -> SimVenueClient:
    """The supervisor's own client of the bot's simulated venue (its own connection, as another process)."""
    s = load_settings(environ={"TB_VENUE__FUNDING_RATE": "0"})
    other = StateStore.open(redis_url, store.bot_id)
    return SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s),
                          store=other.venue_store("sim"))


def second_trade_stopped(executor, clock: SimulatedClock) -> list:
    """The next candle runs through the second trade's stop; the trades the bot records."""
    clock.set(T0 + 4 * MINUTE)
    return executor.on_candle(candle(3, "2750", "2760")) + executor.take_unreported_trades()


def assert_trades_add_up_to_the_venue(first: list, executor, clock: SimulatedClock) -> None:
    """What a user checks on the Trades tab: the trades' gross P&L adds up to the account's realized P&L."""
    trades = first + second_trade_stopped(executor, clock)
    assert [t.trade_id for t in trades] == ["ETH1746000000L", "ETH1746000120L"]
    recorded = sum((t.gross_pnl for t in trades), Decimal(0))
    assert recorded == executor.venue.ledger().realized_pnl, [(t.trade_id, t.gross_pnl) for t in trades]


def second_long() -> EntryPlan:
    return EntryPlan("ETH1746000120L", ETH, Side.LONG, Decimal("1"), Decimal("2880"), Decimal("2800"),
                     Decimal("3100"), "test", "test")


def test_new_entry_in_the_tick_when_the_supervisor_saved_after_the_exit_was_booked_then_the_old_exit_is_not_booked_on_the_new_trade(
        redis_url, store):
    executor, clock = stopped_out(store)
    supervisor = supervisor_venue(redis_url, store, clock)

    with store.batch(), executor.venue.batch():
        finished = executor._process_fills()  # the stop's fill booked; its acknowledgement waits for a save
        assert [t.exit_reason for t in finished] == [ExitReason.STOP_LOSS]
        # the supervisor's kill switch flattens meanwhile (the bot frozen a moment): nothing left to close,
        # but it saves the venue, so the bot's next save is refused and redone on the supervisor's state
        supervisor.cancel_all()
        executor.submit(second_long())

    # the new trade's ledger already holds the first trade's stop fill: its row will carry that loss again
    assert_trades_add_up_to_the_venue(finished, executor, clock)


def test_new_entry_in_the_tick_when_nobody_else_saved_then_the_new_trade_starts_clean(redis_url, store):
    # the control: the same tick without the supervisor's save
    executor, clock = stopped_out(store)
    with store.batch(), executor.venue.batch():
        finished = executor._process_fills()
        executor.submit(second_long())
    assert_trades_add_up_to_the_venue(finished, executor, clock)


def test_new_entry_in_the_tick_when_an_order_was_rejected_after_the_exit_was_booked_then_the_old_exit_is_not_booked_on_the_new_trade(
        store):
    # no other process at all: a rejected order (here a BTC market order before the venue has a BTC price;
    # margin or minimum-notional refusals go the same way) reloads the venue's copy, and the reload drops the
    # acknowledgement of the fills booked earlier in the tick
    executor, clock = stopped_out(store)

    with store.batch(), executor.venue.batch():
        finished = executor._process_fills()
        with pytest.raises(OrderRejectedError):
            executor.venue.submit(OrderIntent("BTC1-en", BTC, OrderSide.BUY, Decimal("0.01")))
        executor.submit(second_long())

    assert_trades_add_up_to_the_venue(finished, executor, clock)


def test_venue_saved_in_parts_when_a_process_of_the_older_version_reads_it_then_it_does_not_take_it_for_an_empty_account(
        store):
    # the older version (before cf19666, run from `git worktree add --detach ... cf19666~1`) reads the venue
    # from the hash's `data` field only, and starts a fresh account with the whole starting balance when it is
    # absent, saving that whole over the parts at its next save: a rollback, or a supervisor or dashboard still
    # running the older code, silently wipes the paper account (shown by hand in the attack report). What it
    # reads must be the account or a format it refuses (its restore raises on an unknown format), never nothing.
    s = load_settings(environ={"TB_VENUE__FUNDING_RATE": "0"})
    venue = SimVenueClient(SimConfig.from_settings(s.venue), SimulatedClock(T0), load_symbol_rules_for(s),
                           store=store.venue_store("sim"))
    venue.on_candle(candle(0, "2999", "3000"))
    venue.submit(OrderIntent("ETH1-en", ETH, OrderSide.BUY, Decimal("1")))
    assert venue.positions()

    what_the_older_version_reads = store.client.hget(store.venue_store("sim").key, "data")

    assert what_the_older_version_reads is not None
    with pytest.raises(ValueError, match="unknown simulator snapshot format"):  # as the older restore checks it
        SimExchange.restore(json.loads(what_the_older_version_reads), SimConfig.from_settings(s.venue),
                            SimulatedClock(T0), load_symbol_rules_for(s))
    restarted = SimVenueClient(SimConfig.from_settings(s.venue), SimulatedClock(T0), load_symbol_rules_for(s),
                               store=store.venue_store("sim"))
    assert restarted.positions() == venue.positions()  # this version reads the parts past the marker
