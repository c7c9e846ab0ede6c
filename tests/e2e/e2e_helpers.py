"""Helpers for the end-to-end tests: managed child processes and small stand-ins for the bot."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from playwright.sync_api import Locator, Page, expect

from models import CommandResult, CommandStatus
from state import StateStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UI_TIMEOUT_MS = 30_000
COMMAND_TIMEOUT_MS = 20_000  # the dashboard itself gives up on an answer after 10 s


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Managed:
    """A child process started in its own session, its output in a log file for failure messages."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited (code {self.process.returncode}) before {what}:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no {what} within {timeout_s:g}s:\n{self.log_tail()}")

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM (graceful), then SIGKILL to its process group after the grace period."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(5)
            except ProcessLookupError:
                pass
        self._log.close()


# ----------------------------------------------------------------------------------- page object


class DashboardPage:
    """The dashboard as a person sees it: the status strip, the sidebar controls and their answer.

    Status cells and the answer box are found by their Streamlit keys (CSS classes `st-key-…`), so a
    word like "ACTIVE" in a table further down never confuses a test.
    """

    def __init__(self, page: Page):
        self.page = page
        self.main = page.get_by_test_id("stMain")
        self.sidebar = page.get_by_test_id("stSidebar")
        self.sidebar_status = page.locator(".st-key-sidebar_status")
        self.result = page.locator(".st-key-command_result")

    @classmethod
    def open(cls, page: Page, url: str) -> "DashboardPage":
        page.goto(url)
        expect(page.get_by_role("tab", name="Account")).to_be_visible(timeout=UI_TIMEOUT_MS)
        return cls(page)

    def status(self, label: str) -> Locator:
        return self.page.locator(".tb-status-" + label.lower().replace(" ", "_"))

    def expect_status(self, label: str, value: str, timeout_ms: int = UI_TIMEOUT_MS) -> None:
        expect(self.status(label).get_by_text(value, exact=True)).to_be_visible(timeout=timeout_ms)

    def press(self, label: str, sent_as: str | None = None) -> None:
        """Click a control and wait for *its* answer: the caption names the command that was sent."""
        self.sidebar.get_by_role("button", name=label, exact=True).click()
        expect(self.result.get_by_text(f"{sent_as or label} · sent")).to_be_visible(timeout=COMMAND_TIMEOUT_MS)

    def expect_result(self, text: str) -> None:
        expect(self.result.get_by_text(text)).to_be_visible()

    def choose_mode(self, mode: str) -> None:
        box = self.sidebar.get_by_role("combobox", name="Mode")
        self.page.mouse.move(800, 10)  # a button's help tooltip (still hovered after a press) would cover the box
        box.click()
        self.page.get_by_role("option", name=mode, exact=True).click()
        expect(box).to_have_value(mode)


# ------------------------------------------------------------------------------------ stand-ins


class CommandAnswerer:
    """Stands in for the bot where a test needs no real one: answers every command on the stream."""

    def __init__(self, store: StateStore, status: CommandStatus, detail: str = "", elapsed_ms: float = 12.0):
        self.store, self.status, self.detail, self.elapsed_ms = store, status, detail, elapsed_ms
        self.seen: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start_id = (store.client.xrevrange(store.key("commands"), count=1) or [("0-0", {})])[0][0]

    def __enter__(self) -> "CommandAnswerer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last = self._start_id
        while not self._stop.is_set():
            for _, entries in self.store.client.xread({self.store.key("commands"): last}, block=50) or []:
                for entry_id, fields in entries:
                    last = entry_id
                    self.seen.append(fields)
                    self.store.write_command_result(CommandResult(
                        fields["command_id"], self.status, "stand-in", self.detail, self.elapsed_ms,
                        now_ms()))


class Heartbeat:
    """Keeps a seeded bot looking alive: writes heartbeat_ms every 0.3 s until stopped."""

    def __init__(self, store: StateStore):
        self.store = store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            self.store.heartbeat(now_ms())
