"""Real bot and supervisor processes for integration tests and benchmarks.

Every process is started in a session of its own, its output goes to a log file (shown when something
goes wrong), and `stop()` ends its whole process group by id: nothing is left running after a test.
A supervised bot lives in its own session too (bot_manager starts it that way), so `BotFleet.cleanup()`
also ends every bot pid the state hash ever named — after checking that pid is one of our bots.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

from state import StateStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable

# Fast and small: candles every 0.2 s, no strategy entries of its own (only the test's `open`s), quick
# heartbeats, short backoff and grace periods, so a whole scenario takes seconds.
FAST_ENV: dict[str, str] = {
    "TB_MARKET_DATA__SOURCE": "synthetic",
    "TB_MARKET_DATA__SYNTHETIC__CANDLE_SECONDS": "0.2",
    "TB_MARKET_DATA__SYNTHETIC__GAP_PROBABILITY": "0",
    "TB_MARKET_DATA__BACKFILL_CANDLES": "100",
    "TB_STRATEGY__ENABLED": "[]",
    "TB_BOT__TICK_SECONDS": "0.1",
    "TB_BOT__HEARTBEAT_SECONDS": "0.2",
    "TB_CONTROL__HEARTBEAT_TIMEOUT_SECONDS": "1.5",
    "TB_CONTROL__TAKEOVER_WAIT_SECONDS": "0.5",
    "TB_CONTROL__RESTART_BACKOFF_SECONDS": "[0.5]",
    "TB_CONTROL__STOP_GRACE_SECONDS": "5",
    "TB_RISK__MAX_OPEN_POSITIONS": "20",
    # positions opened by a test stay open until the test closes them: wide stops and targets, no
    # trailing, no time or volume exits (0.2 s candles would otherwise run through them in seconds)
    "TB_STOPS__MIN_STOP_PCT": "10",
    "TB_STOPS__MAX_STOP_PCT": "20",
    "TB_EXITS__TRAILING__ENABLED": "false",
    "TB_EXITS__VOLUME_EXHAUSTION_ENABLED": "false",
    "TB_EXITS__EMERGENCY_LOSS_PCT": "90",
    "TB_EXITS__TIME_LIMIT_MINUTES": "1000000",
    # supervisors keep a journal file per bot id: the tests' go to the temp folder, not var/journal
    "TB_JOURNAL__DIR": tempfile.mkdtemp(prefix="tb-test-journal-"),  # one per test session
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def process_env(redis_url: str, bot_id: str, **overrides: str) -> dict[str, str]:
    """The environment of a child: none of the caller's TB_* settings, ours instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_") and k != "REDIS_URL"}
    env.update(FAST_ENV)
    env.update(REDIS_URL=redis_url, TB_BOT__ID=bot_id, PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, *, interval_s: float = 0.02,
             on_timeout: Callable[[], str] | None = None) -> object:
    """Poll until `condition()` is truthy; its value, or AssertionError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise AssertionError(f"no {what} within {timeout_s:g} s{extra}")
        time.sleep(interval_s)


def _is_our_bot(pid: int) -> bool:
    """The pid runs `main.py bot` from this project (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"main.py") for part in cmdline) and b"bot" in cmdline


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Managed:
    """One child process in its own session, logging to a file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"--- {self.name} log ({self.log_path}) ---\n" + "\n".join(text)

    def signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace_s: float = 8.0) -> None:
        """SIGCONT + SIGTERM (graceful), then SIGKILL to the whole group; always reaps."""
        if self.alive():
            kill_group(self.pid, signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.pid, signal.SIGKILL)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


class BotFleet:
    """Starts bots and supervisors for one bot id and ends all of them (and the bots they started)."""

    def __init__(self, store: StateStore, redis_url: str, log_dir: Path, **env_overrides: str):
        self.store = store
        self.env = process_env(redis_url, store.bot_id, **env_overrides)
        self.log_dir = log_dir
        self.children: list[Managed] = []
        self.bot_pids: set[int] = set()

    def _start(self, name: str, args: list[str]) -> Managed:
        child = Managed(name, [PYTHON, str(PROJECT_ROOT / "main.py"), *args], self.env,
                        self.log_dir / f"{name}-{len(self.children)}.log")
        self.children.append(child)
        return child

    def start_bot(self, mode: str = "paper", *extra: str) -> Managed:
        bot = self._start("bot", ["bot", "--mode", mode, *extra])
        self.bot_pids.add(bot.pid)
        return bot

    def start_supervisor(self, mode: str = "paper") -> Managed:
        return self._start("supervisor", ["supervise", "--mode", mode])

    # --------------------------------------------------------------------------- observing

    def state(self) -> dict[str, str]:
        return self.store.read_state()

    def live_bot_pid(self) -> int | None:
        """The pid of a bot that says it runs and whose heartbeat is fresh (the state hash's `pid`)."""
        state = self.state()
        if state.get("running") != "1" or not state.get("pid"):
            return None
        if now_ms() - int(state.get("heartbeat_ms") or 0) > 2500:
            return None
        pid = int(state["pid"])
        self.bot_pids.add(pid)
        return pid

    def wait_bot_running(self, timeout_s: float = 20.0, *, not_pid: int | None = None) -> int:
        """A heartbeating bot (a different one from `not_pid`, after a restart); its pid."""

        def ready() -> int | None:
            pid = self.live_bot_pid()
            if pid is None or pid == not_pid:
                return None
            # the heartbeat thread writes heartbeat_ms; two fresh beats prove the process is alive
            first = int(self.state().get("heartbeat_ms") or 0)
            return pid if first and self._beats_after(first, 2.5) else None

        return wait_for(ready, timeout_s, "heartbeating bot", interval_s=0.05, on_timeout=self.logs)

    def _beats_after(self, ts_ms: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if int(self.state().get("heartbeat_ms") or 0) > ts_ms:
                return True
            time.sleep(0.02)
        return False

    def heartbeats(self, timeout_s: float = 2.0) -> bool:
        """True when the heartbeat moves on within `timeout_s`."""
        return self._beats_after(int(self.state().get("heartbeat_ms") or 0), timeout_s)

    def logs(self) -> str:
        return "\n".join(child.log_tail() for child in self.children)

    # ----------------------------------------------------------------------------- cleanup

    def _remember_state_pids(self) -> None:
        try:
            state = self.state()
        except Exception:
            return
        for key in ("pid", "supervised_pid"):
            if state.get(key):
                self.bot_pids.add(int(state[key]))

    def cleanup(self) -> None:
        self._remember_state_pids()
        for child in reversed(self.children):
            child.stop()
        self._remember_state_pids()
        for pid in self.bot_pids:
            if _is_our_bot(pid):
                kill_group(pid, signal.SIGCONT)
                kill_group(pid, signal.SIGKILL)


def run_cli(args: Iterable[str], env: Mapping[str, str], timeout_s: float = 30.0) -> subprocess.CompletedProcess:
    """`main.py ARGS` to completion, output captured as text."""
    return subprocess.run(
        [PYTHON, str(PROJECT_ROOT / "main.py"), *args], cwd=PROJECT_ROOT, env=dict(env), capture_output=True,
        text=True, timeout=timeout_s,
    )


# ---------------------------------------------------------------------------------- reading Redis


def read_venue(store: StateStore, venue_name: str = "sim"):
    """The simulated venue as every process sees it (its snapshot in Redis): (positions, open orders)."""
    from clock import SimulatedClock
    from exchange_client import SimVenueClient, load_symbol_rules_for
    from settings import load_settings
    from simulator import SimConfig

    settings = load_settings(environ={})
    venue = SimVenueClient(SimConfig.from_settings(settings.venue), SimulatedClock(0), load_symbol_rules_for(settings),
                           store=store.venue_store(venue_name))
    return venue.positions(), venue.open_orders()


def unprotected(store: StateStore, venue_name: str = "sim") -> list[str]:
    """Positions at the venue without a reduce-only stop resting for their whole quantity."""
    from models import OrderType

    positions, orders = read_venue(store, venue_name)
    naked = []
    for p in positions:
        covered = sum(o.qty - o.filled_qty for o in orders
                      if o.symbol == p.symbol and o.reduce_only and o.order_type is OrderType.STOP_MARKET)
        if covered < p.qty:
            naked.append(p.symbol)
    return naked


def wait_consumed(store: StateStore, group: str, entry_id: str, timeout_s: float = 5.0) -> None:
    """Until `group` has read and acknowledged every entry up to `entry_id`."""

    key = store.key("commands")

    def consumed() -> bool:
        for info in store.client.xinfo_groups(key):
            if info["name"] == group:
                last = tuple(int(x) for x in info["last-delivered-id"].split("-"))
                if last < tuple(int(x) for x in entry_id.split("-")):
                    return False
                return not store.client.xpending_range(key, group, min=entry_id, max=entry_id, count=1)
        return False

    wait_for(consumed, timeout_s, f"{group} consuming {entry_id}")
