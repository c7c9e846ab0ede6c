"""A command reader: one consumer group on the commands stream, one dedicated thread.

Bot and supervisor each run one (groups "bot" and "supervisor"), so each sees every command and runs
the ones it owns. Every command runs at most once across both: the first handler to claim its id
wins (`StateStore.claim_command`). Results go back to Redis — accepted, then done / rejected / failed,
with the time since the command was issued — for whoever sent it. Nothing a sender puts on the stream
can stop the reader: parsing never raises, and a handler's unexpected exception becomes `failed`.
Nor can Redis: the reader backs off while it does not answer, and recreates its consumer group when
Redis lost it (NOGROUP after a FLUSHALL or a restart without data) — from where it had read, so a
command sent meanwhile is still seen, and claims keep anything from running twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Mapping

from clock import Clock
from control.commands import Rejection, parse_command
from errors import CommandError, ConsumerGroupMissingError, HandOverError, StateStoreError
from models import AuditEvent, Command, CommandResult, CommandStatus, CommandType
from state import Outage, StateStore, StreamEntry

log = logging.getLogger(__name__)

Handler = Callable[[Command], str]


def _final(command_id: str) -> str:
    """The claim that makes one result final: whoever reports first, the owner or a take-over."""
    return f"{command_id}:final"


class CommandProcessor:
    def __init__(
        self,
        store: StateStore,
        *,
        group: str,
        consumer: str,
        handlers: Mapping[CommandType, Handler],
        clock: Clock,
        max_bytes: int,
        on_unowned: Callable[[Command], None] | None = None,
        start_id: str = "0",
    ):
        self.store = store
        self.group = group
        self.consumer = consumer
        self.handlers = dict(handlers)
        self.clock = clock
        self.max_bytes = max_bytes
        self.on_unowned = on_unowned
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.start_id = start_id
        self._last_id: str | None = None  # the last entry this reader took off the stream
        self._started_id = f"{clock.now_ms()}-0"
        # "0": a group created now still sees commands sent while its reader was down (a halt sent
        # while the bot restarts is in force when it comes back); claims stop anything running twice.
        self.store.ensure_group(group, start_id)

    # ------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"commands-{self.group}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        outage = Outage(f"command reader ({self.group})", log=log)
        while not self._stop.is_set():
            try:
                self.poll(block_ms=500)
                outage.recovered()
            except StateStoreError as exc:
                self._stop.wait(outage.failed(exc))
            except Exception:  # the reader must outlive any bug in a handler
                log.exception("command reader: unexpected error; continuing")
                time.sleep(0.1)

    def poll(self, block_ms: int = 0) -> int:
        try:
            entries = self.store.read_commands(self.group, self.consumer, block_ms=block_ms)
        except ConsumerGroupMissingError:
            self._recreate_group()
            entries = self.store.read_commands(self.group, self.consumer, block_ms=0)
        for entry in entries:
            self._last_id = entry.entry_id
            self.process(entry)
        return len(entries)

    def _heal_from(self) -> str:
        """The bot's group re-reads the whole stream (claims stop repeats); a group that starts at "$"
        goes on after what it last read, or from its own start when it read nothing."""
        if self.start_id == "0":
            return "0"
        return self._last_id or self._started_id

    def _recreate_group(self) -> None:
        start = self._heal_from()
        self.store.ensure_group(self.group, start)
        message = f"command group '{self.group}' was gone from Redis (state lost?); recreated, reading from {start}"
        log.error("%s", message)
        self.store.audit(AuditEvent("command", self.clock.now_ms(), message, {"group": self.group, "level": "alert"}))

    # ------------------------------------------------------------------------------- one entry

    def process(self, entry: StreamEntry) -> None:
        try:
            parsed = parse_command(entry.entry_id, entry.fields, max_bytes=self.max_bytes)
            if isinstance(parsed, Rejection):
                self._reject_malformed(parsed)
            elif parsed.type in self.handlers:
                self.run(parsed)
            elif self.on_unowned is not None:
                self.on_unowned(parsed)
        finally:
            self.store.ack_command(self.group, entry.entry_id)

    def _reject_malformed(self, rejection: Rejection) -> None:
        if self.store.claim_command(rejection.command_id, self.group):
            self._result(rejection.command_id, CommandStatus.REJECTED, rejection.reason, issued_at_ms=None)
            self.store.audit(
                AuditEvent("command", self.clock.now_ms(), f"rejected malformed command: {rejection.reason}", {"command_id": rejection.command_id})
            )

    def run(self, command: Command, *, claim_as: str | None = None, handler: Handler | None = None) -> CommandResult | None:
        """Claim, run and report one command; None when someone else already claimed it.

        `handler` runs a command this reader does not own (the supervisor taking over a bot command)."""
        if not self.store.claim_command(claim_as or command.command_id, self.group):
            return None
        if claim_as is not None and self.store.command_claimed_by(_final(command.command_id)):
            return None  # a take-over of a command whose owner has already reported its outcome
        started = time.perf_counter()
        self._result(command.command_id, CommandStatus.ACCEPTED, f"accepted by {self.group}", command.issued_at_ms)
        try:
            detail = (handler or self.handlers[command.type])(command)
            status = CommandStatus.DONE
        except HandOverError as exc:
            # not final: whoever takes over reports the outcome
            self._result(command.command_id, CommandStatus.HANDED_OVER, str(exc), command.issued_at_ms)
            self.store.audit(AuditEvent(
                "command", self.clock.now_ms(), f"{command.type.value} from {command.issued_by}: handed over by "
                f"{self.group} — {exc}", {"command_id": command.command_id, "handled_by": self.group},
            ))
            return None
        except CommandError as exc:
            detail, status = str(exc), CommandStatus.REJECTED
        except Exception as exc:  # reported to the sender, never fatal to the reader
            log.exception("command %s failed", command.type.value)
            detail, status = f"{type(exc).__name__}: {exc}", CommandStatus.FAILED
        handler_ms = (time.perf_counter() - started) * 1000
        if not self.store.claim_command(_final(command.command_id), self.group):
            # One outcome per command: the supervisor finished a kill switch that this bot had claimed and
            # then stalled on (frozen), and reported first. Recorded, never overwritten.
            self.store.audit(AuditEvent(
                "command", self.clock.now_ms(),
                f"{command.type.value} from {command.issued_by}: also {status.value} by {self.group} after "
                f"{self.store.command_claimed_by(_final(command.command_id))} had reported it — {detail}",
                {"command_id": command.command_id, "handled_by": self.group},
            ))
            return None
        result = self._result(command.command_id, status, detail, command.issued_at_ms, handler_ms)
        self.store.audit(
            AuditEvent(
                "command",
                self.clock.now_ms(),
                f"{command.type.value} from {command.issued_by}: {status.value} — {detail}",
                {"command_id": command.command_id, "handled_by": self.group, "args": dict(command.args)},
            )
        )
        return result

    def _result(
        self, command_id: str, status: CommandStatus, detail: str, issued_at_ms: int | None, handler_ms: float | None = None
    ) -> CommandResult:
        now = self.clock.now_ms()
        elapsed = float(now - issued_at_ms) if issued_at_ms else (handler_ms or 0.0)
        result = CommandResult(command_id, status, self.group, detail, round(elapsed, 3), now)
        self.store.write_command_result(result)
        return result
