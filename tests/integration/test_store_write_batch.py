"""One tick's writes as one round trip (StateStore.batch), and what must still be durable first.

A real Redis throughout; a second StateStore over it is another process looking (the supervisor, the
dashboard, the bot after a restart). The crash tests fork a real child that dies inside the batch
(os._exit), so its queued writes are never sent, as with SIGKILL.
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal

import pytest
import redis

from clock import SimulatedClock
from exchange_client import SimVenueClient, load_symbol_rules_for
from executors.paper import PaperExecutor
from risk.exits import ExitRules
from settings import load_settings
from models import (AuditEvent, Candle, EntryPlan, ExitReason, OrderIntent, OrderSide, OrderType, Side, TradingState,
                    to_json)
from simulator import SimConfig
from simulator.symbols import BUILTIN_RULES
from errors import StateStoreError
from state import CANDLES_KEPT, CANDLES_SLACK, StateStore
from stores import Memory
from tests.integration.test_fill_path_crash import ETH, candle, restart_and_record, stopped_out

T0 = 1_746_000_000_000


@pytest.fixture
def onlooker(redis_url: str, store: StateStore) -> StateStore:
    """Another process's view of the same bot."""
    return StateStore.open(redis_url, store.bot_id)


def intent(client_order_id: str = "ETH1-en") -> OrderIntent:
    return OrderIntent(client_order_id=client_order_id, symbol=ETH, side=OrderSide.BUY, qty=Decimal("1"),
                       order_type=OrderType.MARKET, created_ms=T0)


def test_records_in_a_batch_when_it_ends_then_another_process_sees_them_all_in_order(store, onlooker):
    with store.batch():
        for n in range(3):
            store.audit(AuditEvent("state", T0 + n, f"line {n}"))
        store.remember(Memory.OPEN_TRADES, ETH, {"state": {"stop": "2900"}})
        assert onlooker.read_audit() == [] and onlooker.recall(Memory.OPEN_TRADES) == {}

    assert [e.message for e in onlooker.read_audit()] == ["line 0", "line 1", "line 2"]
    assert onlooker.recall(Memory.OPEN_TRADES) == {ETH: {"state": {"stop": "2900"}}}


def test_read_in_a_batch_when_the_batch_wrote_before_then_it_sees_the_write(store):
    with store.batch():
        store.remember(Memory.OPEN_TRADES, ETH, {"peak": "3100"})
        store.write_state(day_start_equity="10000")
        store.forget(Memory.OPEN_TRADES, ETH)
        store.remember(Memory.GHOST_TRADES, ETH, {"qty": "1"})

        assert store.recall(Memory.OPEN_TRADES) == {}
        assert store.recall(Memory.GHOST_TRADES) == {ETH: {"qty": "1"}}
        assert store.read_state()["day_start_equity"] == "10000"


def test_intent_saved_in_a_batch_then_durable_with_every_earlier_write_before_the_order_can_go(store, onlooker):
    with store.batch():
        store.remember(Memory.OPEN_TRADES, ETH, {"state": {"trade_id": "ETH1"}})
        store.save_intent(intent(), "pending")

        # what a restart right now would find: the trade and its intent, so the order is looked up, never re-sent
        assert [(i.client_order_id, status) for i, status in onlooker.read_intents()] == [("ETH1-en", "pending")]
        assert ETH in onlooker.recall(Memory.OPEN_TRADES)


def test_intent_marked_in_a_batch_when_another_process_deleted_it_then_it_stays_deleted(store, onlooker):
    store.save_intent(intent(), "pending")
    with store.batch():
        store.mark_intent("ETH1-en", "new")
        assert [status for _, status in store.read_intents()] == ["new"]
        onlooker.delete_intent("ETH1-en")
        store.mark_intent("ETH1-en", "canceled")

    assert onlooker.read_intents() == []


