"""SimVenueClient's batch (one tick of the bot's loop) over a real Redis: quiet candles are saved once at
the end, anything that fills or settles is saved before the call returns, an order in one round trip with
its intent, and another process's write made meanwhile is never overwritten; a save sends only the parts
of the snapshot that changed."""

import json
import uuid
from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from embedded_redis import free_port, start_embedded_redis
from exchange_client import SimVenueClient
from models import Candle, OrderIntent, OrderSide, OrderType
from simulator import SimConfig, SimExchange
from simulator.symbols import BUILTIN_RULES
from state import SAVED_IN_PARTS, StateStore, connect

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
CONFIG = SimConfig(leverage=10, starting_balance=D("100000"))


def bar(symbol: str, t: int, price: str, low: str | None = None) -> Candle:
    p = D(price)
    return Candle(symbol, "1m", t, p, p, D(low) if low else p, p, D("10"))


def client(store) -> SimVenueClient:
    return SimVenueClient(CONFIG, SimulatedClock(0), BUILTIN_RULES, store=store.venue_store("sim"))


def commands_run(store) -> int:
    stats = store.client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


def long_with_stop(venue: SimVenueClient, stop: str = "95000") -> None:
    venue.on_candle(bar(BTC, 0, "100000"))
    venue.submit(OrderIntent("long", BTC, OrderSide.BUY, D("0.5")))
    venue.ack_fills(venue.pending_fills())
    venue.submit(OrderIntent("stop", BTC, OrderSide.SELL, D("0.5"), OrderType.STOP_MARKET, stop_price=D(stop),
                             reduce_only=True))


def test_batch_when_a_hundred_quiet_candles_then_a_handful_of_redis_commands(store):
    venue = client(store)
    long_with_stop(venue)
    before = commands_run(store)

    with venue.batch():
        for minute in range(1, 101):
            venue.on_candle(bar(BTC if minute % 2 else ETH, minute * 60_000, "100100"))
            venue.pending_funding()
            venue.pending_fills()
            venue.open_orders(BTC)

    # five round trips (a version check; then lock, version check, compare-and-save, release), and the two
    # scripts' own commands count too; it was about ten per candle
    assert commands_run(store) - before <= 10
    assert client(store).mark_price(ETH) == D("100100")


def test_batch_when_a_candle_is_quiet_then_saved_only_at_the_batch_end(store):
    venue = client(store)
    venue.on_candle(bar(BTC, 0, "100000"))

    with venue.batch():
        venue.on_candle(bar(BTC, 60_000, "101000"))
        assert client(store).mark_price(BTC) == D("100000")
        assert venue.mark_price(BTC) == D("101000")

    assert client(store).mark_price(BTC) == D("101000")


def bot_and_supervisor(store):
    """The bot's venue client holding a long with its stop, and the supervisor's, which has read it."""
    venue, supervisor = client(store), client(store)
    long_with_stop(venue)
    supervisor.positions()
    return venue, supervisor


def test_batch_when_a_candle_triggers_the_stop_then_its_fill_is_saved_before_the_call_returns(store):
    venue = client(store)
    long_with_stop(venue)

    with venue.batch():
        venue.on_candle(bar(BTC, 60_000, "100000", low="94000"))
        # a crash here must not lose the fill the executor is about to book
        restarted = client(store)
        assert [f.client_order_id for f in restarted.pending_fills()] == ["stop"]
        assert restarted.positions() == []


def test_batch_when_another_process_wrote_meanwhile_then_its_write_is_kept(store):
    venue, supervisor = bot_and_supervisor(store)

    with venue.batch():
        venue.on_candle(bar(BTC, 60_000, "100200"))
        supervisor.cancel(BTC, "stop")  # the supervisor, flattening a bot it believes frozen

    after = client(store)
    assert after.open_orders(BTC) == []
    assert venue.open_orders(BTC) == []  # the next mutation or read outside the batch sees it


def test_batch_when_another_process_wrote_then_a_candle_that_fills_goes_on_its_state(store):
    venue, supervisor = bot_and_supervisor(store)

    with venue.batch():
        venue.positions()  # the batch's one version check
        supervisor.set_leverage(ETH, 5)
        venue.on_candle(bar(BTC, 60_000, "100000", low="94000"))

    after = client(store)
    assert after.exchange.leverage(ETH) == 5
    assert [f.client_order_id for f in after.pending_fills()] == ["stop"]


def transactions_run(store) -> int:
    """MULTI/EXEC blocks the server ran: each of the bot's round trips in a batch is one."""
    return store.client.info("commandstats").get("cmdstat_exec", {}).get("calls", 0)


def test_order_in_a_batch_when_its_intent_is_queued_then_one_round_trip_makes_both_durable(store, redis_url):
    venue = client(store)
    venue.on_candle(bar(BTC, 0, "100000"))
    intent = OrderIntent("BTC1-en", BTC, OrderSide.BUY, D("0.5"), created_ms=60_000)
    onlooker = StateStore.open(redis_url, store.bot_id)

    with store.batch(), venue.batch():
        venue.positions()  # the batch's one version check
        store.save_intent(intent, "pending", queued=True)
        assert onlooker.read_intents() == []  # not yet: it goes with the order
        before = transactions_run(store)
        venue.submit(intent)

        assert transactions_run(store) - before == 1  # a lock, a save and the intent were three
        assert [i.client_order_id for i, _ in onlooker.read_intents()] == ["BTC1-en"]
        assert client(store).fetch_order(BTC, "BTC1-en") is not None


