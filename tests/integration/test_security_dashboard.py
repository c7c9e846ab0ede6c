"""The dashboard is not open to the network: a real `main.py dashboard` (Streamlit behind HostGuard).

On loopback a request whose Host is not 127.0.0.1/localhost/[::1] with the port gets 400 and a
websocket handshake is refused, before Streamlit sees either (DNS rebinding); a foreign Origin is
refused too. A non-loopback address does not start without TB_DASHBOARD_PASSWORD.
"""

from __future__ import annotations

import base64
import http.client
import os

import pytest

from embedded_redis import free_port
from processes import Managed, PYTHON, PROJECT_ROOT, process_env, run_cli, wait_for

DASHBOARD_START_S = 60


def _request(port: int, host: str, path: str = "/", *, origin: str | None = None,
             websocket: bool = False) -> tuple[int, str]:
    """One raw request with exactly these Host/Origin headers: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host)
        if origin is not None:
            connection.putheader("Origin", origin)
        if websocket:
            for name, value in (("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
                                ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
                                ("Sec-WebSocket-Protocol", "streamlit")):
                connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = b"" if response.status == 101 else response.read()
        return response.status, body.decode(errors="replace")
    finally:
        connection.close()


def _healthy(port: int) -> bool:
    try:
        return _request(port, f"127.0.0.1:{port}", "/_stcore/health") == (200, "ok")
    except OSError:
        return False


def _start_dashboard(tmp_path_factory, redis_url: str, address: str, **env: str) -> tuple[Managed, int]:
    port = free_port()
    server = Managed("dashboard", [PYTHON, str(PROJECT_ROOT / "main.py"), "dashboard", "--address", address,
                                   "--port", str(port)],
                     process_env(redis_url, "secdash", **env), tmp_path_factory.mktemp("dash") / "dashboard.log")
    try:
        wait_for(lambda: _healthy(port) or not server.alive(), DASHBOARD_START_S, "dashboard health",
                 interval_s=0.2, on_timeout=server.log_tail)
    except BaseException:
        server.stop()
        raise
    if not server.alive():
        server.stop()
        raise AssertionError(f"the dashboard exited:\n{server.log_tail()}")
    return server, port


@pytest.fixture(scope="module")
def loopback_dashboard(tmp_path_factory, redis_server):
    server, port = _start_dashboard(tmp_path_factory, redis_server.url, "127.0.0.1")
    yield port
    server.stop()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST:{port}"])
def test_dashboard_when_host_is_loopback_then_page_and_websocket_are_served(loopback_dashboard, host):
    port = loopback_dashboard
    host = host.format(port=port)

    status, body = _request(port, host)
    ws_status, _ = _request(port, host, "/_stcore/stream", origin=f"http://{host}", websocket=True)

    assert status == 200 and "<title>" in body.lower()
    assert ws_status == 101


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1", "127.0.0.1:{other}",
                                  "localhost.evil.example:{port}", ""])
@pytest.mark.parametrize("path", ["/", "/_stcore/health", "/_stcore/host-config"])
def test_dashboard_when_host_is_foreign_then_400_before_streamlit_answers(loopback_dashboard, host, path):
    port = loopback_dashboard

    status, body = _request(port, host.format(port=port, other=port + 1), path)

    assert (status, body) == (400, "400 host not allowed\n")


@pytest.mark.parametrize("host, origin", [
    ("evil.example:{port}", "http://evil.example:{port}"),  # DNS rebinding: Host and Origin agree, both foreign
    ("evil.example", None),
    ("127.0.0.1:{port}", "http://evil.example"),  # another site's page
    ("127.0.0.1:{port}", "http://127.0.0.1:{other}"),  # another local page, another port
    ("localhost:{port}", "null"),
])
def test_dashboard_websocket_when_host_or_origin_is_foreign_then_the_handshake_is_refused(
        loopback_dashboard, host, origin):
    port = loopback_dashboard
    fmt = {"port": port, "other": port + 1}

    status, _ = _request(port, host.format(**fmt), "/_stcore/stream",
                         origin=origin.format(**fmt) if origin else None, websocket=True)

    assert status == 403


@pytest.mark.parametrize("command", ["dashboard", "up"])
@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.168.1.10"])
def test_cli_when_address_is_not_loopback_and_no_password_then_refuses_with_one_line_exit_2(
        redis_server, command, address):
    result = run_cli([command, "--address", address, "--port", str(free_port())],
                     process_env(redis_server.url, "secdash"), timeout_s=60)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: dashboard address {address} is reachable from the network: set TB_DASHBOARD_PASSWORD "
        f"(the page will ask for it), or serve on 127.0.0.1"]


def test_dashboard_when_wide_address_and_password_then_any_host_but_only_its_own_origin(tmp_path_factory,
                                                                                        redis_server):
    server, port = _start_dashboard(tmp_path_factory, redis_server.url, "0.0.0.0",
                                    TB_DASHBOARD_PASSWORD="open-sesame-1")
    try:
        host = f"dashboard.lan:{port}"  # the name the machine is reached by is not known in advance

        assert _request(port, host)[0] == 200
        assert _request(port, host, "/_stcore/stream", origin=f"http://{host}", websocket=True)[0] == 101
        assert _request(port, host, "/_stcore/stream", origin="http://evil.example", websocket=True)[0] == 403
    finally:
        server.stop()