def test_simulated_venue_change_in_a_batch_when_records_are_queued_then_they_are_durable_with_it(store, onlooker):
    venue = SimVenueClient(SimConfig(), SimulatedClock(T0), BUILTIN_RULES, store=store.venue_store("sim"))
    with store.batch():
        store.remember(Memory.OPEN_TRADES, ETH, {"fills": ["f1"]})
        venue.set_leverage(ETH, 3)

        assert onlooker.venue_store("sim").version() == 1
        assert onlooker.recall(Memory.OPEN_TRADES) == {ETH: {"fills": ["f1"]}}


def test_write_from_another_thread_when_the_batch_holds_earlier_writes_then_it_lands_after_them(store, onlooker):
    with store.batch():
        store.remember(Memory.OPEN_TRADES, ETH, {"peak": "3100"})
        # the command thread's close-all forgets the trade while the trading thread's tick is open
        closer = threading.Thread(target=store.forget, args=(Memory.OPEN_TRADES, ETH))
        closer.start()
        closer.join(timeout=10)
        assert not closer.is_alive()

    assert onlooker.recall(Memory.OPEN_TRADES) == {}


def test_batch_when_redis_is_gone_at_its_end_then_one_clear_error_and_nothing_half_written(redis_url, store, onlooker):
    bot = StateStore.open(redis_url, store.bot_id)
    with pytest.raises(StateStoreError, match="cannot reach Redis"):
        with bot.batch():
            bot.audit(AuditEvent("state", T0, "before"))
            bot.client.connection_pool.connection_kwargs["port"] = 1  # nothing listens there: refused
            bot.client.connection_pool.reset()
            bot.remember(Memory.OPEN_TRADES, ETH, {"peak": "3100"})

    assert onlooker.read_audit() == [] and onlooker.recall(Memory.OPEN_TRADES) == {}


def test_batch_when_redis_refuses_one_of_its_writes_then_one_clear_error_and_the_store_goes_on(store, onlooker):
    store.client.set(store.key("exits"), "a string where a hash belongs")  # every HSET on it: WRONGTYPE

    with pytest.raises(StateStoreError, match="Redis error: .*WRONGTYPE"):
        with store.batch():
            store.audit(AuditEvent("state", T0, "before"))
            store.remember(Memory.OPEN_TRADES, ETH, {"peak": "3100"})

    # a MULTI/EXEC runs its other commands (Redis has no rollback): the connection is left reading nothing old
    assert [e.message for e in onlooker.read_audit()] == ["before"]
    store.client.delete(store.key("exits"))
    with store.batch():
        store.remember(Memory.OPEN_TRADES, ETH, {"peak": "3200"})
    assert store.recall(Memory.OPEN_TRADES) == {ETH: {"peak": "3200"}} == onlooker.recall(Memory.OPEN_TRADES)
    assert store.read_state() == {} and store.trading_state() is TradingState.ACTIVE


def test_round_trip_when_redis_refuses_a_command_as_it_is_queued_then_nothing_of_it_runs(store, onlooker):
    # no store call sends a malformed command: the round trip itself (StateStore._run) is what is tested
    with pytest.raises(redis.exceptions.ResponseError, match="Command # 2 \\(HGET\\).*wrong number of arguments"):
        with store.batch():
            store.audit(AuditEvent("state", T0, "queued"))
            store._run(lambda pipe: pipe.execute_command("HGET", store.key("state")))  # EXECABORT

    assert onlooker.read_audit() == []
    assert store.read_state() == {}


def _restarted_twice_after(child: int, store) -> tuple[list, list, list]:
    """Wait for the crashed bot process, restart the executor twice as the bot would: the trades in the
    stream, and what each restart recorded."""
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    clock = SimulatedClock(T0 + 2 * 60_000)
    recovered = restart_and_record(store, clock)
    again = restart_and_record(store, clock)
    return store.read_trades(), recovered, again