def order_in_a_tick(store, venue: SimVenueClient, intent: OrderIntent) -> None:
    with store.batch(), venue.batch():
        venue.positions()
        store.save_intent(intent, "pending", queued=True)
        venue.submit(intent)


@pytest.mark.parametrize("forgets", ["SCRIPT FLUSH", "a restart"])
def test_order_in_a_batch_when_redis_forgot_its_scripts_since_the_last_then_saved_once_with_its_intent(
        tmp_path, forgets):
    # a save whose script Redis no longer knows must not fail alone inside its MULTI/EXEC (the intent written,
    # the order not, or the other way round): the bot's saves send their script's text (EVAL), never its hash
    port, bot = free_port(), "t" + uuid.uuid4().hex[:10]
    server = start_embedded_redis(port, tmp_path / "redis", persist=True)
    try:
        store = StateStore(connect(server.url), bot)
        venue = client(store)
        venue.on_candle(bar(BTC, 0, "100000"))
        order_in_a_tick(store, venue, OrderIntent("BTC1-en", BTC, OrderSide.BUY, D("0.5"), created_ms=60_000))
        if forgets == "SCRIPT FLUSH":
            store.client.script_flush()
        else:
            server.stop()  # graceful: the AOF is flushed, the data stays; the scripts go
            server = start_embedded_redis(port, tmp_path / "redis", persist=True)

        order_in_a_tick(store, venue, OrderIntent("BTC2-en", BTC, OrderSide.BUY, D("0.25"), created_ms=120_000))

        onlooker = StateStore(connect(server.url), bot)
        after = client(onlooker)
        assert sorted(i.client_order_id for i, _ in onlooker.read_intents()) == ["BTC1-en", "BTC2-en"]
        assert [o.client_order_id for o in after.exchange.orders_by_id().values()] == ["BTC1-en", "BTC2-en"]
        assert [(p.symbol, p.qty) for p in after.positions()] == [(BTC, D("0.75"))]
    finally:
        server.stop()


def test_order_in_a_batch_when_another_process_wrote_after_the_check_then_it_lands_on_that_state(store):
    venue, supervisor = bot_and_supervisor(store)

    with venue.batch():
        venue.positions()  # the batch's one version check
        supervisor.cancel(BTC, "stop")  # the supervisor, flattening a bot it believes frozen
        venue.submit(OrderIntent("stop-2", BTC, OrderSide.SELL, D("0.5"), OrderType.STOP_MARKET,
                                 stop_price=D("96000"), reduce_only=True))

    after = client(store)
    assert [o.client_order_id for o in after.open_orders(BTC)] == ["stop-2"]  # the cancel kept, the new stop on it


def test_order_saved_when_the_venue_remembers_many_orders_then_only_what_changed_is_sent(store):
    venue = client(store)
    venue.on_candle(bar(BTC, 0, "100000"))
    for n in range(60):  # closed orders the venue remembers (a day of trading)
        venue.submit(OrderIntent(f"o{n}", BTC, OrderSide.BUY if n % 2 else OrderSide.SELL, D("0.01")))
        venue.ack_fills(venue.pending_fills())
    whole = len(venue.exchange.snapshot_json())
    sent_before = store.client.info("stats")["total_net_input_bytes"]

    venue.submit(OrderIntent("one-more", BTC, OrderSide.BUY, D("0.01")))

    sent = store.client.info("stats")["total_net_input_bytes"] - sent_before
    assert sent < whole / 3, (sent, whole)
    restarted = client(store)
    assert restarted.exchange.snapshot() == venue.exchange.snapshot()


def test_venue_saved_when_it_forgets_its_oldest_closed_orders_then_a_restart_holds_exactly_what_it_kept(store):
    config = SimConfig(leverage=10, starting_balance=D("100000"), recent_orders_kept=5)
    venue = SimVenueClient(config, SimulatedClock(0), BUILTIN_RULES, store=store.venue_store("sim"))
    venue.on_candle(bar(BTC, 0, "100000"))

    with store.batch(), venue.batch():
        for n in range(12):  # more than it keeps: the oldest closed ones are forgotten
            venue.submit(OrderIntent(f"o{n}", BTC, OrderSide.BUY if n % 2 else OrderSide.SELL, D("0.01")))

    restarted = SimVenueClient(config, SimulatedClock(0), BUILTIN_RULES, store=store.venue_store("sim"))
    assert restarted.exchange.snapshot() == venue.exchange.snapshot()
    assert [o.client_order_id for o in restarted.exchange.orders_by_id().values()] == [f"o{n}" for n in range(7, 12)]
    assert restarted.fetch_order(BTC, "o6") is None


