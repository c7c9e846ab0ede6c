"""The safety core's parts on their own: the circuit breaker at its boundary, the one owner of the
trading state (ranked causes, typed events, resume by cause), flatten on a faulty simulated venue, and
the engine riding out venue errors on a candle. Real Redis (the `store` fixture) and the real simulator
with its seeded fault injection; nothing of ours is mocked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clock import SimulatedClock, SystemClock
from control.flatten import flatten
from control.trading_state import TradingStateControl
from bot.assembly import assemble
from errors import CommandError
from exchange_client import SimVenueClient, load_symbol_rules_for
from models import Candle, HaltCause, Mode, OrderIntent, OrderSide, OrderType, TradingState
from risk.circuit_breaker import OrderFailureBreaker
from settings import load_settings
from simulator import SimConfig
from simulator.faults import FaultInjector

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_000_000_000


# ------------------------------------------------------------------------------ circuit breaker


@pytest.mark.parametrize("failures, tripped", [(1, False), (4, False), (5, True), (6, True)])
def test_breaker_when_n_consecutive_failures_then_trips_at_the_fifth(failures, tripped):
    trips = []
    breaker = OrderFailureBreaker(max_consecutive=5, on_trip=trips.append)
    for i in range(failures):
        breaker.failure(f"order {i} rejected")
    assert breaker.tripped is tripped
    assert len(trips) == (1 if tripped else 0)  # once, however many failures follow
    if tripped:
        assert trips[0].startswith("5 consecutive order failures") and "order 4 rejected" in trips[0]


def test_breaker_when_a_success_comes_between_failures_then_the_count_starts_again():
    breaker = OrderFailureBreaker(max_consecutive=5)
    for _ in range(4):
        breaker.failure("rejected")
    breaker.success()
    for _ in range(4):
        breaker.failure("rejected")
    assert not breaker.tripped and breaker.consecutive == 4


@pytest.mark.parametrize("bad", [0, -1])
def test_breaker_when_limit_below_one_then_refused(bad):
    with pytest.raises(ValueError):
        OrderFailureBreaker(max_consecutive=bad)


# --------------------------------------------------------------------- the trading-state owner


def test_halt_when_a_weaker_cause_follows_a_loss_limit_then_the_loss_limit_stays_in_force(store):
    owner = TradingStateControl(store, SystemClock())
    owner.halt(HaltCause.LOSS_LIMIT, "risk-monitor", "daily loss 5.2% ≥ limit 5%")

    kept = owner.halt(HaltCause.OPERATOR, "dashboard")

    assert kept.cause is HaltCause.LOSS_LIMIT and store.read_halt().cause is HaltCause.LOSS_LIMIT
    events = [e for e in store.read_audit(50) if e.kind == "state"]
    assert [(e.data["cause"], e.data["previous"], e.data["current"]) for e in events][-2:] == [
        ("loss_limit", "ACTIVE", "HALTED"), ("operator", "HALTED", "HALTED")]
    assert "loss_limit halt stays in force" in events[-1].message


def test_halt_when_a_stronger_cause_follows_an_operator_halt_then_it_replaces_it(store):
    owner = TradingStateControl(store, SystemClock())
    owner.halt(HaltCause.OPERATOR, "cli")
    assert owner.halt(HaltCause.STATE_LOST, "bot").cause is HaltCause.STATE_LOST


def test_resume_when_the_cause_is_still_in_force_then_refused_and_nothing_changes(store):
    owner = TradingStateControl(store, SystemClock())
    owner.halt(HaltCause.LOSS_LIMIT, "risk-monitor")
    with pytest.raises(CommandError, match="refused: limit still hit"):
        owner.resume("cli", lambda flag: "limit still hit" if flag.cause is HaltCause.LOSS_LIMIT else None)
    assert store.trading_state() is TradingState.HALTED and store.read_halt().cause is HaltCause.LOSS_LIMIT


def test_resume_when_halted_by_the_operator_then_active_with_one_typed_event(store):
    owner = TradingStateControl(store, SystemClock())
    owner.halt(HaltCause.OPERATOR, "cli")
    assert owner.resume("dashboard", lambda flag: None) == "ACTIVE (lifted the operator halt)"
    assert store.trading_state() is TradingState.ACTIVE and store.read_halt() is None
    last = [e for e in store.read_audit(50) if e.kind == "state"][-1]
    assert last.data == {"previous": "HALTED", "current": "ACTIVE", "cause": "resume", "by": "dashboard"}


def test_reduce_when_halted_then_the_halt_wins(store):
    owner = TradingStateControl(store, SystemClock())
    owner.halt(HaltCause.KILL_SWITCH, "cli")
    assert owner.reduce("margin_use", "risk-monitor") is False
    assert store.trading_state() is TradingState.HALTED


# --------------------------------------------------------------------------- flatten under faults


def faulty_venue(seed: int, **rates: float) -> SimVenueClient:
    settings = load_settings(environ={})
    faults = settings.venue.faults.model_copy(update={"seed": seed, **rates})
    clock = SimulatedClock(T0)
    venue = SimVenueClient(SimConfig.from_settings(settings.venue), clock, load_symbol_rules_for(settings))
    for symbol, price in ((BTC, "60000"), (ETH, "3000")):
        p = Decimal(price)
        venue.on_candle(Candle(symbol, "1m", T0, p, p, p, p, Decimal("1000")))
        venue.submit(OrderIntent(f"{symbol[:3]}-en", symbol, OrderSide.BUY, Decimal("0.1") if symbol == BTC else Decimal("1"),
                                 OrderType.MARKET, created_ms=T0))
        venue.submit(OrderIntent(f"{symbol[:3]}-sl0", symbol, OrderSide.SELL, Decimal("0.1") if symbol == BTC else Decimal("1"),
                                 OrderType.STOP_MARKET, stop_price=p * Decimal("0.9"), reduce_only=True, created_ms=T0))
    venue.faults = FaultInjector(faults)
    return venue


@pytest.mark.parametrize("seed", range(20))
def test_flatten_when_30pct_timeouts_after_accept_and_20pct_rejects_then_flat_with_no_order_left(seed):
    venue = faulty_venue(seed, timeout_after_rate=0.3, reject_rate=0.2)

    report = flatten(venue, exit_id=lambda p, attempt: f"{p.symbol[:3]}-x{attempt}", now_ms=lambda: T0,
                     deadline_s=10, sleep=lambda s: None)

    assert report.flat, report.summary()
    assert venue.positions() == [] and venue.open_orders() == []


def test_flatten_when_every_order_is_refused_then_not_flat_and_says_what_is_left():
    venue = faulty_venue(1, reject_rate=1.0)

    report = flatten(venue, exit_id=lambda p, attempt: f"{p.symbol[:3]}-x{attempt}", now_ms=lambda: T0,
                     deadline_s=0.2, sleep=lambda s: None)

    assert not report.flat and report.rounds >= 2
    assert sorted(report.positions_left) == [BTC, ETH]
    assert report.summary().startswith("NOT flat") and "injected" in report.summary()
    assert report.closes_sent == 0
    # the stops stayed on while the closes failed: never an unprotected moment
    assert {o.client_order_id for o in venue.open_orders()} == {"BTC-sl0", "ETH-sl0"}


@pytest.mark.parametrize(("only", "eth_entry_left"), [(BTC, True), (None, False)])
def test_flatten_when_one_symbol_is_closed_then_only_its_entry_orders_are_cancelled(only, eth_entry_left):
    venue = faulty_venue(1)  # no faults
    venue.submit(OrderIntent("ETH-en2", ETH, OrderSide.BUY, Decimal("1"), OrderType.LIMIT, price=Decimal("2500"),
                             created_ms=T0))  # an entry order resting below the market

    report = flatten(venue, exit_id=lambda p, attempt: f"{p.symbol[:3]}-x{attempt}", now_ms=lambda: T0,
                     deadline_s=1, only=only, sleep=lambda s: None)

    assert report.flat, report.summary()
    assert BTC not in {p.symbol for p in venue.positions()}
    assert ("ETH-en2" in {o.client_order_id for o in venue.open_orders()}) is eth_entry_left
    if only is not None:  # the other symbol's position and its stop are untouched
        assert {p.symbol for p in venue.positions()} == {ETH}
        assert "ETH-sl0" in {o.client_order_id for o in venue.open_orders()}


# ------------------------------------------------------------------- venue errors in the candle path


def test_engine_when_the_venue_fails_on_every_candle_then_the_loop_goes_on_and_the_breaker_halts(store):
    settings = load_settings(environ={"TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STRATEGY__ENABLED": "[]",
                                      "TB_VENUE__FAULTS__CANDLE_ERROR_RATE": "1"})
    clock = SimulatedClock(0)
    venue = SimVenueClient(SimConfig.from_settings(settings.venue), clock, load_symbol_rules_for(settings),
                           faults=FaultInjector(settings.venue.faults))
    parts = assemble(settings, store, Mode.PAPER, market_clock=clock, wall_clock=SystemClock(), venue=venue)
    price = Decimal("60000")
    candles = [Candle(BTC, "1m", T0 + i * MINUTE, price, price, price, price, Decimal("10")) for i in range(8)]

    parts.engine.process(candles)  # must not raise

    errors = [e for e in store.read_audit(100) if e.kind == "error" and "venue error on the candle" in e.message]
    assert len(errors) == 8
    flag = store.read_halt()
    assert flag is not None and flag.cause is HaltCause.CIRCUIT_BREAKER
    assert parts.engine.stats.candles == 8
