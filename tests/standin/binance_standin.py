"""A local stand-in for Binance USDⓈ-M futures' public REST API, answering what ccxt asks for.

Why: tests must exercise the *real* ccxt client (URL building, parsing, pagination, error mapping)
without the internet. The answers come from real data: klines from ../shared/data/klines, exchangeInfo
from nautilus_trader's recorded response (read at run time, never copied into the repository), with
SOLUSDT cloned from BTCUSDT because the recording lacks it.

"Now" for the stand-in is `clock.now_ms()` (a SimulatedClock by default, placed inside the recorded
range): klines open after now do not exist yet, tickers are the close of the candle open at now. The
candle open at now is served with its final recorded values (Binance would show it half-formed).

Endpoints: /fapi/v1/ping, /fapi/v1/time, /fapi/v1/exchangeInfo, /fapi/v1/klines, /fapi/v1/ticker/price,
/fapi/v2/ticker/price, /fapi/v1/ticker/24hr, /fapi/v1/premiumIndex. Anything else is a 404 (counted, so a
test notices an unexpected call). `request_counts[path]` counts every request; `fail(path, status)`
makes the next request(s) to a path fail, for error-mapping tests.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from clock import SimulatedClock

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
KLINES_DIR = SHARED_DATA / "klines"
EXCHANGE_INFO = (
    SHARED_DATA / "binance_api/nautilus/tests/integration_tests/adapters/binance/resources/http_responses/"
    "http_futures_market_exchange_info.json"
)
MAX_KLINES = 1500  # Binance USDⓈ-M's limit per klines request
DEFAULT_KLINES = 500
INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000}
_FILE_NAME = re.compile(r"binance_usdm_([A-Z0-9]+)_(\d+[mhd])")
DEFAULT_NOW_MS = 1_747_699_200_000  # 2025-05-20 00:00 UTC, inside every recorded file


@dataclass(frozen=True)
class _Series:
    interval_ms: int
    ts: np.ndarray  # int64 open times
    values: np.ndarray  # object strings: open, high, low, close, volume per row


@functools.lru_cache(maxsize=16)
def _load_series(path: str, interval_ms: int) -> _Series:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return _Series(interval_ms, frame["timestamp_ms"].astype("int64").to_numpy(),
                   frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=object))


def discover_klines(directory: Path = KLINES_DIR) -> dict[tuple[str, str], Path]:
    """{(BTCUSDT, 1m): path} for every binance_usdm_<ID>_<interval>*.csv in `directory`."""
    found = {}
    for path in sorted(Path(directory).glob("binance_usdm_*.csv")):
        match = _FILE_NAME.match(path.name)
        if match:
            found[(match.group(1), match.group(2))] = path
    return found


def _sol_entry(btc: dict) -> dict:
    sol = copy.deepcopy(btc)
    sol.update(symbol="SOLUSDT", pair="SOLUSDT", baseAsset="SOL", pricePrecision=4, quantityPrecision=0,
               onboardDate=1600000000000)
    for f in sol["filters"]:
        if f["filterType"] == "PRICE_FILTER":
            f.update(minPrice="0.4200", maxPrice="6857", tickSize="0.0100")
        elif f["filterType"] in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            f.update(stepSize="1", minQty="1", maxQty="1000000" if f["filterType"] == "LOT_SIZE" else "5000")
        elif f["filterType"] == "MIN_NOTIONAL":
            f.update(notional="5")
    return sol


def load_exchange_info(path: Path = EXCHANGE_INFO) -> dict:
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    names = {s["symbol"] for s in info["symbols"]}
    if "SOLUSDT" not in names:
        btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
        info["symbols"].append(_sol_entry(btc))
    return info


class _Reply(Exception):
    def __init__(self, status: int, body):
        self.status, self.body = status, body


def _error(status: int, code: int, msg: str) -> _Reply:
    return _Reply(status, {"code": code, "msg": msg})


class BinanceStandin:
    """Start with `start()` (or use as a context manager); `url` is the base to give ccxt."""

    def __init__(self, klines: dict[tuple[str, str], Path] | None = None, exchange_info: Path = EXCHANGE_INFO,
                 clock=None):
        self.clock = clock if clock is not None else SimulatedClock(DEFAULT_NOW_MS)
        self._klines_files = dict(discover_klines() if klines is None else klines)
        self._exchange_info_path = Path(exchange_info)
        self._exchange_info: dict | None = None
        self._lock = threading.Lock()
        self.request_counts: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._failures: dict[str, list[tuple[int, dict]]] = {}
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------- control

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "BinanceStandin":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with standin._lock:
                    standin._connections.add(self.connection)

            def finish(self):
                with standin._lock:
                    standin._connections.discard(self.connection)
                super().finish()

            def do_GET(self):  # noqa: N802 (http.server's naming)
                standin._handle(self)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="binance-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening and drops open keep-alive connections, as a dead venue would."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "BinanceStandin":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_klines(self, market_id: str, interval: str, path: Path) -> None:
        """Serve `path` (timestamp_ms,open,high,low,close,volume) as `market_id`'s klines."""
        self._klines_files[(market_id, interval)] = Path(path)

    def fail(self, path: str, status: int = 503, times: int = 1, body: dict | None = None) -> None:
        """The next `times` requests to `path` answer `status` (e.g. 429, 418, 503) instead."""
        body = body or {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}
        self._failures.setdefault(path, []).extend([(status, body)] * times)

    def reset_counts(self) -> None:
        with self._lock:
            self.request_counts.clear()
            self.requests.clear()

    # -------------------------------------------------------------------------------- serving

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.request_counts[parts.path] += 1
            self.requests.append((parts.path, query))
            failures = self._failures.get(parts.path)
            failure = failures.pop(0) if failures else None
        try:
            if failure:
                raise _Reply(*failure)
            route = self._routes().get(parts.path)
            if route is None:
                raise _error(404, -1, f"stand-in does not serve {parts.path}")
            status, body = 200, route(query)
        except _Reply as reply:
            status, body = reply.status, reply.body
        payload = json.dumps(body, separators=(",", ":")).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _routes(self):
        return {
            "/fapi/v1/ping": lambda q: {},
            "/fapi/v1/time": lambda q: {"serverTime": self.clock.now_ms()},
            "/fapi/v1/exchangeInfo": self._exchange_info_body,
            "/fapi/v1/klines": self._klines,
            "/fapi/v1/ticker/price": self._ticker_price,
            "/fapi/v2/ticker/price": self._ticker_price,
            "/fapi/v1/ticker/24hr": self._ticker_24hr,
            "/fapi/v1/premiumIndex": self._premium_index,
        }

    def _exchange_info_body(self, query: dict) -> dict:
        if self._exchange_info is None:
            self._exchange_info = load_exchange_info(self._exchange_info_path)
        return {**self._exchange_info, "serverTime": self.clock.now_ms()}

    def _series(self, market_id: str, interval: str = "1m") -> _Series:
        path = self._klines_files.get((market_id, interval))
        if path is None:
            if any(m == market_id for m, _ in self._klines_files):
                raise _error(400, -1120, "Invalid interval.")
            raise _error(400, -1121, "Invalid symbol.")
        return _load_series(str(path), INTERVAL_MS[interval])

    def _market_ids(self) -> list[str]:
        return sorted({m for m, i in self._klines_files if i == "1m"})

    def _visible_end(self, series: _Series) -> int:
        """Index one past the last candle that has opened by now."""
        return int(np.searchsorted(series.ts, self.clock.now_ms(), side="right"))

    def _klines(self, query: dict) -> list:
        for name in ("symbol", "interval"):
            if name not in query:
                raise _error(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        if query["interval"] not in INTERVAL_MS:
            raise _error(400, -1120, "Invalid interval.")
        series = self._series(query["symbol"], query["interval"])
        try:
            limit = int(query.get("limit", DEFAULT_KLINES))
            start = int(query["startTime"]) if "startTime" in query else None
            end = int(query["endTime"]) if "endTime" in query else None
        except ValueError:
            raise _error(400, -1100, "Illegal characters found in a parameter.") from None
        if not 1 <= limit <= MAX_KLINES:
            raise _error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        lo = int(np.searchsorted(series.ts, start, side="left")) if start is not None else 0
        hi = self._visible_end(series)
        if end is not None:
            hi = min(hi, int(np.searchsorted(series.ts, end, side="right")))
        rows = range(lo, min(hi, lo + limit)) if start is not None else range(max(lo, hi - limit), hi)
        tf = series.interval_ms
        out = []
        for r in rows:
            o, h, l, c, v = series.values[r]
            ts = int(series.ts[r])
            quote = format(float(v) * float(c), ".8f")
            out.append([ts, o, h, l, c, v, ts + tf - 1, quote, 100, "0", "0", "0"])
        return out

    def _last(self, market_id: str) -> tuple[str, int] | None:
        series = self._series(market_id)
        end = self._visible_end(series)
        return (series.values[end - 1][3], end) if end else None

    def _per_symbol(self, query: dict, one) -> list | dict:
        if "symbol" in query:
            body = one(query["symbol"])
            if body is None:
                raise _error(400, -1121, "Invalid symbol.")
            return body
        return [b for b in (one(m) for m in self._market_ids()) if b is not None]

    def _ticker_price(self, query: dict):
        now = self.clock.now_ms()

        def one(market_id):
            last = self._last(market_id)
            return None if last is None else {"symbol": market_id, "price": last[0], "time": now}

        return self._per_symbol(query, one)

    def _ticker_24hr(self, query: dict):
        now = self.clock.now_ms()

        def one(market_id):
            series = self._series(market_id)
            end = self._visible_end(series)
            if not end:
                return None
            begin = int(np.searchsorted(series.ts, now - 86_400_000, side="right"))
            window = series.values[begin:end]
            opened, last = float(window[0][0]), float(window[-1][3])
            volume = float(np.sum(window[:, 4].astype("float64")))
            return {
                "symbol": market_id, "priceChange": f"{last - opened:.8f}",
                "priceChangePercent": f"{(last / opened - 1) * 100:.3f}", "weightedAvgPrice": window[-1][3],
                "lastPrice": window[-1][3], "lastQty": "0.001", "openPrice": window[0][0],
                "highPrice": repr(float(np.max(window[:, 1].astype("float64")))),
                "lowPrice": repr(float(np.min(window[:, 2].astype("float64")))),
                "volume": f"{volume:.3f}", "quoteVolume": f"{volume * last:.2f}",
                "openTime": int(series.ts[begin]), "closeTime": now, "firstId": 1, "lastId": 2, "count": 2,
            }

        return self._per_symbol(query, one)

    def _premium_index(self, query: dict):
        now = self.clock.now_ms()
        funding_every = 8 * 3_600_000

        def one(market_id):
            last = self._last(market_id)
            if last is None:
                return None
            return {
                "symbol": market_id, "markPrice": last[0], "indexPrice": last[0], "estimatedSettlePrice": last[0],
                "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
                "nextFundingTime": now - now % funding_every + funding_every, "time": now,
            }

        return self._per_symbol(query, one)


def make_ccxt_client(standin_url: str, config: dict | None = None):
    """A real ccxt.binanceusdm whose every API family points at the stand-in (paths kept). The
    throttle is off: the stand-in has no rate limit and tests should not sleep."""
    import ccxt

    exchange = ccxt.binanceusdm({"enableRateLimit": False, "timeout": 5000, **(config or {})})
    base = standin_url.rstrip("/")
    exchange.urls["api"] = {
        name: base + urlsplit(url).path if isinstance(url, str) else url
        for name, url in exchange.urls["api"].items()
    }
    return exchange
