"""SimVenueClient over a real Redis: restarts lose nothing, two processes never lose an update, and
injected timeouts never cause a second fill."""

import threading
import time
from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from errors import ConfigError, NetworkError, OrderRejectedError, UnknownOrderStatusError, VenueUnavailableError
from exchange_client import ExchangeClient, SimVenueClient, load_symbol_rules_for, open_exchange
from models import Candle, OrderIntent, OrderSide, OrderStatus, OrderType
from settings import FaultSettings, Settings
from simulator import FaultInjector, SimConfig
from simulator.symbols import BUILTIN_RULES

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
CONFIG = SimConfig(leverage=10, starting_balance=D("100000"))


def bar(symbol: str, t: int, price: str, low: str | None = None, volume: str = "10") -> Candle:
    p = D(price)
    return Candle(symbol, "1m", t, p, p, D(low) if low else p, p, D(volume))


def client(store, *, clock=None, faults=None, **kwargs) -> SimVenueClient:
    return SimVenueClient(CONFIG, clock or SimulatedClock(0), BUILTIN_RULES, store=store.venue_store("sim"),
                          faults=faults, **kwargs)


class FreezableClock:
    """A clock that can freeze the process that reads it, like a SIGSTOP in the middle of an order call
    (the simulator reads the clock after its checks, before it changes anything)."""

    def __init__(self):
        self.armed = False
        self.frozen = threading.Event()
        self.thaw = threading.Event()

    def now_ms(self) -> int:
        if self.armed:
            self.armed = False
            self.frozen.set()
            self.thaw.wait(10)
        return 0


def test_restart_when_new_client_on_same_store_then_everything_is_restored(store):
    first = client(store)
    first.on_candle(bar(BTC, 0, "100000"))
    first.on_candle(bar(ETH, 0, "3000"))
    first.submit(OrderIntent("long", BTC, OrderSide.BUY, D("0.5")))
    first.submit(OrderIntent("stop", BTC, OrderSide.SELL, D("0.5"), OrderType.STOP_MARKET, stop_price=D("95000"),
                             reduce_only=True))
    first.submit(OrderIntent("bid", ETH, OrderSide.BUY, D("2"), OrderType.LIMIT, price=D("2900")))
    first.set_leverage(ETH, 5)

    restarted = client(store)

    assert restarted.positions() == first.positions() != []
    assert restarted.open_orders() == first.open_orders()
    assert len(restarted.open_orders()) == 2
    assert restarted.account() == first.account()
    assert restarted.ledger() == first.ledger()
    assert restarted.fetch_order(BTC, "long") == first.fetch_order(BTC, "long")
    assert restarted.mark_price(ETH) == D("3000")
    assert restarted.exchange.leverage(ETH) == 5
    assert [f.client_order_id for f in restarted.take_fills()] == ["long"]


def test_restart_when_fills_taken_before_then_not_delivered_again(store):
    first = client(store)
    first.on_candle(bar(BTC, 0, "100000"))
    first.submit(OrderIntent("long", BTC, OrderSide.BUY, D("0.1")))
    assert len(first.take_fills()) == 1

    assert client(store).take_fills() == []


def test_two_clients_when_both_write_then_each_sees_the_others_orders(store):
    bot, supervisor = client(store), client(store)
    bot.on_candle(bar(BTC, 0, "100000"))
    bot.submit(OrderIntent("bot-1", BTC, OrderSide.BUY, D("0.2")))

    supervisor.submit(OrderIntent("sup-1", BTC, OrderSide.SELL, D("0.2"), reduce_only=True))

    assert bot.positions() == []  # the bot sees the supervisor's close: no lost update
    assert bot.fetch_order(BTC, "bot-1").status is OrderStatus.FILLED
    assert bot.fetch_order(BTC, "sup-1").status is OrderStatus.FILLED


def test_stale_client_when_frozen_past_the_lock_and_another_wrote_then_its_save_is_refused(store):
    clock = FreezableClock()
    frozen = client(store, clock=clock, lock_timeout_s=0.3)
    other = client(store, lock_wait_s=5)
    other.on_candle(bar(BTC, 0, "100000"))
    outcome = {}

    def frozen_submit():
        try:
            outcome["order"] = frozen.submit(OrderIntent("frozen-1", BTC, OrderSide.BUY, D("0.1")))
        except Exception as exc:  # the outcome is what the test asserts
            outcome["error"] = exc

    clock.armed = True
    worker = threading.Thread(target=frozen_submit)
    worker.start()
    assert clock.frozen.wait(5)
    time.sleep(0.5)  # past the frozen holder's lock timeout
    other.submit(OrderIntent("other-1", BTC, OrderSide.SELL, D("0.3")))
    clock.thaw.set()
    worker.join(5)

    assert isinstance(outcome.get("error"), UnknownOrderStatusError)
    assert frozen.fetch_order(BTC, "frozen-1") is None  # never saved: newer state was not overwritten
    assert frozen.fetch_order(BTC, "other-1").status is OrderStatus.FILLED
    assert frozen.positions()[0].qty == D("0.3")
    retried = frozen.submit(OrderIntent("frozen-1", BTC, OrderSide.BUY, D("0.1")))
    assert retried.status is OrderStatus.FILLED
    assert other.positions()[0].qty == D("0.2")


