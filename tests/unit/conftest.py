"""Unit tests run with no Redis: the engine's store is the in-memory one (memory_store.py), which
implements the same Protocols (tests/unit/test_store_protocols.py). Tests that need a Redis server
live in tests/integration."""

from __future__ import annotations

import pytest

from memory_store import InMemoryStore


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore("unit")
