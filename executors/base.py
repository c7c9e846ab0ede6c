"""The one protocol every executor implements (ghost, paper, and live in a later wave).

The engine decides *what* to do (enter, move a stop, exit); an executor does it on its venue and
reports closed trades. Each executor keeps the exit-rule memory of its open trades (`TradeState`:
stop, take-profit, peak, breakeven/trailing flags) in Redis, so a restart resumes exactly where the
last process stopped.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from functools import partial
from decimal import Decimal
from typing import Any, Callable, Mapping, Protocol

from models import AuditEvent, EntryPlan, ExitReason, Mode, Order, Portfolio, Side, Trade, TradeLedger, TradeState
from order_ids import exit_kind

from stores import Memory, MemoryStore


@dataclass(frozen=True, slots=True)
class CloseAllResult:
    """What a kill switch achieved: the trades it closed, and whether the venue confirmed flat."""

    trades: list[Trade]
    flat: bool
    detail: str


class Executor(Protocol):
    mode: Mode
    # an entry is placed only while the bot is ACTIVE, checked in the atomic step that places it (a
    # TradingHaltedError from submit otherwise): the engine need not read the halt flag right before it
    checks_trading_state_with_entries: bool

    def on_candle(self, candle) -> list[Trade]:
        """Let the venue see the candle; return the trades it closed (stops, take-profits, liquidations)."""

    def batch(self) -> AbstractContextManager[None]:
        """The candles fed inside it are one tick: a venue that persists itself saves once, at the end."""

    def submit(self, plan: EntryPlan) -> Order:
        """Enter a position with its protective stop and take-profit."""

    def move_stop(self, state: TradeState) -> None:
        """The exit rules moved the stop (breakeven, trailing): follow on the venue."""

    def remember(self, state: TradeState) -> None:
        """The exit rules' memory of a trade changed (peak price, flags): keep it."""

    def cancel(self, symbol: str, client_order_id: str) -> None: ...

    def cancel_entries(self) -> int:
        """Cancel open orders that would add risk; returns how many."""

    def close(self, symbol: str, reason: ExitReason) -> Trade | None:
        """Close one position reduce-only at market."""

    def close_all(self, reason: ExitReason, deadline_s: float = 10.0) -> CloseAllResult:
        """Cancel every open order and close every position, retrying until the venue confirms flat or
        `deadline_s` passes."""

    def portfolio(self) -> Portfolio: ...

    def trade_states(self) -> dict[str, TradeState]: ...

    def trade_recorded(self, trade: Trade) -> None:
        """The engine wrote the trade's row: a durable copy kept until then can go."""

    def take_unreported_trades(self) -> list[Trade]:
        """Trades completed outside the call that asked for them (at reconcile, beside another close)."""

    def load(self) -> None:
        """Restore the executor's memory (open trades, ledger) from Redis at start-up."""

    def reconcile(self) -> list[str]:
        """At start-up: compare what Redis remembers with the venue (the venue is the truth)."""


# ------------------------------------------------------------------------------------ helpers


def exit_reason_of(client_order_id: str, state: TradeState | None) -> ExitReason | None:
    """Which exit a fill was, from the order's client id (and, for stops, the trade's flags)."""
    kind = exit_kind(client_order_id)
    if kind == "stop":
        return stop_reason(state)
    return kind if isinstance(kind, ExitReason) else None


def stop_reason(state: TradeState | None) -> ExitReason:
    if state is not None and state.trailing_active:
        return ExitReason.TRAILING_STOP
    if state is not None and state.breakeven_moved:
        return ExitReason.BREAKEVEN_STOP
    return ExitReason.STOP_LOSS


_TRADE_STATE_FIELDS = tuple(f.name for f in fields(TradeState))
_NO_LEDGER = TradeLedger()  # a trade's ledger before its first fill (immutable: one for all, not one per read)


