"""A local stand-in for Binance USDⓈ-M futures' REST API — public and signed — answering what ccxt asks for.

Why: tests must exercise the *real* ccxt client (URL building, signing, parsing, error mapping) and the
project's Binance adapter without the internet. Answers come from real data (../shared/data: recorded
klines and exchangeInfo, payload shapes as recorded in binance_api/), and orders fill through the
project's own simulator (simulator.SimExchange: fees, slippage, filters, margin, funding, liquidation).

Public API (small on purpose; everything else is internal):

    BinanceStandin(klines=None, exchange_info=EXCHANGE_INFO, clock=None, *, keys=None, venue="demo",
                   market_start_ms=None, filters="current", sim_config=None, countdown_cancels_algo=False,
                   permissions=None, hold_s=30.0, port=0, advance_every_s=None)
      .start() / .stop() / with-block; .url (give it to ccxt: make_ccxt_client, make_futures_client)
      .clock                 the server's clock (SimulatedClock at DEFAULT_NOW_MS unless given; SystemClock
                             for a client that signs with wall time); .skew_ms shifts the server's time
      .market_ms()           where the market is: the open time of the candle served as "now"
      .advance(candles=1)    moves the market by recorded 1m candles: prices move, stops trigger, funding settles
                             (advance_every_s=N does it on a timer, for a bot running in another process)
      .request_counts        Counter of requests per path; .count(path, method=None); .requests: every
                             request as Request(method, path, params) (no signature); .reset_counts()
      .faults                the FaultPlan (faults.py); shortcuts: .timeout_before(path, method=None, times=1),
                             .timeout_after(...), .rate_limit(path, times=1, retry_after_s=1, ...),
                             .clock_skew(...), .unknown_503(..., applied=False), .partial_fill(fraction, symbol=None),
                             .fail(path, status=503, times=1, body=None)
      .account               the FuturesAccount (futures_account.py): .sim is the SimExchange
      .countdown_cancels_algo  whether a countdownCancelAll that runs out also cancels algo (protective) orders
      .permissions           what GET /sapi/v1/account/apiRestrictions answers (venue="mainnet" only)

Time. "Now" for the market is `market_ms()`. By default it follows `clock` (the original public stand-in:
klines open after now do not exist yet). With `market_start_ms` the market has a cursor of its own, moved only
by `advance()`, while the server's clock (request timestamps, recvWindow, order and trade times) runs apart —
so a ccxt client signing with wall time works against a stand-in replaying 2025's candles.

Venues. `venue="demo"` plays Binance demo trading: no /sapi account endpoints (404). `venue="mainnet"` adds
GET /sapi/v1/account/apiRestrictions with `permissions` (enableWithdrawals, ipRestrict, enableFutures, ...).

Signing (signing.py): `keys` {api key: secret}; without keys every signed endpoint answers -2015.

Another process (a bot started beside the stand-in) reaches the same switches over HTTP, on the same port:
    POST /_standin/fault   {"kind": "rate_limit", "path": "/fapi/v1/order", "method": "POST", "times": 2, ...}
    POST /_standin/clear   (disarm every fault)        POST /_standin/advance {"candles": 1}
    GET  /_standin/requests → {"counts": {path: n}, "requests": [[method, path, params], ...]}
    GET  /_standin/state   → {"market_ms", "server_ms", "venue"}
Control requests are neither logged nor counted. Run it alone: `python -m tests.standin --help`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from clock import SimulatedClock
from simulator import SimConfig
from tests.standin import signing
from tests.standin.account_orders import AccountOrders
from tests.standin.algo_orders import AlgoOrders
from tests.standin.faults import Fault, FaultPlan, fault_from_json
from tests.standin.futures_account import FuturesAccount
from tests.standin.public_market import (  # noqa: F401 (re-exported: the stand-in's public names)
    DEFAULT_NOW_MS,
    EXCHANGE_INFO,
    INTERVAL_MS,
    KLINES_DIR,
    MAX_KLINES,
    SHARED_DATA,
    PublicMarket,
    discover_klines,
    load_exchange_info,
)
from tests.standin.replies import BinanceReply, error

MINUTE_MS = 60_000
REQUESTS_KEPT = 100_000  # the request log of a long-running stand-in stays bounded (counts stay exact)
CATCH_UP_LIMIT = 10_000  # candles fed to the simulator at most when the market jumped (older ones are skipped)
DEFAULT_PERMISSIONS = {
    "ipRestrict": False, "createTime": 1_698_645_219_000, "enableReading": True, "enableWithdrawals": False,
    "enableInternalTransfer": False, "enableMargin": False, "enableFutures": True,
    "permitsUniversalTransfer": False, "enableVanillaOptions": False, "enableFixApiTrade": False,
    "enableFixReadOnly": False, "enableSpotAndMarginTrading": False, "enablePortfolioMarginTrading": False,
}


class Request(NamedTuple):
    method: str
    path: str
    params: dict[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    on_tick: Callable[[], None] = staticmethod(lambda: None)

    def service_actions(self) -> None:  # serve_forever calls it every poll interval
        self.on_tick()


class BinanceStandin:
    """Start with `start()` (or use as a context manager); `url` is the base to give ccxt."""

    def __init__(self, klines: dict[tuple[str, str], Path] | None = None, exchange_info: Path = EXCHANGE_INFO,
                 clock=None, *, keys: dict[str, str] | None = None, venue: str = "demo",
                 market_start_ms: int | None = None, filters: str = "current", sim_config: SimConfig | None = None,
                 countdown_cancels_algo: bool = False, permissions: dict[str, Any] | None = None,
                 hold_s: float = 30.0, port: int = 0, advance_every_s: float | None = None):
        if venue not in ("demo", "mainnet"):
            raise ValueError(f"venue must be 'demo' or 'mainnet', not {venue!r}")
        self.clock = clock if clock is not None else SimulatedClock(DEFAULT_NOW_MS)
        self.skew_ms = 0
        self.venue = venue
        self.keys = dict(keys or {})
        self.permissions = {**DEFAULT_PERMISSIONS, **(permissions or {})}
        self.hold_s = hold_s
        self._port = port
        if advance_every_s is not None and (market_start_ms is None or advance_every_s <= 0):
            raise ValueError("advance_every_s needs market_start_ms and a positive interval")
        self._advance_every_s = advance_every_s
        self._next_advance = 0.0
        self._market_cursor = None if market_start_ms is None else market_start_ms - market_start_ms % MINUTE_MS
        self.public = PublicMarket(discover_klines() if klines is None else klines, exchange_info, filters,
                                   self.market_ms, self.server_ms, self._mark_of,
                                   funding_rate=(sim_config or SimConfig()).funding_rate)
        self._sim_config = sim_config
        self._countdown_cancels_algo = countdown_cancels_algo
        self._account: FuturesAccount | None = None
        self._account_lock = threading.RLock()
        self._fed_ms: int | None = None
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self.request_counts: Counter[str] = Counter()
        self.requests: deque[Request] = deque(maxlen=REQUESTS_KEPT)
        self._signed_routes: dict[tuple[str, str], Callable[[dict], object]] | None = None
        self._connections: set[socket.socket] = set()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------- time

    def server_ms(self) -> int:
        return self.clock.now_ms() + self.skew_ms

    def market_ms(self) -> int:
        return self._market_cursor if self._market_cursor is not None else self.clock.now_ms()

    def advance(self, candles: int = 1) -> None:
        """Moves the market by `candles` recorded 1m candles; the simulator sees each (stops trigger)."""
        for _ in range(candles):
            if self._market_cursor is not None:
                self._market_cursor += MINUTE_MS
            elif isinstance(self.clock, SimulatedClock):
                self.clock.advance(MINUTE_MS)
            else:
                raise RuntimeError("advance() needs market_start_ms or a SimulatedClock: the market follows the wall clock")
            self._catch_up()
        self.account.check_countdowns()

    def _catch_up(self) -> None:
        """Feeds the simulator every candle from the last one it saw up to the market's now."""
        account = self.account
        now_open = self.market_ms() - self.market_ms() % MINUTE_MS
        with account.lock:
            start = now_open if self._fed_ms is None else self._fed_ms + MINUTE_MS
            start = max(start, now_open - (CATCH_UP_LIMIT - 1) * MINUTE_MS)
            for open_ms in range(start, now_open + MINUTE_MS, MINUTE_MS):
                account.feed(open_ms)
                self._fed_ms = open_ms

    @property
    def account(self) -> FuturesAccount:
        """The futures account, built on first use (a public-only stand-in never reads the candles for it)."""
        if self._account is None:
            with self._account_lock:
                if self._account is None:
                    self._account = FuturesAccount(self.public, self.server_ms, self._sim_config,
                                                   self._countdown_cancels_algo)
                    self._catch_up()
        return self._account

    @property
    def countdown_cancels_algo(self) -> bool:
        return self.account.countdown_cancels_algo

    @countdown_cancels_algo.setter
    def countdown_cancels_algo(self, value: bool) -> None:
        self.account.countdown_cancels_algo = bool(value)

    def _mark_of(self, market_id: str) -> str | None:
        if self._account is None:
            return None  # the public stand-in never builds the simulator
        self._catch_up()
        return self._account.mark(market_id)

    # -------------------------------------------------------------------------------- control

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "BinanceStandin":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two writes: with Nagle on, a keep-alive client waits ~40 ms for
            # the delayed ACK on every request
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                with standin._lock:
                    standin._connections.add(self.connection)

            def finish(self):
                with standin._lock:
                    standin._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                standin._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                standin._handle(self, "POST")

            def do_DELETE(self):  # noqa: N802
                standin._handle(self, "DELETE")

            def do_PUT(self):  # noqa: N802
                standin._handle(self, "PUT")

            def log_message(self, *args):  # keep test output quiet
                pass

        self._closing.clear()
        self._next_advance = time.monotonic() + (self._advance_every_s or 0)
        if self.keys:
            _ = self.account  # reading the candles takes a second: not inside a client's first request timeout
        self._server = _Server(("127.0.0.1", self._port), Handler)
        self._server.on_tick = self._tick
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="binance-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening and drops open keep-alive connections, as a dead venue would."""
        self._closing.set()
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

    def _tick(self) -> None:
        """Every poll interval of the server: a countdown that ran out fires even when nobody asks, and a
        market on a timer (`advance_every_s`, for a bot in another process) moves by one candle."""
        if self._advance_every_s is not None and time.monotonic() >= self._next_advance:
            self._next_advance = time.monotonic() + self._advance_every_s
            self.advance()
        if self._account is not None and self._account.countdowns:
            self._account.check_countdowns()

    def add_klines(self, market_id: str, interval: str, path: Path) -> None:
        """Serve `path` (timestamp_ms,open,high,low,close,volume) as `market_id`'s klines."""
        self.public.klines_files[(market_id, interval)] = Path(path)

    def reset_counts(self) -> None:
        with self._lock:
            self.request_counts.clear()
            self.requests.clear()

    def count(self, path: str, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path and method in (None, r.method))

    # ---------------------------------------------------------------------------- fault switches

    def fail(self, path: str, status: int = 503, times: int = 1, body: dict | None = None) -> None:
        """The next `times` requests to `path` answer `status` (e.g. 429, 418, 503) instead."""
        self.faults.arm(Fault("status", path, None, times, status=status, body=body))

    def timeout_before(self, path: str, method: str | None = None, times: int = 1) -> None:
        self.faults.arm(Fault("timeout_before", path, method, times))

    def timeout_after(self, path: str, method: str | None = None, times: int = 1) -> None:
        self.faults.arm(Fault("timeout_after", path, method, times))

    def rate_limit(self, path: str, method: str | None = None, times: int = 1, retry_after_s: int = 1,
                   ban_s: int = 60, ban_after: int = 0) -> None:
        self.faults.arm(Fault("rate_limit", path, method, times, retry_after_s=retry_after_s, ban_s=ban_s,
                              ban_after=ban_after))

    def clock_skew(self, path: str, method: str | None = None, times: int = 1) -> None:
        self.faults.arm(Fault("clock_skew", path, method, times))

    def unknown_503(self, path: str, method: str | None = None, times: int = 1, applied: bool = False) -> None:
        self.faults.arm(Fault("unknown_503", path, method, times, applied=applied))

    def partial_fill(self, fraction: Decimal | str = Decimal("0.5"), symbol: str | None = None, times: int = 1) -> None:
        self.faults.arm(Fault("partial_fill", times=times, fraction=Decimal(str(fraction)), symbol=symbol))

    # -------------------------------------------------------------------------------- serving

    def _routes_signed(self) -> dict[tuple[str, str], Callable[[dict], object]]:
        if self._signed_routes is None:
            account = self.account
            routes = {**AccountOrders(account, self.faults).routes(), **AlgoOrders(account).routes()}
            if self.venue == "mainnet":
                routes[("GET", "/sapi/v1/account/apiRestrictions")] = lambda q: dict(self.permissions)
            self._signed_routes = routes
        return self._signed_routes

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        if parts.path.startswith("/_standin/"):
            self._control(handler, method, parts.path, raw_body)
            return
        is_form = "json" not in (handler.headers.get("Content-Type") or "")
        form = dict(parse_qsl(raw_body, keep_blank_values=True)) if raw_body and is_form else {}
        query = {**dict(parse_qsl(parts.query, keep_blank_values=True)), **form}
        with self._lock:
            self.request_counts[parts.path] += 1
            self.requests.append(Request(method, parts.path, {k: v for k, v in query.items() if k != "signature"}))
        try:
            self.faults.gate()
            fault = self.faults.take(method, parts.path)
            carried_out = fault is not None and (fault.kind == "timeout_after" or
                                                 (fault.kind == "unknown_503" and fault.applied))
            if fault is not None and fault.kind == "timeout_before":
                self._hold(handler)
                return
            if fault is not None and not carried_out:
                raise self.faults.reply_for(fault)
            try:
                status, body = 200, self._route(method, parts.path, parts.query, raw_body if is_form else "", query,
                                                handler.headers.get("X-MBX-APIKEY"))
            except BinanceReply:
                if not carried_out:
                    raise
                # the venue's own answer (even a rejection) is what gets lost
            if fault is not None and fault.kind == "timeout_after":
                self._hold(handler)
                return
            if fault is not None:
                raise self.faults.reply_for(fault)
            headers: dict[str, str] = {}
        except BinanceReply as reply:
            status, body, headers = reply.status, reply.body, reply.headers
        self._send(handler, status, body, headers)

    def _route(self, method: str, path: str, raw_query: str, raw_body: str, query: dict, api_key: str | None):
        public = self.public.routes()
        public["/fapi/v1/time"] = lambda q: {"serverTime": self.server_ms()}
        if path in public:
            if method != "GET":
                raise error(405, -1, f"stand-in serves {path} for GET only")
            return public[path](query)
        if path.startswith("/sapi/") and self.venue == "demo":
            raise error(404, -1, f"demo trading has no {path} (stand-in playing demo)")
        signed = self._routes_signed()
        route = signed.get((method, path))
        if route is None:
            if any(p == path for _, p in signed):
                raise error(405, -1, f"stand-in does not serve {method} {path}")
            raise error(404, -1, f"stand-in does not serve {path}")
        signing.verify(self.keys, api_key, raw_query, raw_body, self.server_ms())
        account = self.account
        with account.lock:  # one request at a time changes or reads the account, as one matching engine would
            self._catch_up()
            account.check_countdowns()
            return route(query)

    def _hold(self, handler: BaseHTTPRequestHandler) -> None:
        """No answer: keep the connection until the client gives up (or the stand-in stops), then drop it."""
        self._closing.wait(self.hold_s)
        handler.close_connection = True

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            handler.close_connection = True  # the client went away

    def _control(self, handler: BaseHTTPRequestHandler, method: str, path: str, raw_body: str) -> None:
        try:
            spec = json.loads(raw_body) if raw_body else {}
            if (method, path) == ("POST", "/_standin/fault"):
                self.faults.arm(fault_from_json(spec))
                body: Any = {"armed": len(self.faults.armed())}
            elif (method, path) == ("POST", "/_standin/clear"):
                self.faults.clear()
                body = {"armed": 0}
            elif (method, path) == ("POST", "/_standin/advance"):
                self.advance(int(spec.get("candles", 1)))
                body = {"market_ms": self.market_ms()}
            elif (method, path) == ("GET", "/_standin/requests"):
                with self._lock:
                    body = {"counts": dict(self.request_counts), "requests": [list(r) for r in self.requests]}
            elif (method, path) == ("GET", "/_standin/state"):
                body = {"market_ms": self.market_ms(), "server_ms": self.server_ms(), "venue": self.venue}
            else:
                raise LookupError(f"no control endpoint {method} {path}")
            status = 200
        except (ValueError, TypeError, LookupError) as exc:
            status, body = 400, {"error": str(exc)}
        self._send(handler, status, body, {})


def make_ccxt_client(standin_url: str, config: dict | None = None):
    """A real ccxt.binanceusdm whose every API family points at the stand-in (paths kept). The
    throttle is off: the stand-in has no rate limit and tests should not sleep."""
    import ccxt

    from marketdata.ccxt_binance import point_at

    exchange = ccxt.binanceusdm({"enableRateLimit": False, "timeout": 5000, **(config or {})})
    return point_at(exchange, standin_url)


def make_futures_client(standin_url: str, api_key: str, secret: str, *, demo: bool = True, timeout_ms: int = 5000,
                        options: dict | None = None):
    """A signed ccxt.binanceusdm as the adapter builds one: demo trading (or mainnet), then every API family
    re-pointed at the stand-in. fetchCurrencies is off: with keys on mainnet ccxt would ask /sapi for coins."""
    import ccxt

    from marketdata.ccxt_binance import point_at

    exchange = ccxt.binanceusdm({"apiKey": api_key, "secret": secret, "enableRateLimit": False, "timeout": timeout_ms,
                                 "options": {"warnOnFetchOpenOrdersWithoutSymbol": False, "fetchCurrencies": False,
                                             **(options or {})}})
    if demo:
        exchange.enable_demo_trading(True)
    return point_at(exchange, standin_url)
