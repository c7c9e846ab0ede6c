"""A take-profit switched on or off between two runs of the same bot with a position open (s6-bt: a
switched-off take-profit rests nowhere, `ExitRules.rests_take_profit`). The paper executor on the simulated
venue saved in the test's Redis; a restart is a new venue client and a new engine reading both back."""

from __future__ import annotations

from decimal import Decimal

from models import OrderType
from risk.exits import OUT_OF_REACH
from tests.integration.test_take_profit_off import BTC, bot, candles, enter_long, resting


def test_restart_when_the_take_profit_was_switched_off_then_none_rests_for_the_open_trade(store):
    """Defect (low, found by s6-attack2; on main and before s6-bt alike): the take-profit placed by the
    run that had it on keeps resting after a restart with it off, and closes the trade there: README's
    'a take-profit switched off rests nowhere' holds only for trades opened after the switch. Nothing in
    the reconcile or the protection check removes it, and nothing tells the trader it still rests."""
    first, _ = bot(store, take_profit=True)
    enter_long(first)

    again, venue = bot(store, take_profit=False)
    notes = again.executor.reconcile()
    again.engine.process(candles(40, 3, swings=False))

    assert [kind for kind, _ in resting(venue)] == ["sl0"], notes


def test_restart_when_the_take_profit_was_switched_on_then_no_order_a_thousand_times_the_entry(store):
    """Defect (low, found by s6-attack2): the trade opened with the take-profit off remembers it out of
    reach (a thousand times the entry); a restart with it on has the protection check place that as a real
    take-profit order: an order that protects nothing (what s6-bt removed), and one Binance's price filter
    (BTCUSDT's maxPrice is about 4.5 M) may refuse on every candle."""
    first, _ = bot(store, take_profit=False)
    enter_long(first)

    again, venue = bot(store, take_profit=True)
    again.executor.reconcile()
    again.engine.process(candles(40, 3, swings=False))

    [position] = venue.positions()
    far = [o for o in venue.open_orders(BTC) if o.order_type is OrderType.TAKE_PROFIT_MARKET
           and o.stop_price >= position.entry_price * OUT_OF_REACH / 2]
    assert far == []
