"""Live is the paper executor on the live venue under the live limits: one code path for real money.

The venue here is the simulator standing in for Binance (injected, as the live venue would be after the
go-live gate); what differs from paper is only the limits: 1x, 50 USDT a position, 5 USDT a stop-out,
2 positions, 60 s between entries, the whitelist."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from errors import VenueUnavailableError
from exchange_client import SimVenueClient, load_symbol_rules_for, open_exchange
from models import Candle, Mode, OrderType, Side
from settings import load_settings
from simulator import SimConfig

D = Decimal
ETH, BTC = "ETH/USDT:USDT", "BTC/USDT:USDT"
MINUTE = 60_000
NOON = 1_747_051_200_000  # 2025-05-12 12:00 UTC


def candles(symbol: str, price: str, start: int, n: int = 40, dip_at: int = 20, dip_pct: str = "1.5") -> list[Candle]:
    """Flat candles with one swing low `dip_pct` under the price: the structure stop sits behind it."""
    p = D(price)
    low = p * (1 - D(dip_pct) / 100)
    return [Candle(symbol, "1m", start + i * MINUTE, p, p, low if i == dip_at else p, p, D("1000")) for i in range(n)]


@pytest.fixture
def live(store):
    settings = load_settings(environ={"TB_BOT__SYMBOLS": f"[{ETH}, {BTC}]", "TB_STRATEGY__ENABLED": "[]",
                                      "TB_VENUE__LEVERAGE": "5", "TB_MARKET_DATA__STALE_AFTER_SECONDS": "1000000000",
                                      "TB_STOPS__MAX_STOP_PCT": "20"})
    clock = SimulatedClock(0)
    venue = SimVenueClient(SimConfig.from_settings(settings.venue), clock, load_symbol_rules_for(settings))
    parts = assemble(settings, store, Mode.LIVE, market_clock=clock, wall_clock=SystemClock(), venue=venue)
    return parts.engine, venue


def test_assemble_when_live_then_the_paper_executor_at_1x_under_the_live_limits(live):
    engine, _ = live

    assert type(engine.executor).__name__ == "PaperExecutor"
    assert (engine.leverage, engine.limits.max_leverage, engine.limits.usdt.max_position_usdt) == (1, 1, D("50"))


def test_open_when_live_and_1000_usdt_asked_then_refused_and_40_usdt_gets_its_protective_stop_on_the_venue(live):
    engine, venue = live
    engine.process(candles(ETH, "2500", NOON - 40 * MINUTE))

    window = engine.windows[ETH].candles()
    too_big = engine.try_entry(engine.manual_signal(ETH, Side.LONG, D("1000")), window, notional=D("1000"))
    assert too_big is not None and too_big.reason_code == "order_too_large"

    assert engine.try_entry(engine.manual_signal(ETH, Side.LONG, D("40")), window, notional=D("40")) is None
    [position] = venue.positions()
    assert position.qty * position.entry_price <= D("50") and position.leverage == 1
    stops = [o for o in venue.open_orders(ETH) if o.order_type is OrderType.STOP_MARKET and o.reduce_only]
    assert len(stops) == 1 and stops[0].qty == position.qty


def test_open_when_live_and_the_stop_out_would_lose_over_5_usdt_then_refused(live):
    engine, venue = live
    engine.process(candles(ETH, "2500", NOON - 40 * MINUTE, dip_pct="14"))  # a stop 14 % away: 50 × 0.14 = 7 USDT

    denial = engine.try_entry(engine.manual_signal(ETH, Side.LONG, D("50")), engine.windows[ETH].candles(), notional=D("50"))

    assert denial is not None and denial.reason_code == "loss_per_trade" and venue.positions() == []


def test_entry_when_live_and_sized_by_the_rules_with_a_far_stop_then_sized_down_to_a_5_usdt_stop_out(live):
    engine, venue = live
    engine.process(candles(ETH, "2500", NOON - 40 * MINUTE, dip_pct="14"))

    assert engine.try_entry(engine.manual_signal(ETH, Side.LONG, D("50")), engine.windows[ETH].candles()) is None

    [position] = venue.positions()
    [stop] = [o for o in venue.open_orders(ETH) if o.order_type is OrderType.STOP_MARKET]
    fee = engine.planner.fee_rate
    loss = position.qty * (position.entry_price - stop.stop_price) + position.qty * (position.entry_price + stop.stop_price) * fee
    assert D("4") < loss <= D("5"), loss


def test_open_exchange_when_live_without_a_passed_gate_then_refused():
    settings = load_settings(environ={"TB_BOT__MODE": "live"})

    with pytest.raises(VenueUnavailableError, match="go-live gate to pass first"):
        open_exchange(settings, clock=SystemClock())
