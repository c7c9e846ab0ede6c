"""The simulated Binance USDⓈ-M futures exchange. Pure: imports only models, errors and clock; no Redis,
no network. venues.sim.SimVenueClient is what persists it and exposes it as a venue."""

from simulator.config import SimConfig
from simulator.exchange import Ledger, SimExchange
from simulator.faults import FaultInjector
from simulator.symbols import SymbolRules, load_symbol_rules, load_symbol_rules_for, round_price, round_qty_down

__all__ = [
    "FaultInjector",
    "Ledger",
    "SimConfig",
    "SimExchange",
    "SymbolRules",
    "load_symbol_rules",
    "load_symbol_rules_for",
    "round_price",
    "round_qty_down",
]
