"""A crash at each exact point of the fill path loses no trade and books none twice.

The paper executor books what the simulated venue filled. The venue lives in a real Redis (its
snapshot), as in the bot; a crash is the executor object being dropped at a chosen point, and the
restart is a new executor over the same Redis and venue (what `main.py bot` builds after SIGKILL). The
points are those where trades used to vanish: after the venue's fill queue was read, and after the
trade's memory was popped but before its row was written.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from clock import SimulatedClock
from risk.exits import ExitRules
from exchange_client import SimVenueClient, load_symbol_rules_for
from models import EntryPlan
from executors.paper import PaperExecutor
from models import Candle, ExitReason, Side
from settings import load_settings
from simulator import SimConfig

ETH = "ETH/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_000_000_000


def candle(minute: int, low: str, close: str) -> Candle:
    return Candle(ETH, "1m", T0 + minute * MINUTE, Decimal("3000"), Decimal("3001"), Decimal(low), Decimal(close),
                  Decimal("1000"))


def new_executor(store, clock: SimulatedClock) -> PaperExecutor:
    """What a (re)started bot builds: its venue client reads the venue's snapshot from Redis."""
    s = load_settings(environ={"TB_VENUE__FUNDING_RATE": "0"})
    venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s), store=store.venue_store("sim"))
    executor = PaperExecutor(venue=venue, store=store, rules=ExitRules(s.exits, s.venue.taker_fee_rate), clock=clock)
    executor.load()
    return executor


def stopped_out(store) -> tuple[PaperExecutor, SimulatedClock]:
    """An ETH long with its stop at 2900; the next candle runs through the stop (the venue fills it)."""
    clock = SimulatedClock(T0)
    executor = new_executor(store, clock)
    executor.on_candle(candle(0, "2999", "3000"))
    plan = EntryPlan("ETH1746000000L", ETH, Side.LONG, Decimal("1"), Decimal("3000"), Decimal("2900"),
                     Decimal("3300"), "test", "test")
    executor.submit(plan)
    clock.set(T0 + 2 * MINUTE)
    executor.venue.on_candle(candle(1, "2850", "2880"))  # the stop triggers at the venue; nothing booked yet
    assert executor.venue.positions() == [] and executor.venue.pending_fills()
    return executor, clock


def restart_and_record(store, clock: SimulatedClock) -> list:
    """The restart: load, reconcile, and write what it reports as the engine does."""
    executor = new_executor(store, clock)
    executor.reconcile()
    trades = executor.take_unreported_trades()
    for trade in trades:
        store.append_trade(trade)
        executor.trade_recorded(trade)
    return trades


@pytest.mark.parametrize("crash_point", ["after_fills_booked", "after_trade_finished", "after_row_written"])
def test_restart_when_the_bot_crashed_inside_the_fill_path_then_the_trade_is_recorded_exactly_once(store, crash_point):
    executor, clock = stopped_out(store)
    fills = executor.venue.pending_fills()
    if crash_point == "after_fills_booked":
        for fill in fills:  # booked into the trade's memory, but the fills never acknowledged at the venue
            executor._apply_fill(fill)
    elif crash_point == "after_trade_finished":
        finished = executor._process_fills()  # acknowledged at the venue; the engine never wrote the row
        assert [t.exit_reason for t in finished] == [ExitReason.STOP_LOSS]
    else:
        finished = executor._process_fills()
        store.append_trade(finished[0])  # the row is written; the crash comes before the copy is released
    del executor

    recovered = restart_and_record(store, clock)
    again = restart_and_record(store, clock)  # and a second restart finds nothing more

    rows = store.read_trades()
    assert len(rows) == 1, rows
    trade = rows[0]
    assert trade.symbol == ETH and trade.exit_reason is ExitReason.STOP_LOSS and trade.qty == Decimal("1")
    assert trade.pnl == trade.gross_pnl - trade.fees and trade.gross_pnl < 0
    assert again == []
    assert (recovered == []) is (crash_point == "after_row_written")
