"""The trading loop: market data → strategy → risk gate → executor → venue → state in Redis.

One engine for every mode; only the executor behind it changes (ghost, paper, live, backtest).
Market time (the candles' time) drives decisions, so a replay at 60x or a backtest behaves exactly
like a live run; wall time drives heartbeats and staleness.

Thread safety: the bot's command reader runs halt / close-all from its own thread while a tick may be
running. `self.lock` is held per candle, never across a whole poll, so a kill switch waits at most
for one candle's work; the halt flag itself is written without the lock, first.
"""

from __future__ import annotations

from bisect import bisect_left, insort
import logging
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Callable, Sequence

from clock import Clock, SimulatedClock
from engine.candles import CandleWindow, close_time_ms
from engine.entries import EntryPlanner, MarketContext
from risk.exits import ExitRules
from engine.signal_scoring import SignalScorer
from engine.strategies import aggregate
from engine.strategies.base import SignalStream, Strategy
from control.trading_state import TradingStateControl
from errors import ExchangeError, StateStoreError, TradingHaltedError
from executors.base import CloseAllResult, Executor, audit_later
from models import (
    ZERO,
    Account,
    AuditEvent,
    Candle,
    Denial,
    ExitReason,
    HaltCause,
    Mode,
    Side,
    Signal,
    Trade,
    TradingState,
    evolve,
)
from risk.circuit_breaker import OrderFailureBreaker
from risk.margin import liquidation_danger, margin_utilisation_pct
from risk.monitor import assess
from stores import EngineStore

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


def _flat(value: Any) -> Any:
    """A limit as one field of the risk hash: a set as its sorted items, comma-separated."""
    return ",".join(str(v) for v in sorted(value)) if isinstance(value, (set, frozenset)) else value


@dataclass
class RunStats:
    started_ms: int = 0
    candles: int = 0
    signals: int = 0
    entries: int = 0
    trades: int = 0
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    denials: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine's settings, resolved once by assembly (bot.assembly) from settings.py and the risk level."""

    mode: Mode
    symbols: tuple[str, ...]
    timeframe: str
    min_confidence: float
    window_size: int  # closed candles kept per symbol (structure stops, volume average)
    volume_window: int
    stale_after_s: float
    leverage: int
    limits: Any  # risk.limits.EffectiveLimits
    venue: str = ""  # the paper / live venue's name, stamped on every trade (its book); "" for ghost