class TradeBook:
    """The open trades, one per symbol: the exit rules' memory (`TradeState`) and the executor's ledger
    (`TradeLedger`), mirrored to the store (`Memory.OPEN_TRADES`), so a restart resumes exactly."""

    def __init__(self, store: MemoryStore | None, memory: Memory = Memory.OPEN_TRADES):
        self.store = store
        self.memory = memory
        self._states: dict[str, TradeState] = {}
        self._ledgers: dict[str, TradeLedger] = {}
        # the last encoding of each symbol's state and ledger: a put changes one of them (a fill, an exit
        # attempt, a new stop), and encoding the unchanged one again was a tenth of a backtest's order work
        self._encoded: dict[str, tuple[TradeState, dict, TradeLedger, dict]] = {}

    def load(self) -> None:
        if self.store is None:
            return
        for symbol, raw in self.store.recall(self.memory).items():
            self._states[symbol] = trade_state_from_json(raw["state"])
            self._ledgers[symbol] = TradeLedger.from_json(raw.get("extra", {}))

    def put(self, state: TradeState, ledger: TradeLedger | None = None) -> None:
        """Remember the trade; its ledger stays as it was unless a new one is given."""
        self._states[state.symbol] = state
        if ledger is not None or state.symbol not in self._ledgers:
            self._ledgers[state.symbol] = ledger or TradeLedger()
        if self.store is None:
            return
        current = self._ledgers[state.symbol]
        if remember_later(self.store, self.memory, state.symbol, partial(_open_trade_record, state, current)):
            # a backtest put one for every fill, exit attempt and stop move, and read none of them
            return
        encoded = self._encoded.get(state.symbol)
        state_json = encoded[1] if encoded is not None and encoded[0] is state else trade_state_to_json(state)
        ledger_json = encoded[3] if encoded is not None and encoded[2] is current else current.to_json()
        self._encoded[state.symbol] = (state, state_json, current, ledger_json)
        self.store.remember(self.memory, state.symbol, {
            "state": dict(state_json), "extra": {**ledger_json, "fills": list(ledger_json["fills"])}})

    def pop(self, symbol: str) -> tuple[TradeState | None, TradeLedger]:
        state = self._states.pop(symbol, None)
        ledger = self._ledgers.pop(symbol, _NO_LEDGER)
        self._encoded.pop(symbol, None)
        if self.store is not None:
            self.store.forget(self.memory, symbol)
        return state, ledger

    def get(self, symbol: str) -> TradeState | None:
        return self._states.get(symbol)

    def ledger(self, symbol: str) -> TradeLedger:
        return self._ledgers.get(symbol, _NO_LEDGER)

    def states(self) -> dict[str, TradeState]:
        return dict(self._states)


def remember_later(store: MemoryStore, memory: Memory, item_id: str, build: Callable[[], Mapping[str, Any]]) -> bool:
    """Hand a store that keeps Python objects (memory_store) the record's recipe instead of the record:
    encoded only if it is ever recalled. False when the store wants the record now (Redis)."""
    later = getattr(store, "remember_later", None)
    if later is None:
        return False
    later(memory, item_id, build)
    return True


def audit_later(store: Any, kind: str, ts_ms: int, build: Callable[..., tuple[str, dict[str, Any]]],
                args: tuple) -> None:
    """`store.audit(AuditEvent(kind, ts_ms, *build(*args)))`; a store that keeps events as objects
    (memory_store) is handed the recipe and builds the event only when read. `args` must be immutable."""
    later = getattr(store, "audit_later", None)
    if later is not None:
        later(kind, ts_ms, build, args)
        return
    message, data = build(*args)
    store.audit(AuditEvent(kind, ts_ms, message, data))


def _open_trade_record(state: TradeState, ledger: TradeLedger) -> dict:
    """An open trade as `Memory.OPEN_TRADES` holds it (`TradeBook.load` reads it back)."""
    return {"state": trade_state_to_json(state), "extra": ledger.to_json()}


def trade_state_to_json(state: TradeState) -> dict:
    # once per order event and per stop move: the field names are looked up once, not on every call
    out = {}
    for name in _TRADE_STATE_FIELDS:
        value = getattr(state, name)
        kind = type(value)
        out[name] = format(value, "f") if kind is Decimal else value.value if kind is Side else value
    return out


def trade_state_from_json(raw: dict) -> TradeState:
    from dataclasses import fields

    kwargs = {}
    for f in fields(TradeState):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if f.name == "side":
            value = Side(value)
        elif isinstance(value, str) and f.name not in ("symbol", "strategy", "trade_id"):
            value = Decimal(value)
        kwargs[f.name] = value
    return TradeState(**kwargs)
