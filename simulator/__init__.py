"""The simulated Binance USDⓈ-M futures exchange. Pure: imports only models, errors and clock; no Redis,
no network. exchange_client.SimVenueClient is what persists it and exposes it as a venue."""

from simulator.config import SimConfig
from simulator.exchange import Ledger, SimExchange
from simulator.faults import FaultInjector
from simulator.symbols import SymbolRules, load_symbol_rules, round_price, round_qty_down

__all__ = [
    "FaultInjector",
    "Ledger",
    "SimConfig",
    "SimExchange",
    "SymbolRules",
    "load_symbol_rules",
    "round_price",
    "round_qty_down",
]
