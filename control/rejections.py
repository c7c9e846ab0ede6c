"""Rejected commands in the decision log, without letting a flood of them push real decisions out.

The audit stream is capped (MAXLEN), so every line written pushes the oldest one out: 20,000 junk
commands with a line each left a few hundred real decisions. Here each process writes at most
`lines_per_window` rejection lines per window, one by one as before (an operator's refused `resume`
stays visible with its reason), and counts the rest; once the window is over, one line says how
many more were rejected and of which kinds. Every rejection still has its own result in
`command_results` for whoever sent it.

Chosen over a separate stream for rejections: the decision log stays the one place to look, and the
ordinary rejection a user caused is in it, in order, next to the decisions around it.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Mapping

from clock import Clock
from models import AuditEvent
from state import StateStore


class RejectionLog:
    def __init__(self, store: StateStore, clock: Clock, *, who: str, lines_per_window: int = 20, window_s: float = 10.0):
        self.store = store
        self.clock = clock
        self.who = who
        self.lines_per_window = lines_per_window
        self.window_ms = int(window_s * 1000)
        self._lock = threading.Lock()  # the reader and the supervisor's takeover workers share one
        self._window_start = 0
        self._written = 0
        self._unwritten: Counter[str] = Counter()

    def record(self, message: str, kind: str, data: Mapping[str, Any]) -> None:
        """One rejection: its own audit line while the window's budget lasts, else counted under `kind`."""
        now = self.clock.now_ms()
        with self._lock:
            summary = self._roll(now)
            write = self._written < self.lines_per_window
            if write:
                self._written += 1
            else:
                self._unwritten[kind] += 1
        if summary:
            self.store.audit(summary)
        if write:
            self.store.audit(AuditEvent("command", now, message, dict(data)))

    def flush_if_due(self) -> None:
        """Write the summary of a window that is over (called by the reader between polls)."""
        with self._lock:
            summary = self._roll(self.clock.now_ms())
        if summary:
            self.store.audit(summary)

    def _roll(self, now: int) -> AuditEvent | None:
        if now - self._window_start < self.window_ms:
            return None
        summary = None
        if self._unwritten:
            total = sum(self._unwritten.values())
            kinds = ", ".join(f"{kind}: {n}" for kind, n in self._unwritten.most_common())
            seconds = (now - self._window_start) / 1000
            summary = AuditEvent(
                "command", now,
                f"{total} more commands rejected by {self.who} in the last {seconds:.0f} s, not logged one by one "
                f"({kinds}); each has its result in command_results",
                {"rejected": total, "by_kind": dict(self._unwritten), "handled_by": self.who},
            )
        self._window_start, self._written, self._unwritten = now, 0, Counter()
        return summary
