"""pytest fixtures for the Binance stand-in. Register once in tests/conftest.py with
`pytest_plugins = ["tests.standin.fixtures"]`, or import the fixture into a test module."""

from __future__ import annotations

import pytest

from tests.standin.binance_standin import EXCHANGE_INFO, KLINES_DIR, BinanceStandin, make_ccxt_client

__all__ = ["BinanceStandin", "binance_standin", "make_ccxt_client"]


@pytest.fixture
def binance_standin():
    """A running stand-in serving ../shared/data (skips when it is absent). `.clock` is its
    SimulatedClock ("now" for the stand-in), `.url`, `.request_counts`, `.stop()`."""
    if not KLINES_DIR.is_dir() or not EXCHANGE_INFO.is_file():
        pytest.skip(f"Binance stand-in needs {KLINES_DIR} and {EXCHANGE_INFO} (../shared/data is absent)")
    standin = BinanceStandin().start()
    yield standin
    standin.stop()
