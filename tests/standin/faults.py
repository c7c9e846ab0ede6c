"""Fault switches: the failures a real Binance produces, armed per path and method, each for `times` requests.

kinds (what the client sees):
- `timeout_before`: nothing happens at the venue and no answer comes; the client times out.
- `timeout_after`: the request is carried out (an order is placed), then no answer comes.
- `rate_limit`: HTTP 429 with `Retry-After: <retry_after_s>`. A client that sends anything (any path, as
  Binance bans by IP) before that window ends is banned: HTTP 418 with a Retry-After of `ban_s`, for every
  request until the ban ends (`ban_after` requests inside the window are tolerated before the ban, default 0).
- `clock_skew`: -1021 "Timestamp for this request is outside of the recvWindow." (HTTP 400).
- `unknown_503`: HTTP 503 "Unknown error, please check your request or try again later." (Binance's
  execution-status-unknown answer); with `applied=True` the request was carried out before it.
- `status`: any HTTP status and body (the old `fail()`).
- `partial_fill`: the next `times` MARKET or IOC orders (of `symbol`, or any) fill only `fraction` of their
  quantity (rounded down to the step, at least one step); the rest expires, as Binance reports it.

Windows and bans run on a monotonic clock (`monotonic`, injectable), the client's real waiting time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from tests.standin.replies import BinanceReply, error

KINDS = ("timeout_before", "timeout_after", "rate_limit", "clock_skew", "unknown_503", "status", "partial_fill")
UNKNOWN_MSG = "Unknown error, please check your request or try again later."


@dataclass
class Fault:
    kind: str
    path: str | None = None  # None: every path
    method: str | None = None  # None: every method
    times: int = 1
    retry_after_s: int = 1
    ban_s: int = 60
    ban_after: int = 0
    status: int = 503
    body: Any = None
    applied: bool = False
    fraction: Decimal = Decimal("0.5")
    symbol: str | None = None  # partial_fill: Binance's id (BTCUSDT), None for any

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or self.path == path) and (self.method is None or self.method == method)


def fault_from_json(spec: dict) -> Fault:
    """A Fault from a control request's JSON ({"kind": "rate_limit", "path": "/fapi/v1/order", ...})."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {kind!r}")
    known = set(Fault.__dataclass_fields__) - {"kind"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    if "fraction" in spec:
        spec["fraction"] = Decimal(str(spec["fraction"]))
    if "method" in spec and spec["method"] is not None:
        spec["method"] = str(spec["method"]).upper()
    fault = Fault(kind, **spec)
    if fault.times < 1:
        raise ValueError("times must be at least 1")
    if kind == "partial_fill" and not Decimal(0) < fault.fraction < Decimal(1):
        raise ValueError("fraction must be between 0 and 1 (exclusive)")
    return fault


@dataclass
class _Window:
    until: float = 0.0
    hammered: int = 0
    ban_s: int = 60
    ban_after: int = 0


class FaultPlan:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._window = _Window()
        self._banned_until = 0.0
        self.banned_count = 0  # requests answered 418: a test checks its client never earned one
        self.log: list[tuple[str, str, str]] = []  # (kind, method, path) of every fault that fired

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._window = _Window()
            self._banned_until = 0.0

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def gate(self) -> None:
        """Before anything else: a ban, or a request sent inside a 429 window, is answered at once."""
        now = self.monotonic()
        with self._lock:
            if now < self._banned_until:
                self.banned_count += 1
                raise self._banned(now)
            window = self._window
            if now < window.until:
                window.hammered += 1
                if window.hammered > window.ban_after:
                    self._banned_until = now + window.ban_s
                    self._window = _Window()
                    self.banned_count += 1
                    raise self._banned(now)
                raise self._too_many(max(1, int(window.until - now + 0.999)))

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed request fault for this request, used up by one."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != "partial_fill" and fault.matches(method, path):
                    self._use(fault)
                    self.log.append((fault.kind, method, path))
                    if fault.kind == "rate_limit":
                        self._window = _Window(self.monotonic() + fault.retry_after_s, 0, fault.ban_s,
                                               fault.ban_after)
                    return fault
        return None

    def take_partial(self, market_id: str) -> Decimal | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == "partial_fill" and fault.symbol in (None, market_id):
                    self._use(fault)
                    return fault.fraction
        return None

    def _use(self, fault: Fault) -> None:
        fault.times -= 1
        if fault.times <= 0:
            self._faults.remove(fault)

    def _too_many(self, retry_after_s: int) -> BinanceReply:
        return error(429, -1003, "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. "
                     "Please use the websocket for live updates to avoid polling the API.",
                     {"Retry-After": str(retry_after_s)})

    def _banned(self, now: float) -> BinanceReply:
        until_ms = int(time.time() * 1000 + (self._banned_until - now) * 1000)
        return error(418, -1003, f"Way too many requests; IP(127.0.0.1) banned until {until_ms}. "
                     "Please use the websocket for live updates to avoid bans.",
                     {"Retry-After": str(max(1, int(self._banned_until - now + 0.999)))})

    def reply_for(self, fault: Fault) -> BinanceReply:
        """The answer of an answering fault (rate_limit, clock_skew, unknown_503, status)."""
        if fault.kind == "rate_limit":
            return self._too_many(fault.retry_after_s)
        if fault.kind == "clock_skew":
            return error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        if fault.kind == "unknown_503":
            return error(503, -1000, UNKNOWN_MSG)
        body = fault.body or {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}
        return BinanceReply(fault.status, body)
