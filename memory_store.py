"""The engine's store in memory: the same Protocols as state.StateStore (stores.EngineStore), for
backtests and unit tests. Nothing is shared with another process and nothing survives it.

Streams keep their newest entries only (like Redis's capped streams), so a long backtest stays within
its memory budget; trades are kept whole — they are the backtest's result.
"""

from __future__ import annotations

import dataclasses

from bisect import bisect_left, insort
from collections import defaultdict, deque
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, cast

from models import (
    Account,
    AuditEvent,
    Book,
    Candle,
    HaltCause,
    HaltFlag,
    Order,
    OrderIntent,
    Position,
    Trade,
    TradingState,
    as_field,
)
from stores import Memory, intents_due_for_pruning, intents_forgotten_event, intents_to_forget

STREAM_KEPT = 50_000


_Recipe = tuple[str, int, Callable[..., tuple[str, Mapping[str, Any]]], tuple]  # kind, time, build, its args


def _built(entry: _Recipe) -> AuditEvent:
    kind, ts_ms, build, args = entry
    message, data = build(*args)
    return AuditEvent(kind, ts_ms, message, data)


def _flag_key(flag: HaltFlag | None) -> tuple[int, HaltCause, int] | None:
    """What tells one halt flag from the next, as the Redis store's compare-and-clear reads it."""
    return None if flag is None else (flag.ts_ms, flag.cause, flag.seq)