def test_venue_saved_whole_by_an_older_version_when_loaded_then_it_goes_on_in_parts_with_nothing_lost(store):
    older = SimExchange(CONFIG, SimulatedClock(0), BUILTIN_RULES)
    older.on_candle(bar(BTC, 0, "100000"))
    older.submit(OrderIntent("old-1", BTC, OrderSide.BUY, D("0.5")))
    assert store.venue_store("sim").compare_and_save(0, older.snapshot_json())

    venue = client(store)
    venue.on_candle(bar(ETH, 60_000, "3000"))
    venue.submit(OrderIntent("new-1", ETH, OrderSide.BUY, D("1")))

    restarted = client(store)
    assert restarted.exchange.snapshot() == venue.exchange.snapshot()
    assert [o.client_order_id for o in restarted.exchange._orders.values()] == ["old-1", "new-1"]
    # moved into the parts; `data` keeps only the marker that stops an older version reading it as empty
    assert store.client.hget(store.venue_store("sim").key, "data") == SAVED_IN_PARTS


SYMBOLS = sorted(BUILTIN_RULES)


def every_symbol_moved(venue: SimVenueClient, t: int) -> None:
    for n, symbol in enumerate(SYMBOLS):
        venue.on_candle(bar(symbol, t, str(10_000 + n)))


def bytes_sent_by(store, call) -> int:
    before = store.client.info("stats")["total_net_input_bytes"]
    call()
    return store.client.info("stats")["total_net_input_bytes"] - before


def test_order_saved_when_one_of_many_symbols_moved_then_only_that_symbols_market_is_sent(store):
    venue = client(store)
    every_symbol_moved(venue, 0)
    venue.submit(OrderIntent("first", BTC, OrderSide.BUY, D("0.01")))
    venue.ack_fills(venue.pending_fills())
    whole_market = len(json.dumps(venue.exchange._snapshot_market(), separators=(",", ":")))

    with venue.batch():
        venue.positions()  # the batch's one version check
        unmoved = bytes_sent_by(store, lambda: venue.submit(OrderIntent("a", BTC, OrderSide.BUY, D("0.01"))))
        venue.on_candle(bar(ETH, 60_000, "3001"))
        moved = bytes_sent_by(store, lambda: venue.submit(OrderIntent("b", BTC, OrderSide.BUY, D("0.01"))))

    # the whole market (every symbol's mark, volume, range and times) went with every save after a candle
    assert moved - unmoved < whole_market / 5, (moved, unmoved, whole_market)
    restarted = client(store)
    assert restarted.exchange.snapshot() == venue.exchange.snapshot()
    assert restarted.mark_price(ETH) == D("3001")


def test_tick_when_the_bot_dies_after_an_order_then_the_venue_restarts_with_the_market_that_order_saw(store):
    venue = client(store)
    every_symbol_moved(venue, 0)
    last = SYMBOLS[-1]

    with venue.batch():
        for symbol in SYMBOLS[:-1]:  # quiet candles: saved with the order
            venue.on_candle(bar(symbol, 60_000, "9000"))
        venue.submit(OrderIntent("entry", BTC, OrderSide.BUY, D("0.01")))
        venue.on_candle(bar(last, 60_000, "9000"))
        seen = client(store).exchange  # what a restart finds if the bot is killed here, before the batch's end

    assert {s: seen.mark_price(s) for s in SYMBOLS[:-1]} == {s: D("9000") for s in SYMBOLS[:-1]}
    assert seen.mark_price(last) == D(str(10_000 + len(SYMBOLS) - 1))  # the venue had not seen that candle
    assert seen.get_order("entry") is not None
    assert client(store).exchange.snapshot() == venue.exchange.snapshot()  # and the batch's end saved it


def test_venue_saved_with_its_market_in_one_field_when_loaded_then_it_goes_on_by_symbol_with_nothing_lost(store):
    older = SimExchange(CONFIG, SimulatedClock(0), BUILTIN_RULES)
    for n, symbol in enumerate(SYMBOLS):
        older.on_candle(bar(symbol, 0, str(10_000 + n)))
    older.submit(OrderIntent("old-1", BTC, OrderSide.BUY, D("0.5")))
    parts = older.snapshot_parts(closed_saved=0)
    key = store.venue_store("sim").key
    # what the previous version wrote: the market in one field of the venue's hash
    store.client.hset(key, mapping={"version": "1", "head": parts.head, "market": parts.market, "data": SAVED_IN_PARTS})
    store.client.hset(key + ":orders", mapping=parts.orders)
    store.client.rpush(key + ":closed", *parts.closed)

    venue = client(store)
    assert venue.exchange.snapshot() == older.snapshot()
    venue.on_candle(bar(ETH, 60_000, "3000"))
    venue.submit(OrderIntent("new-1", ETH, OrderSide.BUY, D("1")))

    restarted = client(store)
    assert restarted.exchange.snapshot() == venue.exchange.snapshot()
    assert restarted.mark_price(SYMBOLS[-1]) == D(str(10_000 + len(SYMBOLS) - 1))
    assert store.client.hget(key, "market") is None  # moved into the market by symbol