class TradingEngine:
    def __init__(
        self,
        config: EngineConfig,
        *,
        store: EngineStore,
        executor: Executor,
        strategies: Sequence[Strategy],
        planner: EntryPlanner,
        exit_rules: ExitRules,
        scorer: SignalScorer,
        market_clock: SimulatedClock,
        wall_clock: Clock,
        breaker: OrderFailureBreaker | None = None,
    ):
        self.config = config
        mode, min_confidence, volume_window = config.mode, config.min_confidence, config.volume_window
        stale_after_s, leverage, timeframe, limits = config.stale_after_s, config.leverage, config.timeframe, config.limits
        window_size, symbols = config.window_size, config.symbols
        self.mode = mode
        self.store = store
        self.executor = executor
        self.strategies = list(strategies)
        self.planner = planner
        self.exit_rules = exit_rules
        self.scorer = scorer
        self.market_clock = market_clock
        self.wall_clock = wall_clock
        self.min_confidence = min_confidence
        self.volume_window = volume_window
        self.stale_after_s = stale_after_s
        self.leverage = leverage
        self.timeframe = timeframe
        self.limits = limits
        self._limits_fields: tuple[Any, dict[str, Any]] | None = None
        self._entries_ms: dict[str, list[int]] | None = None  # see _entry_times
        self._tick_reads: dict[str, Any] | None = None  # inside `process`: what is read once per tick
        self._period_starts: tuple[tuple[int, int], tuple[Decimal, Decimal]] | None = None  # see period_starts
        self.windows = {s: CandleWindow(window_size) for s in symbols}
        self.window_size = window_size
        # one stream per (symbol, strategy), fed every candle from the backfill on: a strategy decides on
        # the whole history the engine saw, in microseconds, instead of re-running over the window
        self._streams: dict[tuple[str, int], SignalStream] = {}
        self.last_price_wall_ms: dict[str, int] = {}
        self.lock = threading.RLock()
        self.stats = RunStats(started_ms=wall_clock.now_ms())
        self.last_candle_open_ms = 0
        self.last_account: Account | None = None  # what `publish` last wrote
        self.trading = TradingStateControl(store, wall_clock)
        # N consecutive order failures (entries, protective orders, closes, venue errors on a candle) halt
        self.breaker = breaker or OrderFailureBreaker(max_consecutive=5)
        self.breaker.on_trip = self._circuit_breaker_tripped
        # trades closed at the venue that Redis has not fully taken yet, with how far they got (0: no row,
        # 1: row written, 2: the executor's copy released; then the audit line): finished on the next flush,
        # oldest first, so an outage loses none; the row write is idempotent (state.py)
        self._owed: deque[tuple[Trade, str, int]] = deque()
        self._liquidation_alerted: set[str] = set()  # symbols whose liquidation alert is out, until it clears

    # ------------------------------------------------------------------------------ start-up

    def warm_up(self, backfill: dict[str, list[Candle]]) -> None:
        """Load history so indicators are warm; no decisions are made on history."""
        latest = 0
        for symbol, candles in backfill.items():
            if symbol in self.windows:
                window, streams = self.windows[symbol], [self._stream(symbol, st) for st in self.strategies]
                for candle in candles:
                    if window.append(candle):
                        for stream in streams:
                            stream.warm(candle)
                self.store.push_candles(candles[-300:])
                if candles:
                    latest = max(latest, close_time_ms(candles[-1]))
                    self.last_price_wall_ms[symbol] = self.wall_clock.now_ms()
        if latest > self.market_clock.now_ms():
            self.market_clock.set(latest)
        # the venue (and the ghost book) learn the current prices before any decision or command
        with self.lock, self.executor.batch():
            for symbol, candles in backfill.items():
                if symbol in self.windows and candles:
                    self._record(self.executor.on_candle(candles[-1]))

    def audit(self, kind: str, message: str, **data) -> None:
        self.store.audit(AuditEvent(kind, self.market_clock.now_ms(), message, data))

    def audit_later(self, kind: str, build: Callable[..., tuple[str, dict[str, Any]]], *args: Any) -> None:
        """`audit(kind, *build(*args))` at this moment's market time; a store that keeps events as objects
        (memory_store) builds the message and data only when the events are read. `args`: immutable."""
        audit_later(self.store, kind, self.market_clock.now_ms(), build, args)

    # ---------------------------------------------------------------------------------- loop

    def process(self, candles: Sequence[Candle], should_stop=lambda: False) -> list[Trade]:
        """Feed closed candles (in time order) through the engine; returns the trades closed.

        `should_stop` is asked between candles, so a stop request never waits for a whole replay batch."""
        trades: list[Trade] = []
        # one round trip for the tick's records (the store sends them earlier where they must be durable
        # first: an order's intent, a venue change, a read), one venue save for its quiet candles
        with self.store.batch(), self.executor.batch():
            self._tick_reads = {}
            try:
                if candles:
                    self.store.push_candles(candles)
                    self._gate_state()  # read up front: the venue's version check rides along (state.py)
                for candle in candles:
                    if should_stop():
                        break
                    trades.extend(self.on_candle(candle))
            finally:
                self._tick_reads = None
        return trades

    def on_candle(self, candle: Candle, raw_signals: list[Signal] | None = None) -> list[Trade]:
        """One closed candle through the engine. `raw_signals` are the strategies' signals at this candle
        when the caller computed them already (a backtest: `generate` once over the whole series, which
        equals the streams at every row); otherwise the streams are fed the candle here."""
        window = self.windows.get(candle.symbol)
        if window is None or not window.append(candle):
            return []
        now = close_time_ms(candle)
        if now > self.market_clock.now_ms():
            self.market_clock.set(now)
        self.last_price_wall_ms[candle.symbol] = self.wall_clock.now_ms()
        self.stats.candles += 1
        if candle.open_time_ms > self.last_candle_open_ms:
            self.last_candle_open_ms = candle.open_time_ms
        # strategies are the expensive part and touch no shared state: computed outside the lock, so a
        # kill switch never waits for them
        signals = self._signals(candle, raw_signals)
        with self.lock:
            try:
                closed = self.executor.on_candle(candle)
            except ExchangeError as exc:
                # the venue did not see this candle: no decision is made on it; the loop goes on
                self.audit("error", f"{candle.symbol}: venue error on the candle, nothing decided on it: {exc}")
                self.breaker.failure(f"candle {candle.symbol}: {exc}")
                return []
            self._record(closed)
            try:
                closed += self._manage_open_trade(candle, window, signals)
                self._enter(candle, window, signals)
            except ExchangeError as exc:
                self.audit("error", f"{candle.symbol}: venue error while deciding on the candle: {exc}")
                self.breaker.failure(f"decide {candle.symbol}: {exc}")
            self._record(self.executor.take_unreported_trades())
            self.scorer.on_candle(candle)
        return closed

    def _circuit_breaker_tripped(self, summary: str) -> None:
        self.trading.halt(HaltCause.CIRCUIT_BREAKER, "circuit-breaker", summary)
        if self._tick_reads is not None:
            self._tick_reads.pop("trading_state", None)
        try:
            self.executor.cancel_entries()
        except ExchangeError as exc:
            self.audit("error", f"circuit breaker: entry orders not cancelled: {exc}")

    def _stream(self, symbol: str, strategy: Strategy) -> SignalStream:
        """The strategy's stream for the symbol; a strategy first seen now starts its stream now."""
        key = (symbol, id(strategy))
        stream = self._streams.get(key)
        if stream is None or stream.strategy is not strategy:
            stream = self._streams[key] = strategy.stream(symbol, self.timeframe, self.window_size)
        return stream

    def _signals(self, candle: Candle, raw_signals: list[Signal] | None = None) -> list[Signal]:
        raw: list[Signal] = [] if raw_signals is None else list(raw_signals)
        for strategy in self.strategies if raw_signals is None else ():
            try:
                signal = self._stream(candle.symbol, strategy).update(candle)
            except Exception as exc:  # a broken strategy must not take the bot down
                self.audit("error", f"strategy {strategy.name} failed on {candle.symbol}: {exc}")
                continue
            if signal is not None:
                raw.append(signal)
        if not raw or (len(raw) == 1 and raw[0].strength >= self.min_confidence):
            return raw  # what `aggregate` keeps of none or of one confident signal, without its work
        kept, denials = aggregate(raw, self.min_confidence)
        # one candle, one symbol: the denials explain every signal that was dropped for it
        why = "; ".join(f"{d.reason_code}: {d.detail}" for d in denials) or "a stronger signal in the same direction was kept"
        # by strategy and side, not equality: a kept signal that others confirmed carries a longer reason
        taken = {(s.symbol, s.strategy, s.side) for s in kept}
        for signal in raw:
            if (signal.symbol, signal.strategy, signal.side) not in taken:
                self.stats.signals += 1
                self.scorer.record(signal, taken=False, why_not=why)
                self.audit("skip", f"{signal.symbol} {signal.side.value} {signal.strategy}: {why}", strategy=signal.strategy)
        return kept

    def _manage_open_trade(self, candle: Candle, window: CandleWindow, signals: list[Signal]) -> list[Trade]:
        state = self.executor.trade_states().get(candle.symbol)
        if state is None:
            return []
        # the moved stop goes on the tick here, once, so the ghost book and the venue's stop order hold the
        # same price (ghost used to keep the raw trailing stop while the venue held it rounded)
        updated = self.planner.stop_on_tick(self.exit_rules.update(state, candle))
        through = self.exit_rules.stop_through_close(updated, candle)
        if through is not None:
            return self.close(candle.symbol, through.reason, detail=through.detail)
        if updated.stop != state.stop:
            try:
                self.executor.move_stop(updated)
                self.audit("stop", f"{candle.symbol}: stop moved {state.stop} → {updated.stop}", trade_id=state.trade_id,
                           stop=str(updated.stop))
            except ExchangeError as exc:
                self.audit("error", f"{candle.symbol}: stop not moved: {exc}")
        elif updated != state:
            self.executor.remember(updated)
        reverse = any(s.side is not updated.side for s in signals)
        volume = window.volume_average(self.volume_window) if self.exit_rules.reads_volume_average else ZERO
        decision = self.exit_rules.condition_exit(updated, candle, volume, reverse, self.market_clock.now_ms())
        if decision is None:
            return []
        return self.close(candle.symbol, decision.reason, detail=decision.detail)

    def _enter(self, candle: Candle, window: CandleWindow, signals: list[Signal]) -> None:
        for signal in signals:
            self.stats.signals += 1
            if self.executor.trade_states().get(signal.symbol) is not None:
                self.scorer.record(signal, taken=False, why_not="already in a position")
                continue
            outcome = self.try_entry(signal, window.candles())
            if isinstance(outcome, Denial):
                self.scorer.record(signal, taken=False, why_not=f"{outcome.reason_code}: {outcome.detail}")
            else:
                self.scorer.record(signal, taken=True)

    def try_entry(self, signal: Signal, candles: Sequence[Candle], notional: Decimal | None = None) -> Denial | None:
        """Plan, gate and send one entry. Also the path of a manual `open` command (with `notional`)."""
        self.audit_later("signal", _signal_event, signal)
        # a signal no account could make an entry of is refused before the account is read (half of a
        # one-sided bot's signals are its exits)
        refused = self.planner.refusal(signal)
        if refused is not None:
            return self._denied(signal, refused)
        try:
            ctx = self.market_context(signal.symbol)
        except (StateStoreError, ExchangeError) as exc:
            # what the gate needs cannot be read: no permission to add risk (fail closed)
            denial = Denial("fail_closed", f"{signal.symbol}: the account or the trading state cannot be read, so no entry: {exc}")
            self.audit("skip", f"{signal.symbol} {signal.side.value} not taken: fail_closed: {denial.detail}", reason_code="fail_closed")
            return denial
        plan, sizing = self.planner.plan(signal, candles, ctx, notional=notional)
        if sizing is not None:
            self.audit_later("sizing", _sizing_event, signal.symbol, sizing)
        if isinstance(plan, Denial):
            return self._denied(signal, plan)
        # the durable halt flag is read again right before the order: a halt that landed meanwhile wins,
        # and a flag that cannot be read is no permission (fail closed). An executor whose venue checks it
        # in the atomic step that places the entry (the simulated venue in this Redis) needs no read here.
        if not self.executor.checks_trading_state_with_entries:
            try:
                state = self.store.trading_state()
            except StateStoreError as exc:
                return Denial("state_unreadable", f"the halt flag cannot be read, so no entry: {exc}")
            if self._tick_reads is not None:
                self._tick_reads["trading_state"] = state  # the gate decides on it for the rest of the tick
            if state is not TradingState.ACTIVE:
                return self._halted_before_entry(signal)
        try:
            order = self.executor.submit(plan)
        except TradingHaltedError:
            if self._tick_reads is not None:
                self._tick_reads["trading_state"] = TradingState.HALTED  # the rest of the tick is gated on it
            return self._halted_before_entry(signal)
        except ExchangeError as exc:
            denial = Denial("venue_error", str(exc))
            self.audit("error", f"{signal.symbol}: entry failed: {exc}", trade_id=plan.trade_id)
            return denial
        self.stats.entries += 1
        self.store.record_buy(signal.symbol, self.market_clock.now_ms(), plan.trade_id)
        insort(self._entry_times().setdefault(signal.symbol, []), self.market_clock.now_ms())  # kept in order
        self.audit_later("order", _order_event, signal.symbol, plan, order)
        return None

    def _denied(self, signal: Signal, denial: Denial) -> Denial:
        self.stats.denials[denial.reason_code] = self.stats.denials.get(denial.reason_code, 0) + 1
        self.audit_later("skip", _denial_event, signal, denial)
        return denial

    # ---------------------------------------------------------------------------------- exits

    def close(self, symbol: str, reason: ExitReason, detail: str = "") -> list[Trade]:
        with self.lock:
            try:
                trade = self.executor.close(symbol, reason)
            except ExchangeError as exc:
                self.audit("error", f"{symbol}: close ({reason.value}) failed: {exc}")
                return []
            trades = ([trade] if trade else []) + self.executor.take_unreported_trades()
            self._record(trades, detail)
            return trades

    def close_all(self, reason: ExitReason, deadline_s: float = 10.0) -> CloseAllResult:
        with self.lock:
            result = self.executor.close_all(reason, deadline_s)
            self._record(result.trades)
            return result

    def _record(self, trades: Sequence[Trade], detail: str = "") -> None:
        if not trades and not self._owed:
            return  # asked twice a candle, most often with nothing to write or owe
        for trade in trades:
            if trade.venue != self.config.venue:
                trade = evolve(trade, venue=self.config.venue)  # whose it is: kept apart from other venues'
            self.stats.trades += 1
            self.stats.pnl += trade.pnl
            self.stats.fees += trade.fees
            self._owed.append((trade, detail, 0))
        try:
            self.flush_owed()
        except StateStoreError as exc:
            # the venue has closed it; the row waits in memory for Redis, and the caller goes on
            log.warning("%d trade(s) not yet written to Redis (%s); kept until it answers", len(self._owed), exc)

    def flush_owed(self) -> None:
        """Write the trades Redis still owes (row first, then its audit line); StateStoreError while it
        does not answer."""
        with self.lock:
            while self._owed:
                trade, detail, stage = self._owed[0]
                if stage == 0:
                    self.store.append_trade(trade)
                    stage = 1
                    self._owed[0] = (trade, detail, stage)
                if stage == 1:
                    self.executor.trade_recorded(trade)  # the executor's durable copy goes once the row is in
                    self._owed[0] = (trade, detail, 2)
                self.audit_later("exit", _exit_event, trade, detail)
                self._owed.popleft()

    @property
    def owed_trades(self) -> int:
        return len(self._owed)

    # ------------------------------------------------------------------------------- context

    def price_age_s(self, symbol: str) -> float:
        last = self.last_price_wall_ms.get(symbol)
        if last is None:
            return float("inf")
        return (self.wall_clock.now_ms() - last) / 1000

    def stale_symbols(self) -> list[str]:
        return [s for s in self.windows if self.price_age_s(s) > self.stale_after_s]

    def market_context(self, symbol: str) -> MarketContext:
        portfolio = self.executor.portfolio()
        account = portfolio.account
        day_pnl, week_pnl = self.period_pnl(account.equity)
        now = self.market_clock.now_ms()
        mine = self._entry_times().get(symbol, ())
        buys = len(mine) - bisect_left(mine, now - DAY_MS)
        since = min(now - now % DAY_MS, now - 60_000)  # the UTC day's entries, and at least the last minute's
        # each symbol's times are kept in order (the store's are; new ones are inserted in place), so the
        # day's are found by bisection: a backtest's thousands of entries were scanned before every entry
        recent = sorted(t for times in self._entry_times().values() for t in times[bisect_left(times, since):])
        venue = getattr(self.executor, "venue", None)
        asked_ms = self.wall_clock.now_ms()
        mark = venue.mark_price(symbol) if venue is not None else None
        return MarketContext(
            trading_state=self._gate_state(),
            equity=account.equity,
            wallet_balance=account.wallet_balance,
            margin_used=account.margin_used,
            positions=portfolio.positions,
            price_age_s=self.price_age_s(symbol),
            stale_after_s=self.stale_after_s,
            daily_pnl=day_pnl,
            weekly_pnl=week_pnl,
            leverage=self.leverage,
            buys_last_24h=buys,
            now_ms=now,
            recent_entries_ms=recent,
            mark_price=mark,
            mark_age_s=(self.wall_clock.now_ms() - asked_ms) / 1000 if venue is not None else None,
        )

    def _halted_before_entry(self, signal: Signal) -> Denial:
        denial = Denial("halted", "trading state changed to halted before the order was sent")
        self.audit("skip", f"{signal.symbol}: {denial.detail}", reason_code="halted")
        return denial

    def _gate_state(self) -> TradingState:
        """The trading state the risk gate decides on: read once per tick, the bot's own pace (a halt
        landing in the tick still stops every entry: try_entry reads the flag again right before it, or the
        venue checks it in the step that places the entry)."""
        reads = self._tick_reads
        if reads is None:
            return self.store.trading_state()
        if "trading_state" not in reads:
            reads["trading_state"] = self.store.trading_state()
        return reads["trading_state"]

    def _entry_times(self) -> dict[str, list[int]]:
        """Every symbol's entry times, read from the store once and then kept as this engine records them
        (only the engine records entries): every entry asked the store once per symbol, 100 round trips
        with 100 symbols."""
        if self._entries_ms is None:
            self._entries_ms = {s: list(self.store.buys_since(s, 0)) for s in self.windows}
        return self._entries_ms

    def period_starts(self, equity: Decimal) -> tuple[Decimal, Decimal]:
        """Equity at the start of the UTC day and week (market time), kept in Redis; a new period starts at
        `equity`."""
        now = self.market_clock.now_ms()
        day_start = now - now % DAY_MS
        week_start = now - (now + 3 * DAY_MS) % WEEK_MS  # epoch was a Thursday; weeks start Monday
        known = self._period_starts
        if self._tick_reads is not None and known is not None and known[0] == (day_start, week_start):
            return known[1]  # only the engine writes them; read afresh outside ticks (publish)
        starts = self._read_period_starts(equity, day_start, week_start)
        self._period_starts = ((day_start, week_start), starts)
        return starts

    def _read_period_starts(self, equity: Decimal, day_start: int, week_start: int) -> tuple[Decimal, Decimal]:
        state = self.store.read_state()
        updates: dict[str, Any] = {}
        if state.get("day_start_ms") != str(day_start) or not state.get("day_start_equity"):
            updates.update(day_start_ms=day_start, day_start_equity=equity)
        if state.get("week_start_ms") != str(week_start) or not state.get("week_start_equity"):
            updates.update(week_start_ms=week_start, week_start_equity=equity)
        if updates:
            self.store.write_state(**updates)
            state.update({k: str(v) for k, v in updates.items()})
        return Decimal(state["day_start_equity"]), Decimal(state["week_start_equity"])

    def period_pnl(self, equity: Decimal) -> tuple[Decimal, Decimal]:
        """P&L since the start of the UTC day and week."""
        day_start, week_start = self.period_starts(equity)
        return equity - day_start, equity - week_start

    # ------------------------------------------------------------------------- publishing state

    def publish(self, *, report_to_store: bool = True) -> dict:
        """Account, positions, orders and the risk report to Redis; returns the risk report.

        `report_to_store=False` (a backtest's hourly publish: nobody reads the report before the last
        one) leaves the report unwritten and returns {}; the risk monitor acts on it exactly as always
        (loss-limit halts, reducing, liquidation alerts and closes)."""
        with self.lock:
            portfolio = self.executor.portfolio()
        account = portfolio.account
        self.last_account = account
        self.store.write_account(account)
        self.store.write_positions(portfolio.positions)
        self.store.write_orders(portfolio.open_orders)
        day_start, week_start = self.period_starts(account.equity)
        day_pnl, week_pnl = account.equity - day_start, account.equity - week_start
        now = self.market_clock.now_ms()
        self.trading.lift_daily_loss(now - now % DAY_MS, "risk-monitor")  # only a halt of an earlier day
        report = assess(account, portfolio.positions, day_start, week_start, self.limits)
        danger = liquidation_danger(portfolio.positions, self.limits.usdt.liquidation_alert_pct,
                                    self.limits.usdt.liquidation_close_pct)
        stale = self.stale_symbols()
        record = {} if not report_to_store else {
            "margin_use_pct": report.margin_use_pct,
            "exposure_pct": report.exposure_pct,
            "daily_pnl": day_pnl,
            "weekly_pnl": week_pnl,
            "daily_loss_pct": report.daily_loss_pct,
            "weekly_loss_pct": report.weekly_loss_pct,
            "worst_liquidation_distance_pct": report.worst_liquidation_distance_pct,
            "recommendation": report.state_recommendation.value,
            "reason": report.reason,
            "detail": report.detail,
            "stale_symbols": ",".join(stale),
            "margin_utilisation_pct": margin_utilisation_pct(account).quantize(Decimal("0.01")),
            "liquidation_risk_pct": "" if danger.worst_pct is None else danger.worst_pct.quantize(Decimal("0.01")),
            "liquidation_alerts": ",".join(f"{sym} {r:.1f}%" for sym, r in danger.alerts + danger.closes),
            **self._limit_fields(),
            "ts_ms": self.wall_clock.now_ms(),
        }
        if report_to_store:
            self.store.write_risk(record)
        self.store.write_state(feed_stale="1" if stale else "0", pnl_today=day_pnl)
        self._apply_risk_state(report)
        self._act_on_liquidation_danger(danger)
        return record

    def _act_on_liquidation_danger(self, danger) -> None:
        """Rule 3: an alert once a position's liquidation risk reaches the alert level (once per episode),
        a reduce-only close at the close level."""
        alerting = {symbol for symbol, _ in danger.alerts + danger.closes}
        for symbol, risk in danger.alerts:
            if symbol not in self._liquidation_alerted:
                self.audit("alert", f"ALERT: {symbol} liquidation risk {risk:.1f}% ≥ "
                                    f"{self.limits.usdt.liquidation_alert_pct}%", symbol=symbol, risk_pct=str(risk),
                           alert="liquidation_risk")
        self._liquidation_alerted = alerting
        for symbol, risk in danger.closes:
            limit = self.limits.usdt.liquidation_close_pct
            self.audit("alert", f"ALERT: {symbol} liquidation risk {risk:.1f}% ≥ {limit}%: closing it reduce-only",
                       symbol=symbol, risk_pct=str(risk), alert="liquidation_close")
            self.close(symbol, ExitReason.EMERGENCY, f"liquidation risk {risk:.1f}% ≥ {limit}%")

    def _limit_fields(self) -> dict[str, Any]:
        """The limits as the risk report's `limit_…` fields, built once per limits object (a backtest
        publishes every simulated hour, and asdict is slow)."""
        cached = self._limits_fields
        if cached is None or cached[0] is not self.limits:
            fields = {f"limit_{name}": value for name, value in asdict(self.limits).items() if name != "usdt"}
            fields |= {f"limit_usdt_{name}": _flat(value) for name, value in asdict(self.limits.usdt).items()}
            cached = self._limits_fields = (self.limits, fields)
        return dict(cached[1])

    def _apply_risk_state(self, report) -> None:
        current = self.store.trading_state()
        wanted = report.state_recommendation
        if wanted is TradingState.HALTED and current is not TradingState.HALTED:
            # the risk monitor halts for a loss limit only (margin and liquidation distance mean REDUCING)
            detail = f"{report.reason}: {report.detail}"
            if report.reason == HaltCause.DAILY_LOSS_LIMIT.value:
                now = self.market_clock.now_ms()
                self.trading.halt_for_daily_loss("risk-monitor", detail, now - now % DAY_MS)
            else:
                self.trading.halt(HaltCause(report.reason), "risk-monitor", detail)
            with self.lock:
                self.executor.cancel_entries()
        elif wanted is TradingState.REDUCING and current is TradingState.ACTIVE:
            self.trading.reduce(report.reason, "risk-monitor", report.detail)
        elif wanted is TradingState.ACTIVE and current is TradingState.REDUCING:
            self.trading.lift_reducing("risk-monitor", "risk back within limits")

    def manual_signal(self, symbol: str, side: Side, notional: Decimal) -> Signal | Denial:
        window = self.windows.get(symbol)
        if window is None or window.last is None:
            return Denial("unknown_symbol", f"{symbol} is not traded by this bot (symbols: {', '.join(self.windows)})")
        price = window.last.close
        return Signal(
            symbol=symbol,
            side=side,
            strength=1.0,
            price=price,
            ts_ms=self.market_clock.now_ms(),
            strategy="manual",
            reason=f"manual open of {notional} USDT",
        )


