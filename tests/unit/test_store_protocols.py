"""Both stores implement every method of the store Protocols (stores.py) with the same parameters, so
the engine can be handed either."""

from __future__ import annotations

import inspect

import pytest

import stores
from memory_store import InMemoryStore
from models import HaltCause, TradingState
from state import StateStore

PROTOCOLS = [stores.MemoryStore, stores.IntentStore, stores.TradingStateStore, stores.RecordStore, stores.BuyHistory]


def protocol_methods():
    for protocol in PROTOCOLS:
        for name, member in vars(protocol).items():
            if callable(member) and not name.startswith("_"):
                yield protocol.__name__, name, member


@pytest.mark.parametrize("implementation", [StateStore, InMemoryStore])
@pytest.mark.parametrize("protocol, name, member", list(protocol_methods()), ids=lambda v: getattr(v, "__name__", str(v)))
def test_store_when_a_protocol_names_a_method_then_the_implementation_has_it_with_the_same_parameters(
        implementation, protocol, name, member):
    implemented = getattr(implementation, name, None)
    assert implemented is not None, f"{implementation.__name__} lacks {protocol}.{name}"
    wanted = list(inspect.signature(member).parameters)
    got = list(inspect.signature(implemented).parameters)
    assert got[: len(wanted)] == wanted, f"{implementation.__name__}.{name}{got} vs {protocol}.{name}{wanted}"


def test_memory_halt_when_a_weaker_cause_follows_then_the_stronger_stays_as_in_redis():
    memory = InMemoryStore()
    memory.set_halt("daily loss", "risk-monitor", 1, HaltCause.LOSS_LIMIT)
    assert memory.set_halt("halt", "cli", 2, HaltCause.OPERATOR).cause is HaltCause.LOSS_LIMIT
    assert memory.trading_state() is TradingState.HALTED
    memory.clear_halt()
    assert memory.trading_state() is TradingState.ACTIVE and memory.read_halt() is None
