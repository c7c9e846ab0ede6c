"""The bot process (`main.py bot`): builds the engine from settings and runs it.

Three threads:
  main        the trading loop: poll market data, run candles through the engine, publish state
  heartbeat   writes heartbeat_ms every `bot.heartbeat_seconds`, so the supervisor and dashboard can
              tell a live bot from a dead or frozen one, and progress_ms: when the trading loop last
              moved on (a candle done, an iteration done; now while it waits for the next tick), so a
              loop wedged behind a live heartbeat thread is seen as unresponsive (state.bot_status)
  commands    the dedicated command reader: halt and close-all are read even while a tick is slow

SIGTERM / SIGINT or a `stop` command end the loop gracefully: entry orders cancelled, state
persisted, the run summary written to Redis and printed. Positions stay open (with a warning).

Redis trouble of any length is ridden out: the trading loop keeps the candles it polled, backs off
(0.1 s doubling to 2 s) and goes on where it stopped; no entry is sent while the halt flag cannot be
read; trades closed meanwhile are written once Redis answers. Lost state (state_guard.py) means HALTED:
the loop checks the run marker every tick and rebuilds from the venue after declaring the loss.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import threading
import time
from decimal import Decimal
from typing import Callable

from bot.assembly import assemble
from bot.dead_man import DeadManSwitch
from bot.gap_report import GapReporter
from clock import SimulatedClock, SystemClock
from control.processor import CommandProcessor
from engine.command_handlers import BotCommandHandlers
from errors import ConfigError, ExchangeError, MarketDataError, StateStoreError
from exchange_client import LIVE_VENUE
from marketdata.base import align_down, open_market_data, timeframe_ms
from marketdata.replay import ReplaySource
from marketdata.synthetic import SyntheticSource
from models import Book, Mode
from settings import Settings
from state import Outage, StateStore
from state_guard import StateGuard, holdings_note

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def freeze_warm_heap() -> None:
    """Once start-up is done: everything tracked moves into the collector's permanent generation
    (gc.freeze). The warm engine (100 symbols' windows, indicator streams, the venue's orders) is hundreds
    of thousands of objects that live as long as the process; every full collection walked them all
    inside a tick (tens of ms, hundreds under load: the live tick's p99). Afterwards a collection walks
    only what the loop made since, and the loop's cyclic garbage is still collected. No gc.collect()
    first: on a loaded machine it held the first tick back by a poll (a replay then starts two candles
    on), and what start-up left as garbage is a few objects, kept once.

    From then on the loop collects between ticks (`collect_between_ticks`): the automatic collector's young
    collections ran inside ticks, where whatever the tick held alive made them long (gen1 21-34 ms, gen0 up to
    6 ms in 600 ticks of 100 symbols, against 0.1 ms for the same collection after the tick). Its first
    threshold is raised so that it runs only for a loop that allocates far more than a tick does."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


# containers allocated and not freed before the automatic collector runs: a tick of 100 symbols leaves ~30
YOUNG_THRESHOLD = 100_000
FULL_COLLECTION_EVERY = 3600  # loop turns (an hour at the default tick_seconds): cyclic garbage never stays long


def collect_between_ticks(turn: int) -> None:
    """After a loop turn, before the loop waits for the next poll: the young generations (0.1 ms), and every
    FULL_COLLECTION_EVERY turns a full collection of what was made since the freeze (tens of ms, between
    ticks, where nobody waits on it), which the automatic collector would otherwise run inside a tick."""
    gc.collect(2 if turn % FULL_COLLECTION_EVERY == FULL_COLLECTION_EVERY - 1 else 1)


def feed_identity(settings: Settings, source: str) -> str:
    """Which market this is: ghost trades and signals belong to it (a replay's prices are not Binance's)."""
    if source == "replay":
        files = sorted(os.path.basename(path) for symbol, path in settings.market_data.replay.files.items()
                       if symbol in settings.bot.symbols)
        return "replay:" + ",".join(files)
    if source == "synthetic":
        return f"synthetic:seed {settings.market_data.synthetic.seed}"
    return source


class BotRuntime:
    def __init__(self, settings: Settings, store: StateStore, *, mode: Mode):
        live_gate = None
        if mode is Mode.LIVE:
            from control import go_live

            # main.py asked already; a bot started any other way asks again: real money, no short cut
            live_gate = go_live.check_with_venue(store, settings)
            if not live_gate.passed:
                raise ConfigError(live_gate.refusal().replace("\n", ";"))
        self.settings = settings
        self.store = store
        self.mode = mode
        self.wall = SystemClock()
        self.stop_event = threading.Event()
        self.stop_reasons: list[str] = []
        self.dead_man: DeadManSwitch | None = None  # once armed (venue.dead_man_seconds)
        self._publish_failing_since: float | None = None  # monotonic time of the first snapshot not taken
        self.last_loop_ms = 0.0
        # Written by the trading loop, read by the heartbeat thread (plain attribute stores, no lock).
        self.progress_ms = self.wall.now_ms()
        self.loop_idle = False

        s = settings
        self.market_data = open_market_data(s, self.wall)
        fallback = getattr(self.market_data, "fallback_reason", "")
        self.data_source = self.market_data.name + (f" (auto: {fallback})" if fallback else "")
        self.market_clock = SimulatedClock(0)
        parts = assemble(s, store, mode, market_clock=self.market_clock, wall_clock=self.wall, live_gate=live_gate,
                         feed=feed_identity(s, self.market_data.name))
        self.engine, self.executor, self.venue, self.scorer = parts.engine, parts.executor, parts.venue, parts.scorer
        self._resume_market(store.read_state())  # after the venue is open: its own market time counts too
        self.venue_name = (LIVE_VENUE if mode is Mode.LIVE else s.venue.paper_venue) if self.venue is not None else "none"
        self.book = Book.of(mode, self.venue_name)  # whose records this run writes: its own equity and metrics
        self.guard = StateGuard(
            store, s.resolve_path(s.redis.run_marker_dir), self.wall, who="bot",
            holdings=holdings_note(mode.value, s.venue.paper_venue),
        )
        self.gap_report = GapReporter(store, self.data_source, self.engine.audit)
        handlers = BotCommandHandlers(self.engine, store, self.wall, self.request_stop,
                                      kill_switch_seconds=s.control.kill_switch_seconds,
                                      supervisor_timeout_s=s.control.heartbeat_timeout_seconds)
        self.commands = CommandProcessor(
            store, group="bot", consumer=f"bot-{os.getpid()}", handlers=handlers.table(), clock=self.wall,
            max_bytes=s.control.max_command_bytes,
        )

    def _resume_market(self, previous: dict[str, str]) -> None:
        """Market time never goes back for this bot or its venue: the source goes on after the newest candle
        either has seen, or the bot refuses to start (ConfigError, exit 2, nothing written yet).

        "Seen" is the state hash's `last_candle_open_ms` and the simulated venue's own market time, which is
        ahead of it when a SIGKILL fell between the venue's save and the state's. A venue fed older candles
        ignores them, so every order would fill at its last, frozen price. A synthetic market continues the
        previous run's path (SyntheticSource.resume); a replay continues its files (ReplaySource.resume);
        a live feed cannot deliver candles from after the wall clock."""
        venue_time = getattr(self.venue, "market_time_ms", None)
        last = max(int(previous.get("last_candle_open_ms") or 0), (venue_time() if venue_time else None) or 0)
        if not last:
            return  # a first run: nothing to continue
        source = self.market_data
        if isinstance(source, ReplaySource):
            try:
                source.resume(last)
            except MarketDataError as exc:
                raise ConfigError(
                    f"replay cannot continue bot {self.settings.bot.id}: {exc}; point market_data.replay.files "
                    "at later candles, set market_data.replay.loop, or use a new bot.id"
                ) from None
        elif isinstance(source, SyntheticSource):
            anchor = int(previous.get("synthetic_anchor_ms") or 0)
            if 0 < anchor <= last:
                source.resume(anchor, last)  # the same path, going on from its last candle
            else:
                tf = timeframe_ms(source.timeframe)
                if last >= align_down(self.wall.now_ms(), tf) - tf:  # a fresh path would start at or before it
                    source.resume(last, last)  # no path to continue (another source ran before): a new one after it
        elif last > self.wall.now_ms():
            ahead = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last / 1000))
            raise ConfigError(
                f"{source.name} cannot continue bot {self.settings.bot.id}: its market already reached {ahead}, "
                "after the wall clock (a synthetic or replayed run went ahead); use a new bot.id"
            )

    # ------------------------------------------------------------------------------- lifecycle

    def request_stop(self, reason: str) -> None:
        self.stop_reasons.append(reason)
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handle(signum, _frame):
            self.request_stop(f"signal {signal.Signals(signum).name}")

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def start(self) -> None:
        """Restore, reconcile, announce; the command reader starts before the first trade decision."""
        # before anything is written: an empty Redis after a run that had state is a loss, not a fresh start
        self.guard.open_run()
        self._announce(started=True)
        self.executor.load()
        self.scorer.load()
        halt = self.store.read_halt()
        self.engine.audit(
            "state",
            f"bot started in {self.mode.value} mode on {self.data_source}"
            + (f"; HALTED ({halt.reason}) carried over" if halt else ""),
        )
        self._heartbeat_thread = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        self._heartbeat_thread.start()
        # commands sent while the bot was down (a halt during a restart) are applied before trading
        while self.commands.poll(block_ms=0):
            pass
        self.commands.start()
        backfill = self.market_data.backfill(self.settings.market_data.backfill_candles)
        self._progressed()
        self.engine.warm_up(backfill)
        self.gap_report.report(self.market_data.gaps())
        self._progressed()
        if self.mode is Mode.LIVE:
            self._drop_untradable(backfill)
        anchor = getattr(self.market_data, "anchor_open_ms", None)  # only a synthetic market has one
        if anchor is not None:
            self.store.write_state(synthetic_anchor_ms=anchor)
        with self.engine.lock:
            notes = self.executor.reconcile()
            self.engine._record(self.executor.take_unreported_trades())
        for note in notes:
            self.engine.audit("reconcile", note)
        self._publish_or_note(self.engine.publish)
        self._arm_dead_man()
        freeze_warm_heap()

    def _arm_dead_man(self) -> None:
        """The venue's dead-man switch, where it cannot strip the protective stops (bot/dead_man.py)."""
        from bot.dead_man import decide

        v = self.settings.venue
        arm, line = decide(v.dead_man_seconds, v.countdown_keeps_algo_orders, self.venue)
        if line:
            print(line, flush=True)
            self.engine.audit("state", line)
        if arm:
            self.dead_man = DeadManSwitch(self.venue, self.settings.bot.symbols, v.dead_man_seconds, self.engine.lock,
                                          on_error=lambda message: self._audit_quietly("error", message))
            self.dead_man.start()

    def _drop_untradable(self, backfill: dict) -> None:
        """Live: a symbol whose smallest venue order is above the position cap could never trade (an order is
        never rounded up past a limit): off the whitelist, with one line saying so."""
        from dataclasses import replace

        from risk.live_limits import tradable_symbols

        limits = self.engine.limits
        cap = limits.usdt.max_position_usdt
        rules = self.engine.planner.symbol_rules
        minimums = {sym: (rules[sym].min_qty, rules[sym].min_notional, candles[-1].close)
                    for sym, candles in backfill.items() if candles and sym in rules}
        if cap is None:
            return
        kept, dropped = tradable_symbols(minimums, cap)
        if not dropped:
            return
        allowed = (limits.usdt.symbols or frozenset(rules)) - (set(minimums) - set(kept))
        for line in dropped:
            print(line, flush=True)
            self.engine.audit("state", line)
        narrowed = replace(limits, usdt=replace(limits.usdt, symbols=frozenset(allowed)))
        self.engine.limits = self.engine.planner.limits = narrowed

    def _announce(self, *, started: bool) -> None:
        now = self.wall.now_ms()
        self.store.write_state(
            mode=self.mode.value, venue=self.venue_name, pid=os.getpid(), host=socket.gethostname(),
            heartbeat_ms=now, progress_ms=now, version=VERSION, data_source=self.data_source, running="1",
            trading_state=self.store.trading_state().value, symbols=",".join(self.settings.bot.symbols),
            book=self.book.key,
            stopped_reason="", **({"started_at_ms": now} if started else {}),
        )

    def _check_state(self) -> None:
        """Each tick: lost state is declared (HALTED) and what the venue still holds is rebuilt."""
        reason = self.guard.check()
        if reason is None:
            return
        self._announce(started=False)
        with self.engine.lock:
            notes = self.executor.reconcile()
            self.engine._record(self.executor.take_unreported_trades())
        for note in notes:
            self.engine.audit("reconcile", f"after state lost: {note}")
        self._publish_or_note(self.engine.publish)

    def _heartbeat_loop(self) -> None:
        while not self.stop_event.wait(self.settings.bot.heartbeat_seconds):
            now = self.wall.now_ms()
            progress = now if self.loop_idle else self.progress_ms  # waiting for the next tick is no stall
            try:
                self.store.heartbeat(now, loop_ms=f"{self.last_loop_ms:.1f}", market_ms=self.market_clock.now_ms(), progress_ms=progress)
            except Exception as exc:
                log.warning("heartbeat not written: %s", exc)

    def _progressed(self) -> None:
        self.progress_ms = self.wall.now_ms()

    def _between_candles(self) -> bool:
        """Asked by the engine before each candle: a long replay batch is progress, candle by candle."""
        self._progressed()
        self._stall_while_asked()
        return self.stop_event.is_set()

    def _stall_while_asked(self) -> None:
        """Fault injection (bot.stall_file): while that file exists the loop hangs in a candle holding the
        engine lock, as a hung venue call would, and the heartbeat thread keeps beating."""
        path = self.settings.bot.stall_file
        if not path or not os.path.exists(path):
            return
        with self.engine.lock:
            while os.path.exists(path) and not self.stop_event.is_set():
                time.sleep(0.05)

    def run(self) -> dict:
        self.start()
        s = self.settings
        self._next_publish = self._next_metrics = 0.0
        outage = Outage("trading loop", log=log)
        candles: list = []  # polled but not yet through the engine: kept across an outage, never dropped
        turns = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            self._progressed()  # before leaving idle: the heartbeat never pairs "busy" with an old time
            self.loop_idle = False
            try:
                if not candles:
                    candles = list(self.market_data.poll())
                self._tick(candles)
                candles = []
            except StateStoreError as exc:
                # the engine skips candles it has already taken (CandleWindow), so the batch is retried whole
                self.loop_idle = True  # waiting for Redis, not wedged: the heartbeat cannot be written anyway
                self.stop_event.wait(outage.failed(exc))
                continue
            lasted = outage.recovered()
            if lasted is not None:
                self._audit_quietly("state", f"Redis answered again after {lasted:.1f}s; the bot went on where it stopped")
            self.last_loop_ms = (time.monotonic() - started) * 1000
            self._progressed()
            self.loop_idle = True
            collect_between_ticks(turns)
            turns += 1
            self.stop_event.wait(max(0.0, s.bot.tick_seconds - (time.monotonic() - started)))
        return self.shutdown()

    def _tick(self, candles: list) -> None:
        s = self.settings
        self._check_state()
        self.engine.flush_owed()
        if s.bot.slow_tick_seconds:
            time.sleep(s.bot.slow_tick_seconds)  # fault injection: a busy bot (tests of the kill switch under load)
        fills_before = (self.engine.stats.entries, self.engine.stats.trades)
        with self.store.batch():  # the tick's records, the engine's and these, in one round trip
            self.engine.process(candles, should_stop=self._between_candles)
            if candles:
                self.store.write_state(last_candle_open_ms=self.engine.last_candle_open_ms)
                self.gap_report.report(self.market_data.gaps())
        now = time.monotonic()
        # an entry or an exit changes what is open: the dashboard shows it now, not at the next snapshot
        # (a position closed seconds ago stayed on the page beside its closed trade)
        filled = (self.engine.stats.entries, self.engine.stats.trades) != fills_before
        if (filled or now >= self._next_publish) and self._publish_or_note(self._publish_equity):
            self._next_publish = now + s.bot.equity_snapshot_seconds
        if now >= self._next_metrics:
            self._publish_metrics()
            self._next_metrics = now + s.bot.metrics_seconds
        if self.market_data.exhausted():
            self.store.write_state(data_exhausted="1")

    def _publish_or_note(self, publish: Callable[[], object]) -> bool:
        """The account snapshot (the venue's account, positions and open orders read, then written), or a note
        that it was not taken. One failed venue read (a 503, a timeout) is the snapshot's loss, not the bot's:
        it ended the process, and with it the stops' watch, the commands and the kill switch. The page keeps
        the last snapshot; the next tick asks the venue again."""
        try:
            publish()
        except ExchangeError as exc:
            log.warning("account snapshot not taken: %s", exc)
            if self._publish_failing_since is None:  # one line an outage, not one a tick
                self._publish_failing_since = time.monotonic()
                self._audit_quietly("venue", f"account snapshot not taken ({exc}); the bot goes on and asks the "
                                             "venue again each tick")
            return False
        if self._publish_failing_since is not None:
            lasted = time.monotonic() - self._publish_failing_since
            self._publish_failing_since = None
            self._audit_quietly("venue", f"account snapshot taken again after {lasted:.1f}s")
        return True

    def _audit_quietly(self, kind: str, message: str) -> None:
        try:
            self.engine.audit(kind, message)
        except StateStoreError as exc:
            log.warning("not audited (%s): %s", exc, message)

    def _publish_equity(self) -> None:
        with self.store.batch():  # account, positions, orders, risk and the equity point: 3 round trips, not 9
            self.engine.publish()
            account = self.engine.last_account
            if account is not None:
                self.store.append_equity(self.market_clock.now_ms() or self.wall.now_ms(), account.equity,
                                         account.wallet_balance, account.unrealized_pnl, book=self.book)

    def _publish_metrics(self) -> None:
        from analytics.metrics import compute_metrics, to_jsonable

        # this book's own trades and curve: ghost's are never spliced into paper's, nor one venue's into another's
        trades = self.store.read_trades(5000, book=self.book)
        equity = [(int(p["ts_ms"]), Decimal(p["equity"])) for p in self.store.read_equity(5000, book=self.book)]
        try:
            metrics = compute_metrics(trades, equity, starting_equity=self.settings.venue.starting_balance)
            self.store.write_metrics(self.book.key, to_jsonable(metrics) | {"book": self.book.key, "book_label": self.book.label})
        except Exception as exc:
            self.engine.audit("error", f"metrics not computed: {exc}")

    def shutdown(self, redis_wait_s: float = 5.0) -> dict:
        """Graceful stop: cancel entries, persist, summarise. Positions stay open, with a warning.
        Retried while Redis does not answer, for `redis_wait_s`; the supervisor's grace period bounds it."""
        outage = Outage("shutdown", log=log)
        deadline = time.monotonic() + redis_wait_s
        while True:
            try:
                return self._shutdown()
            except StateStoreError as exc:
                if time.monotonic() >= deadline:
                    log.error("stopped without persisting the run summary: Redis does not answer (%s)", exc)
                    raise
                time.sleep(outage.failed(exc))

    def _shutdown(self) -> dict:
        reason = "; ".join(self.stop_reasons) or "stopped"
        self.commands.stop()
        with self.engine.lock:
            cancelled = self.executor.cancel_entries()
        self._publish_equity()
        self._publish_metrics()
        portfolio = self.executor.portfolio()
        stats = self.engine.stats
        summary = {
            "mode": self.mode.value,
            "reason": reason,
            "duration_s": round((self.wall.now_ms() - stats.started_ms) / 1000, 1),
            "candles": stats.candles,
            "signals": stats.signals,
            "entries": stats.entries,
            "trades": stats.trades,
            "pnl": str(stats.pnl),
            "fees": str(stats.fees),
            "entry_orders_cancelled": cancelled,
            "open_positions": [f"{p.side.value} {p.qty} {p.symbol}" for p in portfolio.positions],
            "equity": str(portfolio.account.equity),
        }
        self.store.write_state(running="0", stopped_at_ms=self.wall.now_ms(), stopped_reason=reason, last_summary=json.dumps(summary))
        warning = f"; WARNING: {len(portfolio.positions)} position(s) left open" if portfolio.positions else ""
        self.engine.audit("state", f"bot stopped ({reason}): {stats.trades} trades, P&L {stats.pnl:.4f}, fees {stats.fees:.4f}{warning}", summary=summary)
        self.market_data.close()
        if self.dead_man is not None:
            self.dead_man.stop()
        if self.venue is not None:
            self.venue.close()
        return summary


def format_summary(summary: dict) -> str:
    lines = [
        f"Run summary ({summary['mode']}, {summary['reason']})",
        f"  duration      {summary['duration_s']} s",
        f"  candles       {summary['candles']}",
        f"  signals       {summary['signals']}   entries {summary['entries']}   trades {summary['trades']}",
        f"  P&L (net)     {Decimal(summary['pnl']):.4f} USDT after {Decimal(summary['fees']):.4f} fees",
        f"  equity        {Decimal(summary['equity']):.2f} USDT",
    ]
    if summary["open_positions"]:
        lines.append(f"  WARNING: positions left open: {', '.join(summary['open_positions'])}")
    else:
        lines.append("  no open positions")
    return "\n".join(lines)

