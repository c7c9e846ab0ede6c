"""The supervisor: starts and stops the bot process, watches its heartbeat, restarts it after a crash,
and runs the kill switch itself when the bot cannot.

- start {mode}: a new bot process (`main.py bot --mode M`); refused when stale, when one is already
  running, and for live until the go-live gate exists.
- A crash is restarted with backoff; more than `crash_loop_max_restarts` crashes inside
  `crash_loop_window_seconds` halts the bot and raises an alert instead of spinning.
- stop: the bot stops itself; when it cannot (frozen), SIGTERM then SIGKILL after a grace period.
- halt / close-all / close: the bot's commands. When the bot has not claimed one within
  `takeover_wait_seconds` (dead, frozen, or not running), the supervisor runs it: the halt flag is
  written, and for close-all every order is cancelled and every position closed reduce-only through
  exchange_client, and flat is confirmed from the venue.
- Those take-overs wait in one bounded priority queue (`TakeoverQueue`) served by two threads:
  one serves only close-all and halt, the other everything by priority (close-all, halt, close,
  stop, resume / open). A command id is queued once; when the queue is full the least important
  waiting command is dropped (counted in one audit line), never a close-all for a halt or less.

Every transition is written to Redis (state hash + audit stream). Redis trouble of any length is
ridden out: the watch loop and the take-over threads back off and go on; lost state (state_guard.py)
is declared HALTED here too, whichever process notices first.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import heapq
import itertools
import threading
import time
from collections import Counter, OrderedDict, deque
from pathlib import Path

from clock import SimulatedClock, SystemClock
from control.commands import is_stale
from control.flatten import cancel_entry_orders, flatten
from control.processor import CommandProcessor
from control.trading_state import TradingStateControl
from errors import CommandError, ConfigError, ExchangeError, StateStoreError
from exchange_client import LIVE_VENUE, open_venue_for_closing
from models import AuditEvent, Command, CommandStatus, CommandType, ExitReason, HaltCause, Mode, timeframe_ms
from order_ids import exit_order_id, symbol_code
from settings import PROJECT_ROOT, Settings
from journal.service import JournalService
from state import BotStatus, Outage, StateStore, bot_status
from state_guard import StateGuard, holdings_note

log = logging.getLogger(__name__)

GROUP = "supervisor"
SUPERVISOR_ATTEMPTS_FROM = 90

# Lower runs first. Close-all and halt are served by a worker of their own as well.
TAKEOVER_PRIORITY = {
    CommandType.CLOSE_ALL: 0,
    CommandType.HALT: 1,
    CommandType.CLOSE: 2,
    CommandType.STOP: 3,
    CommandType.RESUME: 4,
    CommandType.OPEN: 4,
}
URGENT_PRIORITY = 1
TAKEOVERS_WAITING = 256  # each may hold a worker for takeover_wait_seconds: more is a flood, not a queue
IDS_REMEMBERED = 10_000  # a command seen again (the reader's early look at a backlog, a re-delivery) is ignored


def bot_venue(mode: Mode, said: str | None, paper_venue: str) -> str:
    """Where a bot in `mode` holds its positions. A live bot: Binance mainnet, always. A paper bot: the venue
    its state names (it may run another config than this supervisor's), else this config's paper venue."""
    if mode is Mode.LIVE:
        return LIVE_VENUE
    from venues.binance_connection import VENUES

    return said if said == "sim" or (said in VENUES and said != LIVE_VENUE) else paper_venue


class TakeoverQueue:
    """Bot commands waiting for the supervisor to see whether the bot claims them. Thread-safe, bounded."""

    def __init__(self, capacity: int = TAKEOVERS_WAITING, remember: int = IDS_REMEMBERED):
        self.capacity = capacity
        self.remember = remember
        self._heap: list[tuple[int, int, Command]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._order = itertools.count()
        self._ready = threading.Condition()
        self.dropped: Counter[str] = Counter()  # by command type, since the last take_dropped()

    def __len__(self) -> int:
        with self._ready:
            return len(self._heap)

    def put(self, command: Command) -> bool:
        """Queued (True), or ignored as a duplicate / dropped as the least important (False)."""
        priority = TAKEOVER_PRIORITY[command.type]
        with self._ready:
            if command.command_id in self._seen:
                return False
            self._seen[command.command_id] = None
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            if len(self._heap) >= self.capacity:
                worst = max(self._heap)  # least important, and the newest of those
                if worst[0] <= priority:
                    self.dropped[command.type.value] += 1
                    return False
                self._heap.remove(worst)
                heapq.heapify(self._heap)
                self.dropped[worst[2].type.value] += 1
            heapq.heappush(self._heap, (priority, next(self._order), command))
            self._ready.notify_all()
            return True

    def take(self, max_priority: int, timeout_s: float) -> Command | None:
        """The most important waiting command of at most `max_priority`, or None after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while True:
                if self._heap and self._heap[0][0] <= max_priority:
                    return heapq.heappop(self._heap)[2]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._ready.wait(remaining)

    def take_dropped(self) -> Counter[str]:
        with self._ready:
            dropped, self.dropped = self.dropped, Counter()
            return dropped


class Supervisor:
    def __init__(self, settings: Settings, store: StateStore, *, config_path: Path | None = None, python: str | None = None):
        self.settings = settings
        self.store = store
        self.config_path = config_path
        self.python = python or sys.executable
        self.clock = SystemClock()
        self.child: subprocess.Popen | None = None
        self.child_mode: Mode | None = None
        self.intended_exit = False
        self.crashes: deque[float] = deque()
        self.next_restart_at: float | None = None
        self.stop_event = threading.Event()
        self.lock = threading.RLock()
        self.trading = TradingStateControl(store, self.clock)
        self.takeovers = TakeoverQueue()
        self._takeover_workers: list[threading.Thread] = []
        self._next_drop_audit = 0.0
        self.last_health = ""
        self.journal: JournalService | None = None
        # Commands the bot owns; the supervisor runs them only when the bot has not claimed them in time.
        self._fallback_handlers = {
            CommandType.STOP: self.handle_stop,
            CommandType.HALT: self.handle_halt,
            CommandType.CLOSE_ALL: self.handle_close_all,
            CommandType.CLOSE: self.handle_close,
            CommandType.RESUME: self.handle_not_running,
            CommandType.OPEN: self.handle_not_running,
        }
        self.commands = CommandProcessor(
            store,
            group=GROUP,
            consumer=f"supervisor-{os.getpid()}",
            handlers={CommandType.START: self.handle_start},
            clock=self.clock,
            max_bytes=settings.control.max_command_bytes,
            on_unowned=self._defer,
            start_id="$",
        )
        self.guard = StateGuard(
            store, settings.resolve_path(settings.redis.run_marker_dir), self.clock, who="supervisor",
            holdings=holdings_note(settings.bot.mode.value, settings.venue.paper_venue),
        )

    # ------------------------------------------------------------------------------ health

    def health(self) -> str:
        return bot_status(self.store.read_state(), self.clock.now_ms(), self.settings.control.heartbeat_timeout_seconds).value

    def _on_health(self, health: str) -> None:
        """A bot that turns unresponsive (heartbeat too old while its process lives) is an alert."""
        if health == BotStatus.UNRESPONSIVE.value and self.last_health != health:
            self.audit(f"bot unresponsive: no heartbeat for more than {self.settings.control.heartbeat_timeout_seconds:g}s",
                       alert="bot_unresponsive")
        self.last_health = health

    def child_alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def audit(self, message: str, **data) -> None:
        self.store.audit(AuditEvent("supervisor", self.clock.now_ms(), message, data))

    # -------------------------------------------------------------------------- bot process

    def start_bot(self, mode: Mode) -> str:
        with self.lock:
            if self.child_alive():
                assert self.child_mode is not None  # set with every child
                raise CommandError(f"refused: the bot is already running in {self.child_mode.value} mode; stop it first")
            if self.health() == BotStatus.RUNNING:
                raise CommandError("refused: a bot with this id is already running (started elsewhere)")
            args = [self.python, str(PROJECT_ROOT / "main.py"), "bot", "--mode", mode.value]
            if self.config_path:
                args += ["--config", str(self.config_path)]
            self.store.write_state(running="0", heartbeat_ms=0)
            self.child = subprocess.Popen(args, cwd=PROJECT_ROOT, start_new_session=True)
            self.child_mode = mode
            self.guard.holdings = holdings_note(mode.value, self.settings.venue.paper_venue)
            self.intended_exit = False
            self.next_restart_at = None
            self.store.write_state(supervised_pid=self.child.pid, supervised_mode=mode.value)
            self.audit(f"bot started in {mode.value} mode (pid {self.child.pid})", pid=self.child.pid, alert="bot_started")
            return f"started in {mode.value} mode (pid {self.child.pid})"

    def stop_bot(self, reason: str) -> str:
        """SIGTERM (the bot stops gracefully), SIGKILL after the grace period."""
        with self.lock:
            self.intended_exit = True
            self.next_restart_at = None
            child = self.child
            if child is None or child.poll() is not None:
                return "the bot is not running"
            self.audit(f"stopping the bot ({reason})")
            try:
                os.kill(child.pid, signal.SIGTERM)
                os.kill(child.pid, signal.SIGCONT)  # a frozen bot must run to handle its SIGTERM
            except ProcessLookupError:
                pass
            try:
                child.wait(self.settings.control.stop_grace_seconds)
                how = "stopped gracefully"
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                self.store.write_state(running="0", stopped_reason=f"killed after {self.settings.control.stop_grace_seconds}s grace")
                how = f"killed after {self.settings.control.stop_grace_seconds:g}s grace period"
            self.audit(f"bot {how}", alert="bot_stopped")
            return f"bot {how}"

    def watch(self) -> None:
        """One supervision step: notice a crash, restart with backoff, refuse a crash loop."""
        with self.lock:
            child = self.child
            if child is None:
                return
            code = child.poll()
            if code is None:
                return
            if self.intended_exit or code == 0:
                if self.next_restart_at is None and not self.intended_exit:
                    self.audit(f"bot exited cleanly (code {code})", alert="bot_stopped")
                self.child = None
                self.store.write_state(running="0")
                return
            if self.next_restart_at is None:
                self._on_crash(code)
            elif time.monotonic() >= self.next_restart_at:
                mode = self.child_mode or Mode.GHOST
                self.child = None
                try:
                    self.start_bot(mode)
                except CommandError as exc:
                    self.audit(f"restart refused: {exc}")

    def _on_crash(self, code: int) -> None:
        now = time.monotonic()
        window = self.settings.control.crash_loop_window_seconds
        self.crashes.append(now)
        while self.crashes and now - self.crashes[0] > window:
            self.crashes.popleft()
        if len(self.crashes) <= self.settings.control.crash_loop_max_restarts:
            # decided before Redis is written: a write that fails in an outage must not count the crash again
            backoff = self.settings.control.restart_backoff_seconds
            self.next_restart_at = now + backoff[min(len(self.crashes) - 1, len(backoff) - 1)]
        self.store.write_state(running="0", last_crash_code=code, last_crash_ms=self.clock.now_ms())
        if len(self.crashes) > self.settings.control.crash_loop_max_restarts:
            reason = f"crash loop: {len(self.crashes)} crashes in {window:g}s; not restarting"
            self.trading.halt(HaltCause.CRASH_LOOP, GROUP, reason)
            self.store.write_state(alert=reason)
            self.audit(f"ALERT: {reason}", level="alert")
            self.child = None
            return
        assert self.next_restart_at is not None  # set above whenever this is not a crash loop
        delay = self.next_restart_at - now
        self.audit(f"bot crashed (exit code {code}); restarting in {delay:g}s", code=code, alert="bot_crashed")

    # ----------------------------------------------------------------------------- commands

    def handle_start(self, command: Command) -> str:
        if is_stale(command, self.clock.now_ms(), self.settings.control.stale_command_seconds):
            age = (self.clock.now_ms() - command.issued_at_ms) / 1000
            raise CommandError(f"refused: stale start ({age:.0f}s old > {self.settings.control.stale_command_seconds:g}s)")
        mode = Mode(command.args.get("mode", Mode.GHOST.value))
        if mode is Mode.LIVE:
            from control import go_live

            result = go_live.check_with_venue(self.store, self.settings)
            if not result.passed:
                raise CommandError("refused: " + result.refusal().replace("\n", ";"))
        detail = self.start_bot(mode)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.health() == BotStatus.RUNNING:
                return detail + "; heartbeat seen"
            if not self.child_alive():
                raise CommandError("the bot exited during start-up; see the decision log")
            time.sleep(0.05)
        raise CommandError(detail + "; but no heartbeat within 30 s")

    def handle_stop(self, command: Command) -> str:
        return self.stop_bot(f"stop command from {command.issued_by}")

    def handle_halt(self, command: Command) -> str:
        self.trading.halt(HaltCause.OPERATOR, command.issued_by, "applied by the supervisor")
        cancelled = self._cancel_entry_orders()
        return f"HALTED by the supervisor (bot {self.health()}); {cancelled} entry order(s) cancelled"

    def handle_close_all(self, command: Command) -> str:
        self.trading.halt(HaltCause.KILL_SWITCH, command.issued_by, "applied by the supervisor")
        return self.flatten() + f" (bot {self.health()})"

    def handle_close(self, command: Command) -> str:
        return self.flatten(only=command.args["symbol"])

    def handle_not_running(self, command: Command) -> str:
        raise CommandError(f"refused: the bot is {self.health()}; {command.type.value} needs a running bot")

    def _defer(self, command: Command) -> None:
        """A bot command: give the bot `takeover_wait_seconds` to claim it, then act if it has not.

        Called by the command reader, so it only queues: one thread per command was a thread (and a
        Redis connection) per command, and a burst of 20,000 ran Redis out of connections."""
        if command.type in self._fallback_handlers:
            self._start_takeover_workers()
            self.takeovers.put(command)

    def _start_takeover_workers(self) -> None:
        """Two workers, started with the first deferred command: one for close-all and halt only, so a
        kill switch never waits behind a stop's grace period or a burst of resumes."""
        if self._takeover_workers:
            return
        self._takeover_workers = [
            threading.Thread(target=self._takeover_worker, args=(URGENT_PRIORITY,), name="takeover-urgent", daemon=True),
            threading.Thread(target=self._takeover_worker, args=(max(TAKEOVER_PRIORITY.values()),), name="takeover", daemon=True),
        ]
        for worker in self._takeover_workers:
            worker.start()

    def _takeover_worker(self, max_priority: int) -> None:
        while not self.stop_event.is_set():
            command = self.takeovers.take(max_priority, timeout_s=0.5)
            try:
                if command is not None:
                    self._takeover_through_outages(command)
                self._audit_dropped_takeovers()
            except Exception:  # a worker must outlive any one take-over (Redis trouble included)
                log.exception("take-over of %s failed", command.type.value if command else "-")

    def _audit_dropped_takeovers(self) -> None:
        """At most one line per 10 s for commands the full queue turned away."""
        now = time.monotonic()
        if now < self._next_drop_audit:
            return
        self._next_drop_audit = now + 10.0
        dropped = self.takeovers.take_dropped()
        if dropped:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in dropped.most_common())
            self.audit(f"take-over queue full ({self.takeovers.capacity} waiting): {sum(dropped.values())} command(s) "
                       f"not watched ({kinds}); a live bot still runs them itself", dropped=dict(dropped))

    def _takeover_through_outages(self, command: Command) -> None:
        """A take-over interrupted by Redis trouble starts over once it answers: claims keep it to one run."""
        outage = Outage(f"take-over of {command.type.value}", log=log)
        while not self.stop_event.is_set():
            try:
                self._takeover(command)
                return
            except StateStoreError as exc:
                self.stop_event.wait(outage.failed(exc))

    def _takeover(self, command: Command) -> None:
        wait_s = self.settings.control.takeover_wait_seconds
        if self.health() != BotStatus.STOPPED:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if self.store.command_claimed_by(command.command_id):
                    break
                if self.health() == BotStatus.STOPPED:
                    break  # its crash was noticed meanwhile: a dead bot claims nothing, act now
                time.sleep(0.01)
        claimed_by = self.store.command_claimed_by(command.command_id)
        if claimed_by is None and command.type in (CommandType.RESUME, CommandType.OPEN) and self.health() == BotStatus.RUNNING:
            return  # a live bot that is merely slow will answer these itself
        handler = self._fallback_handlers[command.type]
        if claimed_by is None:
            self.commands.run(command, handler=handler)
            return
        if command.type is not CommandType.CLOSE_ALL or claimed_by == GROUP:
            return
        # The bot claimed the kill switch; if it does not finish (frozen or killed mid-way), finish it.
        # A frozen bot looks alive until its heartbeat is older than heartbeat_timeout_seconds, which may
        # be longer than the grace period: keep watching until then, not just for the grace period.
        grace_until = time.monotonic() + wait_s + 1.5
        give_up_at = grace_until + self.settings.control.heartbeat_timeout_seconds + 1.0
        while True:
            result = self.store.read_command_result(command.command_id)
            if result is not None and result.status is CommandStatus.HANDED_OVER:
                break  # the bot asked us to carry on: the venue did not confirm flat in its time
            if result is not None and result.status.is_final:
                return
            now = time.monotonic()
            if now >= grace_until and self.health() != BotStatus.RUNNING:
                break
            if now >= give_up_at:
                return  # it kept heartbeating all along: a live bot still working on it
            time.sleep(0.02)
        self.commands.run(command, claim_as=f"{command.command_id}:takeover", handler=handler)

    # ----------------------------------------------------------------------- direct venue work

    def _open_venue(self):
        """The venue the bot's positions are on, as its state names it: a live bot's are on Binance, whatever
        this supervisor's own config says (a supervisor started for ghost may run a live bot)."""
        state = self.store.read_state()
        mode = Mode(state.get("mode") or Mode.GHOST.value)
        if mode is Mode.GHOST:
            return None
        venue_name = bot_venue(mode, state.get("venue"), self.settings.venue.paper_venue)
        if venue_name != "sim":
            return open_venue_for_closing(self.settings, venue_name, clock=self.clock)
        clock = SimulatedClock(0)
        venue = open_venue_for_closing(self.settings, venue_name, clock=clock,
                                       venue_store=self.store.venue_store(venue_name))
        # The simulated venue runs on the bot's market time (a replay, a synthetic market at 60x): orders
        # and fills of a supervisor's flatten are stamped with it too (the close of its newest candle), or
        # a trade booked from them would span wall time and market time (a 568-day hold). A real venue,
        # or a simulated one that has seen no candle, runs on wall time.
        market_time = getattr(venue, "market_time_ms", None)
        newest_open = market_time() if market_time is not None else None
        clock.set(newest_open + timeframe_ms(self.settings.bot.timeframe) if newest_open else self.clock.now_ms())
        return venue

    def _open_venue_within(self, seconds: float):
        """`_open_venue`, tried again while the venue cannot be reached (a Binance connection reads its rules
        and clock first: one 503 there ended a take-over as failed, and nobody tried again)."""
        give_up = time.monotonic() + seconds
        wait_s = 0.2
        while True:
            try:
                return self._open_venue()
            except ExchangeError as exc:
                if time.monotonic() + wait_s > give_up:
                    raise CommandError(f"NOT flat: the venue could not be reached in {seconds:g}s: {exc}") from None
                self.audit(f"flatten: the venue could not be reached ({exc}); trying again")
                self.stop_event.wait(wait_s)
                wait_s = min(wait_s * 2, 2.0)

    def _cancel_entry_orders(self) -> int:
        venue = self._open_venue()
        if venue is None:
            return 0
        try:
            return cancel_entry_orders(venue, on_error=lambda message: self.audit(f"halt: {message}"))
        finally:
            venue.close()

    def flatten(self, only: str | None = None) -> str:
        """Every order cancelled and every position closed reduce-only (control.flatten), retried until
        the venue confirms flat or `control.flatten_seconds` pass."""
        started = time.monotonic()
        venue = self._open_venue_within(self.settings.control.flatten_seconds)
        if venue is None:
            return self._flatten_ghost(only)
        reason = ExitReason.KILL_SWITCH if only is None else ExitReason.MANUAL

        def exit_id(position, round_: int) -> str:
            # numbered from 90: never an id the bot itself used for this trade's exits
            return exit_order_id(self._trade_id_for(position.symbol), reason, SUPERVISOR_ATTEMPTS_FROM + round_)

        try:
            left_s = max(1.0, self.settings.control.flatten_seconds - (time.monotonic() - started))
            report = flatten(
                venue, exit_id=exit_id, now_ms=self.clock.now_ms, deadline_s=left_s,
                only=only, reason="supervisor flatten",
                on_error=lambda message: self.audit(f"flatten: {message}"),
            )
            if not report.flat:
                raise CommandError(report.summary())
            self.store.write_positions(venue.positions())
            self.store.write_orders(venue.open_orders())
            self.store.write_account(venue.account())
            self.audit(f"flatten done by the supervisor: {report.summary()}")
            return f"{report.summary()} (by the supervisor), 0 orders open"
        finally:
            venue.close()

    def _flatten_ghost(self, only: str | None) -> str:
        """Ghost positions are hypothetical: the bot closes them when it next runs (it is HALTED)."""
        return "ghost mode: no venue positions; ghost trades close when the bot runs again (HALTED)"

    def _trade_id_for(self, symbol: str) -> str:
        return self.store.open_trade_id(symbol) or f"sup{symbol_code(symbol)}"

    # ----------------------------------------------------------------------------- main loop

    def request_stop(self) -> None:
        self.stop_event.set()

    def run(self, start_mode: Mode | None) -> None:
        if start_mode is not None:
            self.guard.holdings = holdings_note(start_mode.value, self.settings.venue.paper_venue)
        self.guard.open_run()
        self.store.write_state(supervisor_pid=os.getpid(), supervisor_started_ms=self.clock.now_ms())
        self.commands.start()
        if self.settings.journal.enabled:
            try:
                self.journal = JournalService(self.settings, self.store, self.clock).start()
            except ConfigError:
                raise  # a notification URL apprise cannot use: one line at start-up, like any bad setting
            except Exception as exc:  # the supervisor's first duty is the bot and the kill switch, not history
                log.error("journal not started (%s: %s): the bot runs without its durable journal", type(exc).__name__, exc)
                self.audit(f"journal not started: {type(exc).__name__}: {exc}; records stay in Redis only", level="alert")
        if start_mode is not None:
            try:
                self.start_bot(start_mode)
            except CommandError as exc:
                self.audit(f"initial start refused: {exc}")
        outage = Outage("supervisor", log=log)
        wait_s = 0.2
        while not self.stop_event.wait(wait_s):
            try:
                if self.guard.check() is not None:
                    self.store.write_state(supervisor_pid=os.getpid())
                self.watch()
                health = self.health()
                self.store.write_state(supervisor_heartbeat_ms=self.clock.now_ms(), bot_health=health)
                self._on_health(health)
            except StateStoreError as exc:
                wait_s = outage.failed(exc)  # the bot process is still watched by the next step
                continue
            wait_s = 0.2
            lasted = outage.recovered()
            if lasted is not None:
                self.audit(f"Redis answered again after {lasted:.1f}s")
        self.commands.stop()
        try:
            self.stop_bot("supervisor shutting down")
            self.store.write_state(supervisor_pid="")
        except StateStoreError as exc:
            log.error("supervisor stopping without Redis (%s): the bot gets SIGTERM, SIGKILL after the grace period", exc)
            child = self.child
            if child is not None and child.poll() is None:  # child_alive(), narrowed for the type checker
                child.terminate()
                try:
                    child.wait(self.settings.control.stop_grace_seconds)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        if self.journal is not None:
            self.journal.stop()  # after the bot stopped: its last records are in the journal too

