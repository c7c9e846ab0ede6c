"""Who may reach the dashboard: the loopback interface by default; anything wider needs a password.

Two guards, because the dashboard can send a kill switch and shows the account:

- **Host and Origin** (`HostGuard`, an ASGI middleware in front of Streamlit's Starlette app): served on
  loopback, a request whose `Host` is not `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT` gets
  400 and a websocket handshake is refused (403) before Streamlit sees it; any request whose `Origin`
  is not its own host is refused too. That is what defeats DNS rebinding (a page on evil.example
  whose name now points at 127.0.0.1) and other local pages talking to the dashboard's websocket.
  Streamlit's own check only compares Origin with Host, which a rebinding attacker controls both of.
- **A password** (TB_DASHBOARD_PASSWORD): served on any other address, the page asks for it before
  it shows anything, compared in constant time. Without one, such an address is refused at start-up.
  There any Host is accepted (the name the machine is reached by is not known here); Origin must still
  be the page's own.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from errors import ConfigError

PASSWORD_ENV = "TB_DASHBOARD_PASSWORD"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(address: str) -> bool:
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard_password(environ: Mapping[str, str]) -> str | None:
    return environ.get(PASSWORD_ENV) or None


def check_exposure(address: str, environ: Mapping[str, str]) -> None:
    """Raises ConfigError for a non-loopback address without a password."""
    if not is_loopback(address) and dashboard_password(environ) is None:
        raise ConfigError(
            f"dashboard address {address} is reachable from the network: set {PASSWORD_ENV} "
            f"(the page will ask for it), or serve on 127.0.0.1"
        )


def password_matches(given: str, environ: Mapping[str, str]) -> bool:
    expected = dashboard_password(environ)
    if expected is None:
        return False
    # compare_digest on bytes: constant time whatever the characters, so the time says nothing about the prefix
    return hmac.compare_digest(given.encode(), expected.encode())


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host header values a browser sends for the dashboard on loopback (the port is always in it)."""
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        hosts.update(LOOPBACK_NAMES)
    return frozenset(hosts)


Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class HostGuard:
    """ASGI middleware: refuse a request with a foreign Host (when `allowed_hosts` is given) or Origin."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts  # None: any Host (the password guards a non-loopback address)

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = self.refusal(_header(scope, b"host"), _header(scope, b"origin"))
            if refusal:
                await _refuse(scope, send, *refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, host: str | None, origin: str | None) -> tuple[int, str] | None:
        host = (host or "").lower()
        if not host or (self.allowed_hosts is not None and host not in self.allowed_hosts):
            return 400, "host not allowed"
        if origin is not None and not _same_origin(origin, host):
            return 403, "origin not allowed"
        return None


def _same_origin(origin: str, host: str) -> bool:
    try:
        parts = urlsplit(origin.lower())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc == host


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _refuse(scope: Scope, send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        # a close before accept: the server answers the handshake with 403 and no websocket opens
        await send({"type": "websocket.close", "code": 1008, "reason": reason})
        return
    body = f"{status} {reason}\n".encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
