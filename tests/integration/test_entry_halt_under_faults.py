"""The entry's halt check in the simulated venue's save, under faults: real Redis, real faults
(Redis refusing writes when out of memory), the venue and the executor as the bot builds them."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from errors import StateStoreError, TradingHaltedError
from exchange_client import SimVenueClient
from models import Candle, HaltCause, OrderIntent, OrderSide, OrderType
from simulator import SimConfig
from simulator.symbols import BUILTIN_RULES
from state import StateStore
from tests.integration.test_entry_halted_in_tick import stop_trading

BTC = "BTC/USDT:USDT"
PRICE = D("100000")


def venue_of(store: StateStore) -> SimVenueClient:
    return SimVenueClient(SimConfig(leverage=10, starting_balance=D("100000")), SimulatedClock(0), BUILTIN_RULES,
                          store=store.venue_store("sim"))


@contextmanager
def redis_out_of_memory(store: StateStore):
    """A real fault: Redis refuses every write (OOM) while reads still answer."""
    admin = store.client
    before = admin.config_get("maxmemory")["maxmemory"]
    admin.config_set("maxmemory", "1")
    try:
        yield
    finally:
        admin.config_set("maxmemory", before)


def one_position_bot(store: StateStore) -> SimVenueClient:
    venue = venue_of(store)
    venue.on_candle(Candle(BTC, "1m", 0, PRICE, PRICE, PRICE, PRICE, D("10")))
    store.epoch = store.claim_epoch("run-1", 0)
    venue.submit(OrderIntent("BTC-en1", BTC, OrderSide.BUY, D("0.5"), created_ms=0))
    venue.ack_fills(venue.pending_fills())
    return venue


def entry_save_failed(store: StateStore) -> SimVenueClient:
    """A bot with a position whose next entry (BTC-en2) is applied to the tick's venue copy and then fails to
    save: Redis refuses writes (out of memory)."""
    venue = one_position_bot(store)
    with store.batch(), venue.batch():
        venue.positions()
        with redis_out_of_memory(store), pytest.raises(StateStoreError):
            venue.submit(OrderIntent("BTC-en2", BTC, OrderSide.BUY, D("0.5"), created_ms=60_000))
    return venue


def test_entry_when_its_save_fails_on_redis_then_the_venue_copy_does_not_keep_the_unsaved_order(store):
    # defect: a Redis error in the batched save leaves the entry applied to the tick's venue copy; the version
    # did not move, so the next tick keeps that copy and the next save writes the entry into Redis unchecked
    venue = entry_save_failed(store)
    with store.batch(), venue.batch():  # the bot's loop retries the tick after a StateStoreError
        assert [p.qty for p in venue.positions()] == [D("0.5")]
        assert venue.fetch_order(BTC, "BTC-en2") is None


def test_entry_save_failed_on_redis_when_the_operator_halts_then_a_later_stop_does_not_place_the_entry(store, redis_url):
    # the same defect as a user sees it: the kill switch is pressed after the outage, the bot's next save is a
    # reduce-only stop (no halt check), and it carries the entry Redis never held: a position grows while HALTED
    venue = entry_save_failed(store)
    StateStore.open(redis_url, store.bot_id).set_halt("kill switch", "dashboard", 0, HaltCause.KILL_SWITCH)
    with store.batch(), venue.batch():
        venue.positions()
        venue.submit(OrderIntent("BTC-sl", BTC, OrderSide.SELL, D("0.5"), OrderType.STOP_MARKET,
                                 stop_price=D("95000"), reduce_only=True))
    restarted = venue_of(store)
    assert restarted.fetch_order(BTC, "BTC-en2") is None
    assert [p.qty for p in restarted.positions()] == [D("0.5")]


@pytest.mark.parametrize("halt", ["flag", "state HALTED", "state REDUCING", "run marker gone", "state unreadable"])
def test_entry_outside_a_tick_when_halted_then_refused_and_the_lock_is_free(store, redis_url, halt):
    # the command thread's manual open goes the locked way (no batch)
    venue = one_position_bot(store)
    stop_trading(StateStore.open(redis_url, store.bot_id), halt)
    with pytest.raises(TradingHaltedError):
        venue.submit(OrderIntent("BTC-en2", BTC, OrderSide.BUY, D("0.5"), created_ms=60_000))
    assert not store.client.exists(store.venue_store("sim").key + ":lock")
    other = venue_of(StateStore.open(redis_url, store.bot_id))  # the supervisor's closes are not kept waiting
    other.submit(OrderIntent("BTC-x", BTC, OrderSide.SELL, D("0.5"), reduce_only=True))
    assert venue_of(store).positions() == []


def test_entry_when_a_refused_unlocked_save_is_retried_locked_and_halted_meanwhile_then_refused(store, redis_url):
    venue = one_position_bot(store)
    supervisor_venue = venue_of(StateStore.open(redis_url, store.bot_id))
    dashboard = StateStore.open(redis_url, store.bot_id)
    with store.batch(), venue.batch():
        venue.positions()  # the tick's one version check
        supervisor_venue.cancel_all(BTC)  # another writer moves the version: the unlocked save is refused
        dashboard.set_halt("kill switch", "dashboard", 0, HaltCause.KILL_SWITCH)
        with pytest.raises(TradingHaltedError):
            venue.submit(OrderIntent("BTC-en2", BTC, OrderSide.BUY, D("0.5"), created_ms=60_000))
    assert [p.qty for p in venue_of(store).positions()] == [D("0.5")]


def test_executor_entry_when_its_save_fails_on_redis_and_the_bot_is_halted_then_later_ticks_place_nothing(store, redis_url):
    # the defect above through the bot's own parts: the executor keeps the planned trade in its book, the
    # venue copy keeps the entry, and the next ticks (HALTED by the kill switch meanwhile) save it into Redis
    from models import EntryPlan, Side
    from order_ids import entry_order_id
    from tests.integration.test_entry_halted_in_tick import paper_bot

    parts, poll = paper_bot(store)
    store.epoch = store.epoch or store.claim_epoch("run-1", 0)
    executor, engine = parts.executor, parts.engine
    parts.engine.process(poll())
    symbol = next(s for s in ("ETH/USDT:USDT", "BTC/USDT:USDT") if s not in executor.trade_states())
    price = engine.windows[symbol].candles()[-1].close
    plan = EntryPlan("s5attack1", symbol, Side.LONG, D("0.1") if symbol.startswith("ETH") else D("0.01"), price,
                     price * D("0.9"), price * D("1.2"), "attack", "attack entry")
    with store.batch(), executor.batch():
        executor.portfolio()  # the tick's reads come first: the venue's one version check of the batch
        with redis_out_of_memory(store), pytest.raises(StateStoreError):
            executor.submit(plan)
    StateStore.open(redis_url, store.bot_id).set_halt("kill switch", "dashboard", 0, HaltCause.KILL_SWITCH)
    for _ in range(3):
        with store.batch():
            engine.process(poll())

    assert venue_of(store).fetch_order(symbol, entry_order_id("s5attack1")) is None
    assert symbol not in {p.symbol for p in venue_of(store).positions()}
    assert symbol not in executor.trade_states()


@pytest.mark.parametrize("in_tick", [True, False], ids=["batched", "locked"])
def test_executor_entry_when_halted_then_nothing_is_left_behind(store, redis_url, in_tick):
    from contextlib import nullcontext

    from models import EntryPlan, Side
    from order_ids import entry_order_id
    from tests.integration.test_entry_halted_in_tick import paper_bot

    parts, poll = paper_bot(store)
    store.epoch = store.epoch or store.claim_epoch("run-1", 0)
    executor, engine = parts.executor, parts.engine
    engine.process(poll())
    symbol = next(s for s in ("ETH/USDT:USDT", "BTC/USDT:USDT") if s not in executor.trade_states())
    price = engine.windows[symbol].candles()[-1].close
    plan = EntryPlan("s5attack2", symbol, Side.LONG, D("0.1") if symbol.startswith("ETH") else D("0.01"), price,
                     price * D("0.9"), price * D("1.2"), "attack", "attack entry")
    StateStore.open(redis_url, store.bot_id).set_halt("kill switch", "dashboard", 0, HaltCause.KILL_SWITCH)
    with (store.batch() if in_tick else nullcontext()), (executor.batch() if in_tick else nullcontext()):
        if in_tick:
            executor.portfolio()
        with pytest.raises(TradingHaltedError):
            executor.submit(plan)

    assert [i for i, _ in store.read_intents() if i.client_order_id == entry_order_id("s5attack2")] == []
    assert symbol not in executor.trade_states()
    assert executor.breaker.consecutive == 0
    assert venue_of(store).fetch_order(symbol, entry_order_id("s5attack2")) is None
    assert not [a for a in store.read_audit(10_000) if a.kind in ("order", "venue_order") and "s5attack2" in str(a.data)]
