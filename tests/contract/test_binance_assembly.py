"""A paper engine assembled on the Binance adapter plans with the venue's rules (its exchangeInfo today), not
with the rules file the simulator ships with: a 15 USDT ETH entry that the 2022 recording's 10 USDT minimum
allows is denied by the venue's 20 USDT minimum, before any order is sent."""

from __future__ import annotations

from decimal import Decimal

from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from engine.entries import MarketContext
from memory_store import InMemoryStore
from models import Denial, EntryPlan, Mode, Side, Signal, TradingState
from settings import Settings
from simulator.symbols import load_symbol_rules_for

ETH = "ETH/USDT:USDT"


def _plan(settings: Settings, venue, price: Decimal, notional: str):
    parts = assemble(settings, InMemoryStore("contract"), Mode.PAPER, market_clock=SimulatedClock(0),
                     wall_clock=SystemClock(), venue=venue)
    signal = Signal(ETH, Side.LONG, 1.0, price, 0, "manual", "contract test")
    ctx = MarketContext(TradingState.ACTIVE, Decimal("10000"), Decimal("10000"), Decimal("0"), (), 0.0, 120.0,
                        Decimal("0"), Decimal("0"), 3, 0)
    return parts.engine.planner.plan(signal, [], ctx, notional=Decimal(notional))[0]


def test_planner_when_assembled_on_the_binance_adapter_then_the_venues_minimum_notional_decides(standin, venue):
    settings = Settings.model_validate({
        "bot": {"mode": "paper", "symbols": [ETH]}, "venue": {"paper_venue": "binance-demo"},
        "stops": {"method": "none"}, "sizing": {"method": "fixed_notional", "fixed_notional": 15}})
    assert load_symbol_rules_for(settings)[ETH].min_notional == Decimal("10")  # what the file says
    price = Decimal(standin.account.mark("ETHUSDT"))

    refused = _plan(settings, venue, price, "15")
    allowed = _plan(settings, venue, price, "25")

    assert isinstance(refused, Denial) and refused.reason_code == "below_min_notional"
    assert "notional 20" in refused.detail
    assert isinstance(allowed, EntryPlan)
    assert standin.count("/fapi/v1/order", "POST") == 0
