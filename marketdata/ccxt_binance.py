"""The ccxt binanceusdm client as market data needs it: public endpoints only, no keys.

One place builds the client (so tests can point the *real* client at a local stand-in by swapping the
hosts in `exchange.urls['api']`), turns ccxt's exceptions into ours (`MarketDataError`: the layers above
never see ccxt), and pages through klines.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Iterator
from urllib.parse import urlsplit

import ccxt

from errors import MarketDataError, NetworkError, RateLimitError
from models import Candle
from venues.ccxt_errors import map_ccxt_error

DEFAULT_TIMEOUT_S = 10.0
PAGE_LIMIT = 1000  # ccxt 4.5 caps binance fetch_ohlcv at 1000 per request (Binance itself allows 1500)
BINANCE_FAPI = "https://fapi.binance.com"


def point_at(exchange: ccxt.Exchange, base_url: str) -> ccxt.Exchange:
    """Sends every API family of `exchange` to `base_url` (scheme://host:port), keeping the paths.

    All families, not only the futures ones, so that an unexpected call shows up at the stand-in (and
    in its request counts) instead of leaving for the internet."""
    base = base_url.rstrip("/")
    exchange.urls["api"] = {
        name: base + urlsplit(url).path if isinstance(url, str) else url
        for name, url in exchange.urls["api"].items()
    }
    return exchange


def make_exchange(api_url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> ccxt.binanceusdm:
    """A public-data binanceusdm client; `api_url` replaces Binance's hosts (a local stand-in)."""
    exchange = ccxt.binanceusdm({"enableRateLimit": True, "timeout": int(timeout_s * 1000)})
    # Only USDⓈ-M markets: loading spot/coin-M/options markets would cost three more requests.
    exchange.options["fetchMarkets"] = {"types": ["linear"]}
    if api_url:
        point_at(exchange, api_url)
    return exchange


def describe_endpoint(exchange: ccxt.Exchange) -> str:
    url = exchange.urls.get("api", {}).get("fapiPublic", BINANCE_FAPI)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextlib.contextmanager
def translated(action: str, exchange: ccxt.Exchange) -> Iterator[None]:
    """Runs a ccxt call, re-raising its errors as MarketDataError with what we were doing and where. The
    kind of failure comes from the venues' one error map (`venues.ccxt_errors`)."""
    try:
        yield
    except ccxt.BaseError as exc:
        kind = map_ccxt_error(exc)
        detail = f"{type(exc).__name__}: {_short(exc)}"
        if isinstance(kind, RateLimitError):
            message = f"binance rate-limited market data at {describe_endpoint(exchange)} while trying to {action}: {detail}"
        elif isinstance(kind, NetworkError):
            message = f"binance market data unreachable at {describe_endpoint(exchange)} while trying to {action}: {detail}"
        else:
            message = f"binance refused to {action}: {detail}"
        raise MarketDataError(message) from exc


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "…"


def to_decimal(value: float | int | str) -> Decimal:
    """ccxt hands back floats; the shortest round-trip repr is the exchange's decimal string."""
    return Decimal(value) if isinstance(value, (int, str)) else Decimal(repr(value))


def to_candle(symbol: str, timeframe: str, row: list) -> Candle:
    ts, o, h, lo, c, v = row[:6]
    return Candle(symbol, timeframe, int(ts), to_decimal(o), to_decimal(h), to_decimal(lo), to_decimal(c), to_decimal(v or 0))


def fetch_range(
    exchange: ccxt.Exchange, symbol: str, timeframe: str, tf_ms: int, since_ms: int, until_ms: int
) -> Iterator[list[list]]:
    """Pages of raw ccxt OHLCV rows with open time in [since_ms, until_ms), oldest first.

    `until` (Binance's endTime) is sent, so the candle still forming at until_ms is never returned."""
    cursor = since_ms
    while cursor < until_ms:
        wanted = min(PAGE_LIMIT, -(-(until_ms - cursor) // tf_ms))
        with translated(f"fetch {timeframe} candles of {symbol}", exchange):
            rows = exchange.fetch_ohlcv(symbol, timeframe, since=cursor, limit=wanted, params={"until": until_ms - 1})
        rows = [r for r in rows if cursor <= r[0] < until_ms]
        if not rows:
            return
        yield rows
        cursor = int(rows[-1][0]) + tf_ms
