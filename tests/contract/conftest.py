"""Contract tests: the pinned ccxt client, built and driven by our Binance adapter (venues/binance.py), against
the local Binance stand-in (tests/standin) playing USDⓈ-M demo trading over real HTTP. Nothing here is mocked:
the stand-in matches orders with the project's simulator, checks signatures and recvWindow like Binance,
and injects Binance's failures (timeouts after accept, 429/418, -1021, 503 unknown)."""

from __future__ import annotations

from typing import Callable

import pytest

from clock import SystemClock
from models import MarginMode
from tests.standin.fixtures import TEST_KEYS
from venues.binance import CcxtVenueClient
from venues.binance_connection import build_exchange, venue_named

KEY, SECRET = next(iter(TEST_KEYS.items()))
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
ENV = {"BINANCE_DEMO_API_KEY": KEY, "BINANCE_DEMO_API_SECRET": SECRET}


def adapter_for(url: str, *, secret: str = SECRET, timeout_s: float = 2.0, connect: bool = True,
                venue: str = "binance-demo", **kw) -> CcxtVenueClient:
    """Our adapter on the ccxt client it builds itself, pointed at `url`. ccxt's own throttle is off: it
    spaces requests by Binance's weights (up to 2 s for an unfiltered open-orders list), which the
    stand-in does not need and tests should not wait for."""
    spec = venue_named(venue)
    exchange = build_exchange(spec, KEY, secret, base_url=url, timeout_s=timeout_s)
    exchange.enableRateLimit = False
    environ = {spec.key_variable: KEY, spec.secret_variable: secret}
    client = CcxtVenueClient(venue, SystemClock(), exchange=exchange, environ=environ,
                             symbols=kw.pop("symbols", (BTC, ETH)), leverage=kw.pop("leverage", 3),
                             margin_mode=kw.pop("margin_mode", MarginMode.ISOLATED), timeout_s=timeout_s, **kw)
    if connect:
        client.connect()
    return client


@pytest.fixture
def standin(binance_futures_standin):
    binance_futures_standin.account  # built before the first request: its first answer is not a slow one
    return binance_futures_standin


@pytest.fixture
def venue(standin) -> CcxtVenueClient:
    client = adapter_for(standin.url)
    yield client
    client.close()


@pytest.fixture
def make_adapter(standin) -> Callable[..., CcxtVenueClient]:
    made: list[CcxtVenueClient] = []

    def make(url: str | None = None, **kw) -> CcxtVenueClient:
        client = adapter_for(url or standin.url, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
