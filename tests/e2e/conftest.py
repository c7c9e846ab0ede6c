"""End-to-end fixtures: Debian's chromium through pytest-playwright, and the real processes.

    dashboard_url       `streamlit run dashboard.py` on a free port, one per test module
    bot_process         `main.py bot --mode ghost` on synthetic prices, one per test module
    supervisor_process  `main.py supervise` (bot_manager): start/stop and the dead-bot kill switch

Every process gets the session's Redis (REDIS_URL) and the module's own bot id (TB_BOT__ID), and is
ended by its own pid (its process group: it is started in a new session) when the module is done.
Never `playwright install`: the browser is /usr/bin/chromium.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from embedded_redis import free_port
from e2e_helpers import PROJECT_ROOT, Managed
from state import StateStore, connect

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python") if (PROJECT_ROOT / ".venv" / "bin" / "python").exists() \
    else sys.executable
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DASHBOARD_START_S = 60
BOT_START_S = 60
UI_TIMEOUT_MS = 30_000


# ------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (never `playwright install`)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1000}}


# -------------------------------------------------------------------------------------- redis & env


@pytest.fixture(scope="module")
def e2e_store(redis_server) -> Iterator[StateStore]:
    """A bot id of its own per module, on the session's Redis; wiped afterwards."""
    store = StateStore(connect(redis_server.url), "e2e" + uuid.uuid4().hex[:8])
    yield store
    store.wipe()


@pytest.fixture(scope="module")
def process_env(redis_server, e2e_store: StateStore) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    env.update(
        REDIS_URL=redis_server.url,
        TB_BOT__ID=e2e_store.bot_id,
        TB_DASHBOARD__REFRESH_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


# ---------------------------------------------------------------------------------------- processes


def _require_main(command: str) -> None:
    main = PROJECT_ROOT / "main.py"
    if not main.exists():
        pytest.skip(f"main.py is not there yet: `main.py {command}` cannot be started")
    probe = subprocess.run([PYTHON, str(main), command, "--help"], cwd=PROJECT_ROOT, capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"`main.py {command}` is not available yet: {probe.stderr.decode(errors='replace')[-300:]}")


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def dashboard_url(process_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    args = [
        PYTHON, "-m", "streamlit", "run", "dashboard.py",
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
    ]
    server = Managed("dashboard", args, process_env, tmp_path_factory.mktemp("dashboard") / "streamlit.log")
    try:
        server.wait_until(lambda: _health_ok(f"http://127.0.0.1:{port}/_stcore/health"), DASHBOARD_START_S,
                          "answer 'ok' on /_stcore/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bot_process(process_env: dict[str, str], e2e_store: StateStore,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Managed]:
    _require_main("bot")
    env = {**process_env, "TB_MARKET_DATA__SOURCE": "synthetic"}
    bot = Managed("bot", [PYTHON, "main.py", "bot", "--mode", "ghost"], env,
                  tmp_path_factory.mktemp("bot") / "bot.log")
    try:
        _wait_for_beating(bot, e2e_store)
        yield bot
    finally:
        bot.stop()


@pytest.fixture(scope="module")
def supervisor_process(process_env: dict[str, str], e2e_store: StateStore,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Managed]:
    _require_main("supervise")
    env = {**process_env, "TB_MARKET_DATA__SOURCE": "synthetic"}
    supervisor = Managed("supervisor", [PYTHON, "main.py", "supervise", "--no-bot"], env,
                         tmp_path_factory.mktemp("supervisor") / "supervisor.log")
    try:
        supervisor.wait_until(lambda: bool(e2e_store.read_state().get("supervisor_heartbeat_ms")), BOT_START_S,
                              "supervisor heartbeat in Redis")
        yield supervisor
    finally:
        child_pid = e2e_store.read_state().get("supervised_pid")
        supervisor.stop()
        _stop_orphan(child_pid)


def _wait_for_beating(bot: Managed, store: StateStore) -> None:
    """Up when its heartbeat has *advanced* once: a bot that dies right after its first beat is not up."""
    bot.wait_until(lambda: bool(store.read_state().get("heartbeat_ms")), BOT_START_S, "heartbeat in Redis")
    first = store.read_state().get("heartbeat_ms")
    bot.wait_until(lambda: store.read_state().get("heartbeat_ms") != first, BOT_START_S, "second heartbeat")


def _stop_orphan(pid_text: str | None) -> None:
    """A bot the supervisor started must not outlive the test run if the supervisor could not stop it."""
    try:
        pid = int(pid_text or "")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        return
    if b"main.py" not in cmdline:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)