def test_submit_when_timeout_after_acceptance_then_retry_returns_the_order_and_never_fills_twice(store):
    venue = client(store, faults=FaultInjector(FaultSettings(timeout_after_rate=1.0)))
    venue.on_candle(bar(BTC, 0, "100000"))
    intent = OrderIntent("retry-me", BTC, OrderSide.BUY, D("0.1"))

    with pytest.raises(UnknownOrderStatusError):
        venue.submit(intent)
    looked_up = venue.fetch_order(BTC, "retry-me")
    with pytest.raises(UnknownOrderStatusError):
        venue.submit(intent)  # the retry times out too, but lands on the same order

    assert looked_up.status is OrderStatus.FILLED
    assert len(venue.take_fills()) == 1
    assert venue.positions()[0].qty == D("0.1")
    assert client(store).fetch_order(BTC, "retry-me") == looked_up


def test_submit_when_timeout_before_arrival_then_no_order_exists(store):
    venue = client(store, faults=FaultInjector(FaultSettings(timeout_before_rate=1.0)))
    venue.on_candle(bar(BTC, 0, "100000"))

    with pytest.raises(NetworkError) as info:
        venue.submit(OrderIntent("lost", BTC, OrderSide.BUY, D("0.1")))

    assert not isinstance(info.value, UnknownOrderStatusError)
    assert venue.fetch_order(BTC, "lost") is None
    assert venue.positions() == []


def test_submit_when_rejected_then_redis_state_unchanged(store):
    venue = client(store)
    venue.on_candle(bar(BTC, 0, "100000"))
    version = store.venue_store("sim").version()

    with pytest.raises(OrderRejectedError):
        venue.submit(OrderIntent("bad", BTC, OrderSide.BUY, D("0.0005")))

    assert store.venue_store("sim").version() == version
    assert venue.fetch_order(BTC, "bad") is None


def test_take_fills_when_nothing_pending_then_no_write(store):
    venue = client(store)
    venue.on_candle(bar(BTC, 0, "100000"))
    version = store.venue_store("sim").version()

    assert venue.take_fills() == []
    assert store.venue_store("sim").version() == version


def test_client_when_no_store_then_works_in_memory():
    venue = SimVenueClient(CONFIG, SimulatedClock(0), BUILTIN_RULES)
    venue.on_candle(bar(BTC, 0, "100000"))

    venue.submit(OrderIntent("m", BTC, OrderSide.BUY, D("0.1")))

    assert venue.positions()[0].qty == D("0.1")
    assert isinstance(venue, ExchangeClient)


# ----------------------------------------------------------------------------------- open_exchange


def test_open_exchange_when_paper_sim_then_sim_client_with_settings(store):
    settings = Settings.model_validate({"bot": {"mode": "paper"}, "venue": {"starting_balance": "2500"}})

    venue = open_exchange(settings, clock=SimulatedClock(0), venue_store=store.venue_store("sim"))

    assert isinstance(venue, SimVenueClient)
    assert venue.account().wallet_balance == D("2500")
    assert venue.faults is None
    assert venue.symbol_rules(BTC).step_size == D("0.001")


def test_open_exchange_when_faults_configured_then_injected():
    settings = Settings.model_validate({"bot": {"mode": "paper"}, "venue": {"faults": {"reject_rate": 0.5}}})

    venue = open_exchange(settings, clock=SimulatedClock(0))

    assert venue.faults is not None and venue.faults.enabled


def test_open_exchange_when_live_without_a_passed_go_live_gate_then_refused():
    settings = Settings.model_validate({"bot": {"mode": "live"}})

    with pytest.raises(VenueUnavailableError, match="go-live gate"):
        open_exchange(settings, clock=SimulatedClock(0))


def test_open_exchange_when_binance_demo_without_keys_then_config_error_naming_them(monkeypatch):
    monkeypatch.delenv("BINANCE_DEMO_API_KEY", raising=False)
    monkeypatch.delenv("BINANCE_DEMO_API_SECRET", raising=False)
    settings = Settings.model_validate({"bot": {"mode": "paper"}, "venue": {"paper_venue": "binance-demo"}})

    with pytest.raises(ConfigError, match="BINANCE_DEMO_API_KEY and BINANCE_DEMO_API_SECRET"):
        open_exchange(settings, clock=SimulatedClock(0))


def test_load_symbol_rules_for_when_default_settings_then_btc_eth_sol_known():
    rules = load_symbol_rules_for(Settings())

    assert {BTC, ETH, "SOL/USDT:USDT"} <= set(rules)
