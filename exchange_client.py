"""The one door to any venue: the protocol every venue speaks, and the factory that opens one by name.

Layers above this module see only `models` values and `errors` exceptions (the one error hierarchy:
`errors.ExchangeError` and below) — no ccxt dicts, no ccxt or simulator exceptions, no Redis. What stands
behind the door lives in `venues/`:

- `venues.sim.SimVenueClient`: the built-in simulator, persisted in Redis so the bot and the supervisor
  act on one simulated account (or in memory only, for backtests);
- `venues.binance.CcxtVenueClient`: Binance through ccxt (`binance-demo`, `binance-spot-testnet`,
  `binance-live`; keys and hosts in `venues.binance_connection`);
- `venues.ccxt_errors`: the one map from ccxt's exceptions and Binance's codes to ours.

Live trading opens the Binance live venue only once the go-live gate passed (control/go_live.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from clock import Clock
from errors import VenueUnavailableError
from models import Account, Candle, Fill, FundingPayment, MarginMode, Mode, Order, OrderIntent, Position, SymbolRules
from simulator import FaultInjector, SimConfig, load_symbol_rules_for
from simulator.price_model import PriceModel
from venues.sim import SimVenueClient

__all__ = ["ExchangeClient", "PriceModel", "SimVenueClient", "load_symbol_rules_for", "open_exchange",
           "open_venue_for_closing"]


@runtime_checkable
class ExchangeClient(Protocol):
    """What executors and the supervisor use. `take_fills` is the one source of fills for turning them
    into trades: it returns every fill since its last call, including those `on_candle` caused (whose
    return value is for information: do not book both)."""

    name: str

    def on_candle(self, candle: Candle) -> list[Fill]: ...
    def submit(self, intent: OrderIntent) -> Order: ...
    def cancel(self, symbol: str, client_order_id: str) -> Order: ...
    def cancel_all(self, symbol: str | None = None) -> list[Order]: ...
    def fetch_order(self, symbol: str, client_order_id: str) -> Order | None: ...
    def open_orders(self, symbol: str | None = None) -> list[Order]: ...
    def positions(self) -> list[Position]: ...
    def account(self) -> Account: ...
    def set_leverage(self, symbol: str, leverage: int) -> None: ...
    def take_fills(self) -> list[Fill]: ...
    def pending_fills(self) -> list[Fill]: ...
    def ack_fills(self, fills: list[Fill]) -> None: ...
    def pending_funding(self) -> list[FundingPayment]: ...
    def ack_funding(self, payments: list[FundingPayment]) -> None: ...
    def mark_price(self, symbol: str) -> Decimal | None: ...
    def symbol_rules(self, symbol: str) -> SymbolRules: ...
    def close(self) -> None: ...


LIVE_VENUE = "binance-live"  # Binance USDⓈ-M mainnet


def open_exchange(settings: Any, *, clock: Clock, venue_store: Any = None, live_gate: Any = None) -> ExchangeClient:
    """The venue for the mode: paper → `venue.paper_venue`; live → the Binance live venue, only with a
    go-live gate result that passed (control.go_live.check), and at no more than live.max_leverage."""
    venue = settings.venue.paper_venue
    if settings.bot.mode is Mode.LIVE or live_gate is not None:
        if live_gate is None or not live_gate.passed:
            raise VenueUnavailableError("live trading needs the go-live gate to pass first (main.py bot --mode live lists what is unmet)")
        leverage = min(settings.venue.leverage, settings.live.max_leverage)
        settings = settings.model_copy(update={"venue": settings.venue.model_copy(update={"leverage": leverage})})
        venue = LIVE_VENUE
    if venue == "sim":
        return _simulator(settings, clock, venue_store)
    from venues.binance import CcxtVenueClient  # ccxt (~60 MB) only for a ccxt venue

    v = settings.venue
    client = CcxtVenueClient(
        venue, clock, base_url=v.binance_url, symbols=settings.bot.symbols, leverage=v.leverage,
        margin_mode=MarginMode(v.margin_mode), recv_window_ms=v.recv_window_ms,
        rules_refresh_s=v.rules_refresh_seconds, timeout_s=v.request_timeout_seconds,
    )
    client.connect()
    return client


def open_venue_for_closing(settings: Any, venue: str, *, clock: Clock, venue_store: Any = None) -> ExchangeClient:
    """The venue a bot traded on, opened by someone else to cancel and close there: the supervisor's kill
    switch when the bot is dead, frozen or handed the close-all over. `venue` is the one the bot said it
    trades on (its state's `venue`). A Binance venue needs no go-live gate here (closing a live position
    must never wait for one) and sends reduce-only orders only; it asks the venue its rules and clock and
    changes nothing there (no leverage or margin type set: a close must not fail on a changed setting)."""
    if venue == "sim":
        return _simulator(settings, clock, venue_store)
    from venues.binance import CcxtVenueClient

    v = settings.venue
    client = CcxtVenueClient(
        venue, clock, base_url=v.binance_url, symbols=settings.bot.symbols, recv_window_ms=v.recv_window_ms,
        rules_refresh_s=v.rules_refresh_seconds, timeout_s=v.request_timeout_seconds, closing_only=True,
    )
    client.connect()
    return client


def _simulator(settings: Any, clock: Clock, venue_store: Any) -> SimVenueClient:
    injector = FaultInjector(settings.venue.faults)
    return SimVenueClient(
        SimConfig.from_settings(settings.venue),
        clock,
        load_symbol_rules_for(settings),
        store=venue_store,
        faults=injector if injector.enabled else None,
    )