@pytest.mark.parametrize("crash_point", ["after_fills_booked", "after_trade_finished", "after_row_written"])
def test_restart_when_the_bot_died_inside_a_tick_of_the_fill_path_then_the_trade_is_recorded_exactly_once(
        redis_url, store, crash_point):
    child = os.fork()
    if child == 0:  # the bot: its own connection, killed inside the tick with writes still queued
        status = 1
        try:
            bot = StateStore.open(redis_url, store.bot_id)
            executor, _ = stopped_out(bot)
            batch = bot.batch()
            batch.__enter__()
            bot.audit(AuditEvent("state", T0, "queued when the bot died"))
            fills = executor.venue.pending_fills()
            if crash_point == "after_fills_booked":
                for fill in fills:
                    executor._apply_fill(fill)
            else:
                finished = executor._process_fills()  # acknowledged at the venue
                if crash_point == "after_row_written":
                    bot.append_trade(finished[0])
            status = 0
        finally:
            os._exit(status)
    rows, recovered, again = _restarted_twice_after(child, store)

    assert len(rows) == 1, rows
    assert rows[0].symbol == ETH and rows[0].exit_reason is ExitReason.STOP_LOSS and rows[0].qty == Decimal("1")
    assert again == []
    assert (recovered == []) is (crash_point == "after_row_written")
    # the queued line went out with the venue's acknowledgement of the fills, and was lost where none came
    audited = "queued when the bot died" in [e.message for e in store.read_audit()]
    assert audited is (crash_point != "after_fills_booked")


def test_records_in_a_batch_when_they_carry_any_text_then_each_reads_back_exactly(store, onlooker):
    messages = ["plain", 'quotes " and \\ backslash', "line\nbreak\ttab", "arrow → ünïcode 😀", ""]
    with store.batch():
        for n, message in enumerate(messages):
            store.audit(AuditEvent("state", T0 + n, message, {"n": n}))

    assert [(e.message, e.data) for e in onlooker.read_audit()] == [(m, {"n": n}) for n, m in enumerate(messages)]


def test_candles_pushed_in_a_batch_when_a_symbol_has_more_than_are_kept_then_each_keeps_its_newest(store, onlooker):
    def candle(symbol: str, minute: int) -> Candle:
        price = Decimal("3000.5") + minute
        return Candle(symbol, "1m", T0 + minute * 60_000, price, price + 1, price - 1, price, Decimal("12.5"))

    eth = [candle(ETH, m) for m in range(CANDLES_KEPT + 3)]
    btc = [candle("BTC/USDT:USDT", m) for m in range(2)]
    with store.batch():
        store.push_candles([c for pair in zip(eth, btc) for c in pair] + eth[2:])

    assert onlooker.read_candles(ETH) == eth[-CANDLES_KEPT:]
    assert onlooker.newest_candle_raw(ETH) == to_json(eth[-1])  # the very text every reader knows
    assert onlooker.read_candles("BTC/USDT:USDT") == btc


@pytest.mark.parametrize("value", ["3000.5", "1.500", "0", "-0", "0E-3", "1E+2", "1.2E+5", "1E-7", "0.000001",
                                   "0.0000001", "123456789012345678901234567890.123", "NaN", "Infinity", "-Infinity"])
def test_candle_pushed_when_its_numbers_have_any_decimal_form_then_stored_as_the_text_every_reader_knows(
        store, onlooker, value):
    number = Decimal(value)
    pushed = Candle(ETH, "1m", T0, number, number, number, number, number)

    store.push_candles([pushed])

    assert onlooker.newest_candle_raw(ETH) == to_json(pushed)


@pytest.mark.parametrize("ticks", [CANDLES_KEPT - 1, CANDLES_KEPT + 1, CANDLES_KEPT + CANDLES_SLACK,
                                   CANDLES_KEPT + CANDLES_SLACK + 1, CANDLES_KEPT + 3 * CANDLES_SLACK + 7])
