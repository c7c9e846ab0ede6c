"""Lost state means HALTED: the bot and the supervisor notice when Redis no longer holds their state.

How a loss is told apart from a first start:

- Redis holds a run marker (`tb:{bot}:epoch`, state.py). The first process of a bot on an empty Redis
  writes one; every later process adopts it. While a process runs, the marker must stay the one it
  adopted: gone (FLUSHALL, a restart without AOF) or replaced means the state it relied on is lost.
- Redis alone cannot tell a first-ever start from a restart on a Redis that lost everything, so the
  marker is mirrored to a file per bot id (`redis.run_marker_dir`, var/run by default) on this host.
  No marker in Redis and no file: a first start, trading may begin. No marker in Redis but a file: this
  bot had state here before, so the state is lost.
- A marker older than the one adopted (its `since_ms`, also in the file) is not another process's
  declaration but Redis back from an older dump (an RDB copied back, a replica promoted): lost too, at
  start-up as while running. Only a newer marker is adopted quietly.
- A simulated venue whose snapshot version goes back (or vanishes) is noticed by its store
  (`VenueSnapshotStore`): the same loss, even with the marker intact (a restart that lost the last
  second of writes).

A loss is declared loudly through the one owner of the trading state (control.trading_state): the
durable halt flag with the typed cause `state_lost` (the strongest: nothing weaker replaces it) and its
reason is written first, then a new marker, an alert in the state hash and the audit event. Only an
operator's resume trades again.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

from clock import Clock
from control.trading_state import TradingStateControl
from models import AuditEvent, HaltCause
from state import StateStore

log = logging.getLogger(__name__)


class StateGuard:
    def __init__(self, store: StateStore, marker_dir: Path, clock: Clock, *, who: str, holdings: str):
        """`holdings`: where this bot's positions live, said with every loss (see `holdings_note`)."""
        self.store = store
        self.marker_path = Path(marker_dir) / f"{store.bot_id}.json"
        self.clock = clock
        self.who = who
        self.holdings = holdings
        self.trading = TradingStateControl(store, clock)
        self._since_ms = 0  # since when the adopted run marker is in force (an older one found is a restore)

    # ------------------------------------------------------------------------------ start-up

    def open_run(self) -> str | None:
        """At start-up, before anything else is written: adopt the marker, or start the first run, or
        declare the loss. The reason when state was lost, else None."""
        marker = self.store.read_epoch_marker()
        if marker is not None:
            current, since_ms = marker
            last_run, last_since_ms = self._read_file(), self._read_file_since()
            if last_run not in (None, "unreadable", current) and since_ms < last_since_ms:
                return self._declare(
                    f"Redis holds an older run marker ({current}) than this bot's last run ({last_run}): it was "
                    f"restored from an older copy of its data; {self.holdings}", replacing=current)
            self._adopt(current, since_ms)  # the same run, or a newer one another process declared
            return None
        previous = self._read_file()
        if previous is None:
            now = self.clock.now_ms()
            claimed = self.store.claim_epoch(_new_epoch(), now)
            self._adopt(claimed, self._since(claimed, now))
            return None
        return self._declare(
            f"Redis holds no state for bot {self.store.bot_id}, which had state here in run "
            f"{previous} (Redis was flushed or restarted without its data); {self.holdings}"
        )

    # ----------------------------------------------------------------------------- each loop

    def check(self) -> str | None:
        """Once per loop: the reason when state was lost since the last check (declared or adopted)."""
        noted = self.store.take_state_lost()
        marker = self.store.read_epoch_marker()
        if marker is None:
            return self._declare(
                f"Redis was flushed or restarted without its data (the run marker {self.store.epoch} "
                f"vanished); {self.holdings}"
            )
        current, since_ms = marker
        if current != self.store.epoch:
            if since_ms < self._since_ms:
                # not another process's declaration (that marker would be newer): Redis came back from an
                # older dump (an RDB copied back, a replica promoted), with an older run's records
                return self._declare(
                    f"Redis holds an older run marker ({current}, since ms {since_ms}) than the one this process "
                    f"ran under ({self.store.epoch}, since ms {self._since_ms}): it was restored from an older "
                    f"copy of its data; {self.holdings}", replacing=current)
            # another process (the bot or the supervisor) noticed first and declared it; halting again could
            # undo an operator's resume that came after, so this one only rebuilds
            previous = self.store.epoch
            self.store.forget_venue_versions()
            self._adopt(current, since_ms)
            message = f"state lost: the run marker changed from {previous} to {current}: declared by another process"
            if noted:  # what this process noticed on its own meanwhile is said too, not dropped
                message += "; noticed here as well: " + "; ".join(noted)
            self._audit(message)
            return message
        if noted:
            return self._declare("; ".join(noted))
        return None

    # ------------------------------------------------------------------------------ internals

    def _declare(self, detail: str, *, replacing: str | None = None) -> str:
        """Halt, then claim a new run marker (in place of `replacing`, an older run's, if given); the
        process whose marker is in force afterwards tells the user."""
        detail = f"{detail}; HALTED until an operator resumes"
        # first: nothing trades meanwhile
        flag = self.trading.halt(HaltCause.STATE_LOST, f"state-guard ({self.who})", detail)
        self.store.forget_venue_versions()
        ours, fresh, now = self.store.epoch, _new_epoch(), self.clock.now_ms()
        current = self.store.claim_epoch(fresh, now, replacing=replacing)
        self._adopt(current, self._since(current, now if current == fresh else None))
        if current not in (fresh, ours):
            # the bot and the supervisor both saw the marker gone: the one whose marker won tells the user,
            # the other halted too (the same cause) and only notes it
            self._audit(f"state lost: {detail}; declared by another process at the same moment")
            return flag.reason
        self.store.write_state(alert=flag.reason)
        self._audit(f"ALERT: {flag.reason}", alert=True)
        log.error("%s", flag.reason)
        return flag.reason

    def _since(self, epoch: str, known_ms: int | None) -> int:
        """Since when `epoch` is in force: known when this process wrote it, else read from Redis."""
        if known_ms is not None:
            return known_ms
        marker = self.store.read_epoch_marker()
        return marker[1] if marker is not None and marker[0] == epoch else self._since_ms

    def _adopt(self, epoch: str, since_ms: int) -> None:
        self.store.epoch = epoch
        self._since_ms = since_ms
        self._write_file(epoch, since_ms)

    def _audit(self, message: str, *, alert: bool = False) -> None:
        data: dict[str, str] = {"by": self.who, "level": "alert"}
        if alert:
            data["alert"] = "state_lost"  # alerts/events.py: the one process that declared the loss tells the user
        self.store.audit(AuditEvent("state", self.clock.now_ms(), message, data))

    def _read_file(self) -> str | None:
        try:
            return str(json.loads(self.marker_path.read_text())["epoch"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return "unreadable"  # a marker file that is there says this bot had state, readable or not

    def _read_file_since(self) -> int:
        """Since when the last run's marker was in force (0: unknown, a file of the older format)."""
        try:
            return int(json.loads(self.marker_path.read_text()).get("since_ms") or 0)
        except (OSError, ValueError, TypeError, AttributeError):
            return 0

    def _write_file(self, epoch: str, since_ms: int) -> None:
        try:
            self.marker_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.marker_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"bot_id": self.store.bot_id, "epoch": epoch, "since_ms": since_ms}))
            os.replace(tmp, self.marker_path)  # whole or not at all: the bot and the supervisor both write it
        except OSError as exc:
            log.warning("run marker file %s not written: %s", self.marker_path, exc)


def holdings_note(mode: str, venue: str) -> str:
    """What a loss of Redis means for this bot's positions."""
    if mode == "ghost":
        return "ghost trades in flight were kept in that Redis and are lost"
    if venue == "sim":
        return "the simulated paper account lived in that Redis and is lost"
    return f"positions and orders are rebuilt from the venue ({venue})"


def _new_epoch() -> str:
    return uuid.uuid4().hex[:12]
