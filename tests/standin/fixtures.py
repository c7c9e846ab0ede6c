"""pytest fixtures for the Binance stand-in. Register once in tests/conftest.py with
`pytest_plugins = ["tests.standin.fixtures"]`, or import the fixture into a test module."""

from __future__ import annotations

import pytest

from clock import SystemClock
from tests.standin.binance_standin import (
    DEFAULT_NOW_MS,
    EXCHANGE_INFO,
    KLINES_DIR,
    BinanceStandin,
    make_ccxt_client,
    make_futures_client,
)
from tests.standin.signing import TEST_KEYS

__all__ = ["BinanceStandin", "binance_futures_standin", "binance_standin", "make_ccxt_client",
           "make_futures_client", "TEST_KEYS"]


def _needs_shared_data() -> None:
    if not KLINES_DIR.is_dir() or not EXCHANGE_INFO.is_file():
        pytest.skip(f"Binance stand-in needs {KLINES_DIR} and {EXCHANGE_INFO} (../shared/data is absent)")


@pytest.fixture
def binance_standin():
    """A running stand-in serving ../shared/data (skips when it is absent). `.clock` is its
    SimulatedClock ("now" for the stand-in), `.url`, `.request_counts`, `.stop()`."""
    _needs_shared_data()
    standin = BinanceStandin().start()
    yield standin
    standin.stop()


@pytest.fixture
def binance_futures_standin():
    """A running stand-in playing Binance USDⓈ-M demo trading with signed endpoints: keys TEST_KEYS, the
    server on the wall clock (so a ccxt client signs as it would against Binance), the market replaying the
    recorded candles from 2025-05-20 00:00 UTC (`advance()` moves it). Make a client with
    `make_futures_client(standin.url, *next(iter(TEST_KEYS.items())))`."""
    _needs_shared_data()
    standin = BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=DEFAULT_NOW_MS).start()
    yield standin
    standin.stop()
