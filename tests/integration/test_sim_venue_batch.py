"""SimVenueClient's batch (one tick of the bot's loop) over a real Redis: quiet candles are saved once at
the end, anything that fills or settles is saved before the call returns, and another process's write
made meanwhile is never overwritten."""

from decimal import Decimal as D

from clock import SimulatedClock
from exchange_client import SimVenueClient
from models import Candle, OrderIntent, OrderSide, OrderType
from simulator import SimConfig
from simulator.symbols import BUILTIN_RULES

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
    venue, supervisor = client(store), client(store)
    long_with_stop(venue)
    supervisor.positions()

    with venue.batch():
        venue.on_candle(bar(BTC, 60_000, "100200"))
        supervisor.cancel(BTC, "stop")  # the supervisor, flattening a bot it believes frozen

    after = client(store)
    assert after.open_orders(BTC) == []
    assert venue.open_orders(BTC) == []  # the next mutation or read outside the batch sees it


def test_batch_when_another_process_wrote_then_a_candle_that_fills_goes_on_its_state(store):
    venue, supervisor = client(store), client(store)
    long_with_stop(venue)
    supervisor.positions()

    with venue.batch():
        venue.positions()  # the batch's one version check
        supervisor.set_leverage(ETH, 5)
        venue.on_candle(bar(BTC, 60_000, "100000", low="94000"))

    after = client(store)
    assert after.exchange.leverage(ETH) == 5
    assert [f.client_order_id for f in after.pending_fills()] == ["stop"]
