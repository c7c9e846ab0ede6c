"""A command reader: one consumer group on the commands stream, one dedicated thread.

Bot and supervisor each run one (groups "bot" and "supervisor"), so each sees every command and runs
the ones it owns. Every command runs at most once across both: the first handler to claim its id
wins (`StateStore.claim_command`). Results go back to Redis — accepted, then done / rejected / failed,
with the time since the command was issued — for whoever sent it. Nothing a sender puts on the stream
can stop the reader: parsing never raises, and a handler's unexpected exception becomes `failed`.
Nor can Redis: the reader backs off while it does not answer, and recreates its consumer group when
Redis lost it (NOGROUP after a FLUSHALL or a restart without data) — from where it had read, so a
command sent meanwhile is still seen, and claims keep anything from running twice.

Under a flood the reader stays cheap and the kill switch stays first:
- entries are read `BATCH` at a time; the malformed ones of a batch are claimed and answered in one
  Lua call and acknowledged with one XACK, so a bad entry costs tens of microseconds;
- when a batch came back full (a backlog), the newest entries are looked at before the next read,
  and a halt or close-all among them runs at once, ahead of the backlog (`_run_urgent_from_tail`).
  A `resume` or `open` sent before such a halt / close-all but read after it is refused as
  superseded, so the reordering never lifts a kill switch the operator pressed later;
- entries older than COMMAND_MAX_AGE_S (by their stream id) are refused as expired: claims expire
  after CLAIM_TTL_S, and nothing that old may run again;
- rejections reach the decision log through a RejectionLog (a budget of lines, then one summary).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Mapping

from clock import Clock
from control.commands import URGENT_COMMANDS, URGENT_TYPES, Rejection, parse_command
from control.rejections import RejectionLog
from errors import CommandError, ConsumerGroupMissingError, HandOverError, StateStoreError
from models import AuditEvent, Command, CommandResult, CommandStatus, CommandType
from state import COMMAND_MAX_AGE_S, Outage, StateStore, StreamEntry

log = logging.getLogger(__name__)

Handler = Callable[[Command], str]

BATCH = 100  # entries per read: large enough that junk is cheap, small enough that one batch is a few ms
TAIL_PEEK = 100  # newest entries looked at (since the last look) when a backlog is waiting: ~3 ms
SUPERSEDED_BY_URGENT = frozenset({CommandType.RESUME, CommandType.OPEN})


def _entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


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
        self.rejections = RejectionLog(store, clock, who=group)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.start_id = start_id
        self._last_id: str | None = None  # the last entry this reader took off the stream
        self._started_id = f"{clock.now_ms()}-0"
        self._tail_seen: str | None = None  # the newest entry id the tail peek has looked at
        self._urgent_ran_upto = (0, 0)  # the newest halt / close-all run ahead of its turn
        self._since_trim = 0
        self._backlog = False
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
        failures = 0
        while not self._stop.is_set():
            try:
                self.poll(block_ms=500)
                outage.recovered()
                failures = 0
            except StateStoreError as exc:
                self._stop.wait(outage.failed(exc))
            except Exception:  # the reader must outlive any bug in a handler; parsing never raises
                log.exception("command reader: unexpected error; continuing")
                failures += 1
                if failures > 1:  # the same bug again and again: do not spin, but never per entry
                    time.sleep(0.1)

    def poll(self, block_ms: int = 0) -> int:
        if self._backlog:  # the last read was full: look for a kill switch before reading on
            self._run_urgent_from_tail()
        try:
            entries = self.store.read_commands(self.group, self.consumer, block_ms=block_ms, count=BATCH)
        except ConsumerGroupMissingError:
            self._recreate_group()
            entries = self.store.read_commands(self.group, self.consumer, block_ms=0, count=BATCH)
        self._backlog = len(entries) == BATCH
        self.process_batch(entries)
        self._since_trim += len(entries)
        if self._since_trim >= 1000:
            self.store.trim_commands()
            self._since_trim = 0
        self.rejections.flush_if_due()
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

    # ------------------------------------------------------------------------------- entries

    def process(self, entry: StreamEntry) -> None:
        self.process_batch([entry])

    def process_batch(self, entries: list[StreamEntry]) -> None:
        """Every entry in order; the malformed ones answered together; acknowledged once.

        An entry is acknowledged once it was handled (or its handling raised, as before: a poison entry
        must not come back forever); the rest of a batch that raised stays pending and is read again."""
        malformed: list[Rejection] = []
        done: list[str] = []
        try:
            for entry in entries:
                done.append(entry.entry_id)
                self._last_id = entry.entry_id
                parsed = self._parse(entry)
                if isinstance(parsed, Rejection):
                    malformed.append(parsed)
                else:
                    self._dispatch(parsed, entry.entry_id)
        finally:
            try:
                if malformed:
                    self._reject_malformed(malformed)
            finally:
                self.store.ack_commands(self.group, done)

    def _parse(self, entry: StreamEntry) -> Command | Rejection:
        parsed = parse_command(entry.entry_id, entry.fields, max_bytes=self.max_bytes)
        if isinstance(parsed, Command):
            try:
                age_s = (self.clock.now_ms() - entry.ts_ms) / 1000
            except ValueError:
                age_s = 0.0
            if age_s > COMMAND_MAX_AGE_S:
                return Rejection(parsed.command_id, f"expired: sent {age_s / 3600:.0f} h ago (at most {COMMAND_MAX_AGE_S // 3600} h)", parsed.type.value)
        return parsed

    def _dispatch(self, command: Command, entry_id: str) -> None:
        if command.type in self.handlers:
            if command.type in SUPERSEDED_BY_URGENT and _entry_key(entry_id) < self._urgent_ran_upto:
                self._reject_superseded(command)
            else:
                self.run(command)
        elif self.on_unowned is not None:
            self.on_unowned(command)

    def _run_urgent_from_tail(self) -> None:
        """A backlog is waiting: run the newest halt / close-all now rather than after it."""
        tail = self.store.newest_commands(TAIL_PEEK, after=self._tail_seen)
        if not tail:
            return
        self._tail_seen = tail[0].entry_id
        for entry in reversed(tail):
            if entry.fields.get("type") not in URGENT_TYPES:
                continue
            parsed = self._parse(entry)
            if isinstance(parsed, Command) and parsed.type in URGENT_COMMANDS:
                if parsed.type in self.handlers:
                    self._urgent_ran_upto = max(self._urgent_ran_upto, _entry_key(entry.entry_id))
                self._dispatch(parsed, entry.entry_id)  # read again in its turn: the claim makes that a no-op

    def _reject_superseded(self, command: Command) -> None:
        if not self.store.claim_command(command.command_id, self.group):
            return
        detail = f"refused: superseded by a halt / close-all sent after this {command.type.value} and run before it"
        self._result(command.command_id, CommandStatus.REJECTED, detail, command.issued_at_ms)
        self.rejections.record(
            f"{command.type.value} from {command.issued_by}: rejected — {detail}", command.type.value,
            {"command_id": command.command_id, "handled_by": self.group},
        )

    def _reject_malformed(self, rejections: list[Rejection]) -> None:
        reasons: dict[str, str] = {}
        for r in rejections:
            reasons.setdefault(r.command_id, r.reason)  # a repeated id: the first one's reason, as claims go
        won = self.store.reject_commands(((r.command_id, r.reason) for r in rejections), self.group, self.clock.now_ms())
        for command_id in won:
            self.rejections.record(f"rejected malformed command: {reasons[command_id]}", "malformed", {"command_id": command_id})

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
        message = f"{command.type.value} from {command.issued_by}: {status.value} — {detail}"
        data = {"command_id": command.command_id, "handled_by": self.group, "args": dict(command.args),
                "type": command.type.value, "by": command.issued_by, "status": status.value}
        if status is CommandStatus.REJECTED:
            self.rejections.record(message, command.type.value, data)
        else:
            self.store.audit(AuditEvent("command", self.clock.now_ms(), message, data))
        return result

    def _result(
        self, command_id: str, status: CommandStatus, detail: str, issued_at_ms: int | None, handler_ms: float | None = None
    ) -> CommandResult:
        now = self.clock.now_ms()
        elapsed = float(now - issued_at_ms) if issued_at_ms else (handler_ms or 0.0)
        result = CommandResult(command_id, status, self.group, detail, round(elapsed, 3), now)
        self.store.write_command_result(result)
        return result
