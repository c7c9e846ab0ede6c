"""What the engine, the executors and the signal scorer persist: typed interfaces (Protocols), and
the names of what they remember.

Two implementations: `state.StateStore` (Redis: the bot process, shared with the supervisor, CLI and
dashboard) and `memory_store.InMemoryStore` (a backtest, unit tests). The engine never knows which one
it has, and no module but state.py knows a Redis key name: code here names what is remembered
(`Memory`), state.py decides where it lives.
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Iterable, Mapping, Protocol

from models import (
    Account,
    AuditEvent,
    Book,
    Candle,
    HaltCause,
    HaltFlag,
    OrderIntent,
    Position,
    Order,
    Trade,
    TradingState,
)


# Order intents kept at most (both stores): acknowledged ones are forgotten oldest first past the cap, never an
# unresolved one (a restart must look it up at the venue before anything is sent again).
INTENTS_KEPT = 1000
UNRESOLVED_INTENT = frozenset({"pending", "unknown"})


def intents_due_for_pruning(count: int, kept_after_last_prune: int) -> bool:
    """Past the cap, and grown by a tenth of it since the last prune (which may have kept more, all
    unresolved): a prune reads every intent, so not one at every save."""
    return count > INTENTS_KEPT and count > kept_after_last_prune + INTENTS_KEPT // 10


def intents_to_forget(intents: Iterable[tuple[int, str, str]]) -> tuple[list[str], int]:
    """Of (created_ms, client order id, status), the ids to forget to come down to 90 % of INTENTS_KEPT,
    acknowledged ones oldest first, and how many unresolved ones stay. An acknowledged intent is known to
    the venue under its client id, so forgetting it cannot cause a second order."""
    records = list(intents)
    acknowledged = sorted((created, cid) for created, cid, status in records if status not in UNRESOLVED_INTENT)
    excess = len(records) - INTENTS_KEPT * 9 // 10
    return [cid for _, cid in acknowledged[:max(0, excess)]], len(records) - len(acknowledged)


def intents_forgotten_event(now_ms: int, dropped: int, kept: int, unresolved: int) -> AuditEvent:
    return AuditEvent(
        "state", now_ms,
        f"order intents over {INTENTS_KEPT}: {dropped} acknowledged by the venue forgotten, oldest first; "
        f"{unresolved} unresolved kept for lookup",
        {"dropped": dropped, "kept": kept, "unresolved": unresolved},
    )


class Memory(str, enum.Enum):
    """Small records kept by id, that a restart must find again."""

    OPEN_TRADES = "open_trades"  # the paper / live executor's exit memory of each open trade, by symbol
    GHOST_TRADES = "ghost_trades"  # the ghost executor's hypothetical trades, by symbol
    GHOST_LEDGER = "ghost_ledger"  # the ghost account's balance
    GHOST_PARKED = "ghost_parked"  # ghost trades opened on another market data feed, kept aside, by feed|symbol
    CLOSED_TRADES = "closed_trades"  # a finished trade until its row is in the trades stream, by trade id
    PENDING_SIGNALS = "pending_signals"  # ghost signals still waiting for their forward returns, by id


class MemoryStore(Protocol):
    def remember(self, memory: Memory, item_id: str, value: Mapping[str, Any]) -> None: ...
    def forget(self, memory: Memory, item_id: str) -> None: ...
    def recall(self, memory: Memory) -> dict[str, dict[str, Any]]: ...


class IntentStore(Protocol):
    """Every order is written as an intent before it is sent (no order is sent twice)."""

    def save_intent(self, intent: OrderIntent, status: str = "pending", *, queued: bool = False) -> None: ...
    def mark_intent(self, client_order_id: str, status: str) -> None: ...
    def delete_intent(self, client_order_id: str) -> None: ...
    def read_intents(self, status: str | None = None) -> list[tuple[OrderIntent, str]]: ...


class TradingStateStore(Protocol):
    """The halt flag (durable, ranked by cause) and the trading state beside it."""

    def trading_state(self) -> TradingState: ...
    def set_halt(self, reason: str, by: str, ts_ms: int, cause: HaltCause = HaltCause.OPERATOR,
                 lifts_at_ms: int | None = None) -> HaltFlag: ...
    def clear_halt(self, state: TradingState = TradingState.ACTIVE, *, read: HaltFlag | None = None,
                   only_if_read: bool = False) -> bool: ...
    def lift_halt(self, now_ms: int, state: TradingState = TradingState.ACTIVE) -> HaltFlag | None: ...
    def read_halt(self) -> HaltFlag | None: ...
    def write_state(self, **fields: Any) -> None: ...
    def read_state(self) -> dict[str, str]: ...
    def audit(self, event: AuditEvent) -> Any: ...


class RecordStore(Protocol):
    """What a run leaves behind: trades, signals, equity, candles, the portfolio and risk as published."""

    def append_trade(self, trade: Trade) -> str | None: ...
    def read_trades(self, count: int = 1000, book: Book | None = None) -> list[Trade]: ...
    def append_signal(self, record: Mapping[str, Any]) -> str: ...
    def append_equity(self, ts_ms: int, equity: Decimal, wallet: Decimal, unrealized: Decimal,
                      book: Book | None = None) -> str: ...
    def record_gap(self, gap: Mapping[str, Any]) -> str: ...
    def push_candles(self, candles: Iterable[Candle]) -> None: ...
    def write_account(self, account: Account) -> None: ...
    def write_positions(self, positions: Iterable[Position]) -> None: ...
    def write_orders(self, orders: Iterable[Order]) -> None: ...
    def write_risk(self, report: Mapping[str, Any]) -> None: ...
    def write_metrics(self, name: str, metrics: Mapping[str, Any]) -> None: ...


class BuyHistory(Protocol):
    """Entry times per symbol, for tiered sizing."""

    def record_buy(self, symbol: str, ts_ms: int, entry_id: str) -> None: ...
    def buys_since(self, symbol: str, since_ms: int) -> list[int]: ...


class WriteBatch(Protocol):
    def batch(self) -> AbstractContextManager[None]:
        """The writes made inside it may be sent together at its end (one round trip for a tick on Redis);
        whatever must be durable first still is: an intent before its order, any write before a change of
        the venue, every write before a read (state.py)."""

    def flush(self) -> None:
        """Every write made so far is durable when this returns."""


class EngineStore(MemoryStore, IntentStore, TradingStateStore, RecordStore, BuyHistory, WriteBatch, Protocol):
    """Everything the engine and its executors persist."""