# The engine's audit lines for the events of every round trip (`TradingEngine.audit_later`): (message, data).


def _signal_event(signal: Signal) -> tuple[str, dict[str, Any]]:
    return (f"{signal.symbol} {signal.side.value} strength {signal.strength:.2f} by {signal.strategy}: {signal.reason}",
            {"price": str(signal.price)})


def _sizing_event(symbol: str, sizing: Any) -> tuple[str, dict[str, Any]]:
    return f"{symbol}: {sizing.method} → qty {sizing.qty:.8f} ({sizing.detail})", {}


def _order_event(symbol: str, plan: Any, order: Any) -> tuple[str, dict[str, Any]]:
    return (f"{symbol}: {plan.side.value} {plan.qty} @ {order.avg_fill_price or plan.price}, stop {plan.stop}, "
            f"take-profit {plan.take_profit}",
            {"trade_id": plan.trade_id, "client_order_id": order.client_order_id, "stop": str(plan.stop)})


def _denial_event(signal: Signal, denial: Denial) -> tuple[str, dict[str, Any]]:
    return (f"{signal.symbol} {signal.side.value} not taken: {denial.reason_code}: {denial.detail}",
            {"reason_code": denial.reason_code})


def _exit_event(trade: Trade, detail: str) -> tuple[str, dict[str, Any]]:
    return (f"{trade.symbol} {trade.side.value} closed by {trade.exit_reason.value}: P&L {trade.pnl:.4f} "
            f"after {trade.fees:.4f} fees" + (f" ({detail})" if detail else ""), {"trade_id": trade.trade_id})