class InMemoryStore:
    def __init__(self, bot_id: str = "memory", *, stream_kept: int = STREAM_KEPT):
        self.bot_id = bot_id
        # a record, or the recipe of one (`remember_later`)
        self._memory: dict[Memory, dict[str, dict[str, Any] | Callable[[], Mapping[str, Any]]]] = defaultdict(dict)
        self._intents: dict[str, tuple[OrderIntent, str]] = {}
        self._intents_after_prune = 0
        self._state: dict[str, str] = {}
        self._halt: HaltFlag | None = None
        self.trades: list[Trade] = []
        self._trade_ids: set[str] = set()
        self.signals: deque[dict[str, Any]] = deque(maxlen=stream_kept)
        self.equity: deque[tuple[int, Decimal, Decimal, Decimal]] = deque(maxlen=stream_kept)
        # events, and events still to be built (`audit_later`: kind, time, recipe), in the order they came
        self._audit: deque[AuditEvent | _Recipe] = deque(maxlen=stream_kept)
        self._audit_pending = False  # some entries of `_audit` are still recipes
        self.gaps: list[dict[str, str]] = []
        self.account: Account | None = None
        self.positions: list[Position] = []
        self.orders: list[Order] = []
        self.risk: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self._buys: dict[str, list[int]] = defaultdict(list)

    def batch(self) -> AbstractContextManager[None]:
        """Every write here is already where it goes: nothing to hold back."""
        return nullcontext()

    def flush(self) -> None:
        """Nothing held back (see batch)."""

    # --------------------------------------------------------------------------------- memory

    def remember(self, memory: Memory, item_id: str, value: Mapping[str, Any]) -> None:
        self._memory[memory][item_id] = dict(value)

    def remember_later(self, memory: Memory, item_id: str, build: Callable[[], Mapping[str, Any]]) -> None:
        """`remember(memory, item_id, build())`, with `build` called only when the item is recalled (it
        must build the same value whenever it is called: from immutable objects only)."""
        self._memory[memory][item_id] = build

    def forget(self, memory: Memory, item_id: str) -> None:
        self._memory[memory].pop(item_id, None)

    def recall(self, memory: Memory) -> dict[str, dict[str, Any]]:
        return {k: dict(v() if callable(v) else v) for k, v in self._memory[memory].items()}

    # -------------------------------------------------------------------------------- intents

    def save_intent(self, intent: OrderIntent, status: str = "pending", *, queued: bool = False) -> None:
        self._intents[intent.client_order_id] = (intent, status)
        # bounded as in Redis: a stop or take-profit that rests until it fills stays "new" here for good
        if intents_due_for_pruning(len(self._intents), self._intents_after_prune):
            dropped, unresolved = intents_to_forget(
                (kept.created_ms, cid, kept_status) for cid, (kept, kept_status) in self._intents.items())
            for cid in dropped:
                del self._intents[cid]
            self._intents_after_prune = len(self._intents)
            self.audit(intents_forgotten_event(intent.created_ms, len(dropped), len(self._intents), unresolved))

    def mark_intent(self, client_order_id: str, status: str) -> None:
        if client_order_id in self._intents:
            self._intents[client_order_id] = (self._intents[client_order_id][0], status)

    def delete_intent(self, client_order_id: str) -> None:
        self._intents.pop(client_order_id, None)

    def read_intents(self, status: str | None = None) -> list[tuple[OrderIntent, str]]:
        return sorted(((i, s) for i, s in self._intents.values() if status is None or s == status),
                      key=lambda pair: pair[0].created_ms)

    # -------------------------------------------------------------------------- trading state

    def trading_state(self) -> TradingState:
        if self._halt is not None:
            return TradingState.HALTED
        stored = self._state.get("trading_state")
        try:
            return TradingState(stored) if stored else TradingState.ACTIVE
        except ValueError:
            return TradingState.ACTIVE

    def set_halt(self, reason: str, by: str, ts_ms: int, cause: HaltCause = HaltCause.OPERATOR,
                 lifts_at_ms: int | None = None) -> HaltFlag:
        """Ranked like the Redis store: a flag in force for a stronger cause stays; it lifts by itself only
        if every halt asked for does."""
        current, new = self._halt, HaltFlag(reason, by, ts_ms, cause, lifts_at_ms)
        result = new if current is None or current.cause.rank <= cause.rank else current
        if current is not None:
            lifts = (max(current.lifts_at_ms, lifts_at_ms)
                     if current.lifts_at_ms is not None and lifts_at_ms is not None else None)
            result = dataclasses.replace(result, lifts_at_ms=lifts)
        self._halt = dataclasses.replace(result, seq=(current.seq if current is not None else 0) + 1)
        self._state["trading_state"] = TradingState.HALTED.value
        return self._halt

    def clear_halt(self, state: TradingState = TradingState.ACTIVE, *, read: HaltFlag | None = None,
                   only_if_read: bool = False) -> bool:
        if only_if_read and _flag_key(self._halt) != _flag_key(read):
            return False
        self._halt = None
        self._state["trading_state"] = state.value
        return True

    def lift_halt(self, now_ms: int, state: TradingState = TradingState.ACTIVE) -> HaltFlag | None:
        flag = self._halt
        if flag is None or flag.lifts_at_ms is None or flag.lifts_at_ms > now_ms:
            return None
        self._halt = None
        self._state["trading_state"] = state.value
        return flag

    def read_halt(self) -> HaltFlag | None:
        return self._halt

    def write_state(self, **fields: Any) -> None:
        self._state.update({k: as_field(v) for k, v in fields.items()})

    def read_state(self) -> dict[str, str]:
        return dict(self._state)

    def audit(self, event: AuditEvent) -> None:
        self._audit.append(event)

    def audit_later(self, kind: str, ts_ms: int, build: Callable[..., tuple[str, Mapping[str, Any]]], args: tuple) -> None:
        """`audit(AuditEvent(kind, ts_ms, *build(*args)))`, built when the events are read: a backtest
        audits a dozen events a round trip (their messages format every price) and reads them once, at
        the end. `args` must be immutable (the event is built from them later)."""
        self._audit.append((kind, ts_ms, build, args))
        self._audit_pending = True

    @property
    def audit_events(self) -> deque[AuditEvent]:
        """Every event kept, oldest first (the recipes built now)."""
        if self._audit_pending:
            self._audit = deque([entry if isinstance(entry, AuditEvent) else _built(entry) for entry in self._audit],
                                maxlen=self._audit.maxlen)
            self._audit_pending = False
        return cast("deque[AuditEvent]", self._audit)  # every entry built just now

    def read_audit(self, count: int = 200, kinds: Iterable[str] | None = None) -> list[AuditEvent]:
        """The newest `count` events, oldest first; with `kinds`, those of them of these kinds (as in Redis).
        Only the events returned are built (a backtest reads its order and stop events, not the rest)."""
        if not kinds:
            return list(self.audit_events)[-count:]
        wanted = set(kinds)
        return [entry if isinstance(entry, AuditEvent) else _built(entry) for entry in list(self._audit)[-count:]
                if (entry.kind if isinstance(entry, AuditEvent) else entry[0]) in wanted]

    # -------------------------------------------------------------------------------- records

    def append_trade(self, trade: Trade) -> str | None:
        """Once per trade id, as the Redis store does."""
        if trade.trade_id in self._trade_ids:
            return None
        self._trade_ids.add(trade.trade_id)
        self.trades.append(trade)
        return str(len(self.trades))

    def read_trades(self, count: int = 1000, book: Book | None = None) -> list[Trade]:
        trades = self.trades if book is None else [t for t in self.trades if t.book == book]
        return trades[-count:]

    def append_signal(self, record: Mapping[str, Any]) -> str:
        """Stored as text fields, as in Redis, so a reader sees the same values from either store."""
        entry_id = f"{len(self.signals) + 1}-0"
        # turned to text when read: a backtest records every signal and reads none of them
        self.signals.append(dict(record) | {"id": entry_id})
        return entry_id

    def read_signals(self, count: int = 1000) -> list[dict[str, str]]:
        return [{k: as_field(v) for k, v in r.items()} for r in list(self.signals)[-count:]]

    def append_equity(self, ts_ms: int, equity: Decimal, wallet: Decimal, unrealized: Decimal,
                      book: Book | None = None) -> str:
        """One curve (a backtest is one book): `book` is accepted for the Protocol and not kept apart."""
        self.equity.append((ts_ms, equity, wallet, unrealized))
        return str(len(self.equity))

    def record_gap(self, gap: Mapping[str, Any]) -> str:
        self.gaps.append({k: as_field(v) for k, v in gap.items()})
        self._state["data_gaps"] = str(len(self.gaps))
        return str(len(self.gaps))

    def read_gaps(self, count: int = 50) -> list[dict[str, str]]:
        return [dict(g) for g in self.gaps[-count:]]

    def push_candles(self, candles: Iterable[Candle]) -> None:
        """Charts read candles from Redis; a backtest has its candles already."""

    def write_account(self, account: Account) -> None:
        self.account = account

    def write_positions(self, positions: Iterable[Position]) -> None:
        self.positions = list(positions)

    def write_orders(self, orders: Iterable[Order]) -> None:
        self.orders = list(orders)

    def write_risk(self, report: Mapping[str, Any]) -> None:
        self.risk = dict(report)

    def write_metrics(self, name: str, metrics: Mapping[str, Any]) -> None:
        self.metrics[name] = dict(metrics)

    # ---------------------------------------------------------------------------- buy history

    def record_buy(self, symbol: str, ts_ms: int, entry_id: str) -> None:
        insort(self._buys[symbol], ts_ms)  # kept in time order: asked before every entry, over every buy

    def buys_since(self, symbol: str, since_ms: int) -> list[int]:
        buys = self._buys[symbol]
        return buys[bisect_left(buys, since_ms):]


