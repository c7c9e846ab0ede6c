"""A halt set while a tick runs stops every entry of that tick not yet placed, on the bot's real store:
the simulated venue in this Redis checks the trading state in the atomic step that places an entry (its
save script), so the engine no longer reads the halt flag itself before each entry. Real Redis, the
engine as the bot assembles it, the synthetic market."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from errors import TradingHaltedError
from exchange_client import SimVenueClient
from marketdata.synthetic import SyntheticSource
from models import Candle, HaltCause, Mode, OrderIntent, OrderSide, OrderType
from settings import load_settings
from simulator import SimConfig
from simulator.symbols import BUILTIN_RULES
from state import StateStore

SYMBOLS = sorted(BUILTIN_RULES)
BTC = "BTC/USDT:USDT"



def stop_trading(dashboard: StateStore, how: str) -> None:
    """What the dashboard, the risk monitor or a flushed Redis does to the bot: `flag` (the kill switch),
    `state HALTED` / `state REDUCING`, or `run marker gone`."""
    if how == "flag":
        dashboard.set_halt("kill switch", "dashboard", 0, HaltCause.KILL_SWITCH)
    elif how == "run marker gone":
        dashboard.client.delete(dashboard.key("epoch"))
    elif how == "state unreadable":  # a hand edit or a corrupt write: no state the bot knows
        dashboard.client.hset(dashboard.key("state"), "trading_state", b"HALT\xffED")
    else:
        dashboard.write_state(trading_state=how.split()[-1])

def paper_bot(store: StateStore):
    settings = load_settings(None, {"TB_BOT__MODE": "paper", "TB_BOT__SYMBOLS": "[" + ", ".join(SYMBOLS) + "]",
                                    "TB_MARKET_DATA__SOURCE": "synthetic"})
    feed_clock = SimulatedClock(1_780_000_000_000)
    source = SyntheticSource.from_settings(settings, feed_clock)
    parts = assemble(settings, store, Mode.PAPER, market_clock=SimulatedClock(0), wall_clock=SystemClock())
    parts.executor.load()
    parts.scorer.load()
    parts.engine.warm_up(source.backfill(settings.market_data.backfill_candles))
    step = int(settings.market_data.synthetic.candle_seconds * 1000)

    def poll() -> list:
        feed_clock.advance(step)
        return source.poll()

    return parts, poll


def test_tick_when_the_dashboard_halts_after_its_first_entry_then_no_later_entry_of_the_tick_is_placed(store, redis_url):
    parts, poll = paper_bot(store)
    engine, dashboard = parts.engine, StateStore.open(redis_url, store.bot_id)
    halted_at: list[int] = []

    def halt_after_the_first_entry() -> bool:  # asked between the tick's candles
        if engine.stats.entries and not halted_at:
            dashboard.set_halt("operator halt from the dashboard", "dashboard", 0, HaltCause.OPERATOR)
            halted_at.append(engine.stats.entries)
        return False

    for _ in range(50):
        engine.process(poll(), should_stop=halt_after_the_first_entry)
        if halted_at:
            break

    assert halted_at == [1] and engine.stats.entries == 1
    refused = [a for a in store.read_audit(1000) if a.kind == "skip" and "halted before the order was sent" in a.message]
    assert refused, "the tick had no entry after the halt: the test proves nothing"
    venue = SimVenueClient(SimConfig(), SimulatedClock(0), BUILTIN_RULES, store=store.venue_store("sim"))
    assert len(venue.positions()) == 1  # the entry placed before the halt, and only it
    assert [o for o in venue.open_orders() if not o.reduce_only] == []
    assert len(parts.executor.trade_states()) == 1  # no trade booked for an entry never placed
    assert parts.executor.breaker.consecutive == 0  # the bot's halt is no venue failure


def venue_of(store: StateStore) -> SimVenueClient:
    return SimVenueClient(SimConfig(leverage=10, starting_balance=D("100000")), SimulatedClock(0), BUILTIN_RULES,
                          store=store.venue_store("sim"))


@pytest.mark.parametrize("halt", ["flag", "state HALTED", "state REDUCING", "run marker gone", "state unreadable"])
def test_entry_order_when_the_bot_stops_being_active_before_its_save_then_it_is_not_placed(store, redis_url, halt):
    venue = venue_of(store)
    price = D("100000")
    venue.on_candle(Candle(BTC, "1m", 0, price, price, price, price, D("10")))
    store.epoch = store.claim_epoch("run-1", 0)  # a bot process works under its run marker
    venue.submit(OrderIntent("BTC-en1", BTC, OrderSide.BUY, D("0.5"), created_ms=0))  # placed: ACTIVE
    venue.ack_fills(venue.pending_fills())
    dashboard = StateStore.open(redis_url, store.bot_id)
    entry = OrderIntent("BTC-en2", BTC, OrderSide.BUY, D("0.5"), created_ms=60_000)  # adds to the position

    with store.batch(), venue.batch():
        venue.positions()  # the tick's one version check
        store.save_intent(entry, "pending", queued=True)
        stop_trading(dashboard, halt)
        with pytest.raises(TradingHaltedError):
            venue.submit(entry)
        # a reduce-only order (a protective stop, a close) still goes while halted
        venue.submit(OrderIntent("BTC-sl", BTC, OrderSide.SELL, D("0.5"), OrderType.STOP_MARKET,
                                 stop_price=D("95000"), reduce_only=True))

    restarted = venue_of(store)
    assert restarted.fetch_order(BTC, "BTC-en2") is None and venue.fetch_order(BTC, "BTC-en2") is None
    assert [p.qty for p in restarted.positions()] == [D("0.5")]
    assert [o.client_order_id for o in restarted.open_orders()] == ["BTC-sl"]
