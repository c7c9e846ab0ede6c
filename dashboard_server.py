"""The dashboard's web server: Streamlit's own (uvicorn + Starlette) with dashboard_access's HostGuard in front.

    python dashboard_server.py [--address 127.0.0.1] [--port 8502]

`main.py dashboard` and `main.py up` start it. Streamlit 1.67 serves through Starlette, and `st.App`
takes ASGI middleware that runs before any of Streamlit's routes: the page, the static files, the
health check and the `/_stcore/stream` websocket all pass the Host/Origin check first. A non-loopback
address without TB_DASHBOARD_PASSWORD is refused here with one line and exit code 2, whoever starts it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from dashboard_access import HostGuard, check_exposure, is_loopback, loopback_hosts  # noqa: E402
from errors import ConfigError  # noqa: E402

DEFAULT_ADDRESS = "127.0.0.1"


def build_app(address: str, port: int):
    import streamlit as st
    from starlette.middleware import Middleware

    allowed = loopback_hosts(port) if is_loopback(address) else None
    return st.App(str(_ROOT / "dashboard.py"), middleware=[Middleware(HostGuard, allowed_hosts=allowed)])


def serve(address: str, port: int) -> None:
    check_exposure(address, os.environ)
    # the websocket's own Host check (server.allowedHosts, ports ignored) stays on as a second lock on
    # loopback; on a wider address the name is not known here, so it must not refuse the real one
    allowed_hosts = ["127.0.0.1", "localhost", "::1"] if is_loopback(address) else ["*"]
    build_app(address, port).run(config={
        "server.address": address,
        "server.port": port,
        "server.headless": True,
        "server.allowedHosts": allowed_hosts,
        "browser.gatherUsageStats": False,
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dashboard_server.py", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=DEFAULT_ADDRESS, help="interface to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8502)
    args = parser.parse_args(argv)
    try:
        serve(args.address, args.port)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