def test_candles_pushed_one_a_tick_when_past_what_is_kept_then_readers_see_the_newest_kept_and_redis_holds_few_more(
        store, onlooker, ticks):
    def candle(minute: int) -> Candle:
        price = Decimal("3000.5") + minute
        return Candle(ETH, "1m", T0 + minute * 60_000, price, price + 1, price - 1, price, Decimal("12.5"))

    pushed = [candle(m) for m in range(ticks)]
    for c in pushed:
        with store.batch():
            store.push_candles([c])

    kept = pushed[-CANDLES_KEPT:]
    assert onlooker.read_candles(ETH) == kept
    assert onlooker.read_candles(ETH, CANDLES_KEPT + CANDLES_SLACK) == kept  # never an older one than kept
    assert onlooker.read_newest_candles(ETH, 3) == (kept[-3:], len(kept))  # what the dashboard tops up by
    assert len(kept) <= store.client.llen(store.key(f"candles:{ETH}")) <= CANDLES_KEPT + CANDLES_SLACK


def test_records_queued_in_a_batch_when_many_with_any_text_then_each_stream_holds_them_in_order(store, onlooker):
    texts = ["plain", "é ✓ 漢字 🚀", "", "a,b\nc", '{"json": [1]}', "x" * 7000, "lone \ud800 surrogate"]
    with store.batch():
        for n, text in enumerate(texts):
            store.audit(AuditEvent("state", T0 + n, text, {"n": n}))
            store.append_signal({"symbol": ETH, "n": n, "note": text})

    assert [(e.message, e.data) for e in onlooker.read_audit()] == [
        (t.replace("\ud800", "?"), {"n": n}) for n, t in enumerate(texts)]
    assert [(s["n"], s["note"]) for s in onlooker.read_signals()] == [
        (str(n), t.replace("\ud800", "?")) for n, t in enumerate(texts)]


def test_fill_booked_in_a_batch_when_the_venue_lives_elsewhere_then_the_booking_is_durable_at_once(store, onlooker):
    # a venue outside this Redis (Binance: its fills are read from this process's start, never again)
    clock = SimulatedClock(T0)
    s = load_settings(environ={"TB_VENUE__FUNDING_RATE": "0"})
    venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s))
    executor = PaperExecutor(venue=venue, store=store, rules=ExitRules(s.exits, s.venue.taker_fee_rate), clock=clock)
    executor.on_candle(candle(0, "2999", "3000"))
    executor.submit(EntryPlan("ETH1746000000L", ETH, Side.LONG, Decimal("1"), Decimal("3000"), Decimal("2900"),
                              Decimal("3300"), "test", "test"))
    clock.set(T0 + 2 * 60_000)

    with store.batch():
        [trade] = executor.on_candle(candle(1, "2850", "2880"))  # the stop fills and is booked

        assert trade.exit_reason is ExitReason.STOP_LOSS
        assert list(onlooker.recall(Memory.CLOSED_TRADES)) == [trade.trade_id]
        assert onlooker.recall(Memory.OPEN_TRADES) == {}


@pytest.mark.parametrize("crash_point", ["after_fills_booked", "after_trade_finished", "after_the_next_round_trip"])
def test_restart_when_the_bot_died_in_a_tick_around_the_fills_acknowledgement_then_the_trade_is_recorded_once(
        redis_url, store, crash_point):
    # the bookings may be durable before the venue's acknowledgement or not at all
    child = os.fork()
    if child == 0:
        status = 1
        try:
            bot = StateStore.open(redis_url, store.bot_id)
            executor, _ = stopped_out(bot)
            with bot.batch(), executor.venue.batch():
                if crash_point == "after_fills_booked":
                    for fill in executor.venue.pending_fills():
                        executor._apply_fill(fill)
                else:
                    executor._process_fills()  # acknowledged in memory only
                    if crash_point == "after_the_next_round_trip":
                        bot.flush()  # the bookings are durable, the acknowledgement is not
                status = 0
                os._exit(status)  # inside the tick: the batches never end
        finally:
            os._exit(status)
    rows, recovered, again = _restarted_twice_after(child, store)

    assert len(rows) == 1, rows
    assert rows[0].exit_reason is ExitReason.STOP_LOSS and rows[0].qty == Decimal("1")
    assert len(recovered) == 1 and again == []
