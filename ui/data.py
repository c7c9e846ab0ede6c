"""Every read the dashboard makes of a bot's records, in one place.

The views never pick stream names or filter modes themselves: when the store keeps each mode's records
apart (per-mode keys), only this module changes. Reads are bounded (the newest TRADES_SHOWN trades,
SIGNALS_SHOWN signals…), so a bot with 50,000 trades renders as fast as one with 50; counts come from
the stream lengths, the full-history figures from the bot's own `metrics`.

The streams are append-only, so each one's newest entries are read once, parsed once, and then topped
up with what is new (`_Tail`): a refresh with nothing new costs one round trip per stream. The tails are
shared by every browser session of the server, per Redis client and bot.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Generic, Iterable, Mapping, TypeVar

from models import AuditEvent, Book, Candle, Mode, Side, Trade, TradeState, from_record
from settings import Settings
from state import CANDLES_KEPT, BotStatus, StateStore, StreamEntry, bot_ids, bot_status, heartbeat_age_s, read_states
from stores import Memory
from settings import one_line
from ui.status import price_places
from ui.summaries import trades_in_mode

TRADES_SHOWN = 2000
SIGNALS_SHOWN = 3000
EQUITY_SHOWN = 5000
AUDIT_SEARCHED = 5000
PLACES_TTL_S = 300.0
_PLACES: dict[tuple[str, str], tuple[float, int | None]] = {}

T = TypeVar("T")


BAD_KEPT = 20  # unreadable entries remembered per stream (all are counted)


@dataclass(frozen=True, slots=True)
class BadRecords:
    """Entries of a stream that could not be read: skipped, counted, the first one named."""

    stream: str
    count: int
    first_id: str
    first_reason: str

    def line(self) -> str:
        kind = self.stream.removesuffix("s")
        what = f"{kind} record could not be read and is" if self.count == 1 else f"{kind} records could not be read and are"
        return f"{self.count:,} {what} left out (first: entry {self.first_id}: {self.first_reason})"


class _Tail(Generic[T]):
    """The newest `keep` entries of one stream, parsed; topped up on each read with the new ones only.
    An entry that does not parse is skipped and remembered (`bad`), never fatal for the rest."""

    def __init__(self, name: str, keep: int, parse: Callable[[StreamEntry], T]):
        self.name, self.keep, self.parse = name, keep, parse
        self.items: deque[T] = deque(maxlen=keep)
        self.last_id: str | None = None
        self.bad: deque[tuple[str, str]] = deque(maxlen=BAD_KEPT)
        self.bad_count = 0
        self.lock = threading.Lock()

    def read(self, store: StateStore) -> list[T]:
        with self.lock:
            new = store.stream_since(self.name, self.last_id, self.keep)
            if new is None:  # wiped or trimmed past what was seen: start again
                self.items.clear()
                self.bad.clear()
                self.bad_count = 0
                self.last_id = None
                new = store.stream_since(self.name, None, self.keep)
            for entry in new or []:
                try:
                    self.items.append(self.parse(entry))
                except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
                    self.bad.append((entry.entry_id, one_line(f"{type(exc).__name__}: {exc}", 160)))
                    self.bad_count += 1
            if new:
                self.last_id = new[-1].entry_id
            return list(self.items)

    def bad_records(self) -> BadRecords | None:
        with self.lock:
            if not self.bad_count:
                return None
            first_id, reason = self.bad[0]
            return BadRecords(self.name, self.bad_count, first_id, reason)


_TAILS: dict[tuple[int, str, str, int], _Tail[Any]] = {}
_TAILS_LOCK = threading.Lock()


def _tail_of(store: StateStore, name: str, keep: int, parse: Callable[[StreamEntry], T]) -> _Tail[T]:
    key = (id(store.client), store.bot_id, name, keep)
    with _TAILS_LOCK:
        tail = _TAILS.get(key)
        if tail is None:
            tail = _TAILS[key] = _Tail(name, keep, parse)
    return tail


def _tail(store: StateStore, name: str, keep: int, parse: Callable[[StreamEntry], T]) -> list[T]:
    return _tail_of(store, name, keep, parse).read(store)


def bad_trades(store: StateStore, count: int = TRADES_SHOWN) -> BadRecords | None:
    """Trade records of this bot that could not be read (after `trades` read them)."""
    return _tail_of(store, "trades", count, _trade).bad_records()


def _trade(entry: StreamEntry) -> Trade:
    return from_record(Trade, entry.fields)


def _signal(entry: StreamEntry) -> dict[str, str]:
    return entry.fields | {"id": entry.entry_id}


def _point(entry: StreamEntry) -> dict[str, str]:
    return entry.fields


def _audit(entry: StreamEntry) -> AuditEvent:
    try:
        extra = json.loads(entry.fields.get("data") or "{}")
    except ValueError:
        extra = {}
    return AuditEvent(entry.fields.get("kind", ""), int(entry.fields.get("ts_ms", 0) or 0),
                      entry.fields.get("message", ""), extra if isinstance(extra, dict) else {},
                      logged_ms=entry.ts_ms)


def book_of(mode: Mode, settings: Settings) -> Book:
    """The book a tab shows: ghost's, or paper's on the configured paper venue (models.Book)."""
    return Book.of(mode, settings.venue.paper_venue if mode is not Mode.GHOST else "")


def trades(store: StateStore, book: Book | Mode, count: int = TRADES_SHOWN) -> list[Trade]:
    """Of the newest `count` trades of the stream (every book of the bot shares it), those of `book`
    (a Mode: every book of that mode), oldest first. Never another book's."""
    read = _tail(store, "trades", count, _trade)
    if isinstance(book, Mode):
        return trades_in_mode(read, book)
    return [t for t in read if t.book == book]


def audit(store: StateStore, count: int) -> list[AuditEvent]:
    """The newest `count` decision-log entries, oldest first."""
    return _tail(store, "audit", count, _audit)


def trade_count(store: StateStore) -> int:
    return store.stream_length("trades")


def signals(store: StateStore, count: int = SIGNALS_SHOWN) -> list[dict[str, str]]:
    return _tail(store, "signals", count, _signal)


def signal_total(store: StateStore, records: list[dict[str, str]]) -> tuple[int, bool]:
    """(how many signals the bot recorded, exact?). The stream holds signals and their outcomes; when it
    is longer than what was read, the count is the stream's length times the signals' share in the read."""
    read = [r for r in records if r.get("kind") != "outcome"]
    length = store.stream_length("signals")
    if length <= len(records):
        return len(read), True
    return round(length * len(read) / len(records)) if records else 0, False


def equity(store: StateStore, book: Book | None, count: int = EQUITY_SHOWN) -> list[dict[str, str]]:
    """A book's own equity curve (`equity:{book}`); None: the curve written before books existed."""
    return _tail(store, f"equity:{book.key}" if book is not None else "equity", count, _point)


def book_metrics(trades_read: list[Trade], points: list[dict[str, str]], starting: Decimal) -> dict[str, Any]:
    """The metrics of exactly the trades and curve on screen (so the cards agree with the table)."""
    from analytics.metrics import compute_metrics, to_jsonable

    curve = [(int(p["ts_ms"]), Decimal(p["equity"])) for p in points if p.get("ts_ms") and p.get("equity")]
    if not trades_read and not curve:
        return {}
    return to_jsonable(compute_metrics(trades_read, curve, starting_equity=starting))


_CANDLES: dict[tuple[int, str, str], tuple[str | None, list[Candle]]] = {}
CANDLES_TOPUP = 16  # the newest candles read when the newest one changed: a refresh's new candles fit in it


def candles(store: StateStore, symbol: str) -> list[Candle]:
    """A symbol's recent candles, read again only when its newest candle changed, and then only the
    newest few, appended after the last one known (the list only grows at its end and is trimmed at its
    start); all of them when the last one known is no longer among those few, or when the list is not as
    long as the topped-up one would be (wiped and pushed again: a reset, a flush, a restarted replay)."""
    key = (id(store.client), store.bot_id, symbol)
    newest = store.newest_candle_raw(symbol)
    cached = _CANDLES.get(key)
    if cached is not None and cached[0] == newest:
        return cached[1]
    read: list[Candle] | None = None
    if cached is not None and cached[1]:
        recent, kept = store.read_newest_candles(symbol, CANDLES_TOPUP)
        last = cached[1][-1]
        at = next((i for i in range(len(recent) - 1, -1, -1) if recent[i] == last), None)
        if at is not None:
            topped = (cached[1] + recent[at + 1:])[-CANDLES_KEPT:]
            read = topped if len(topped) == kept else None
    if read is None:
        read = store.read_candles(symbol)
    _CANDLES[key] = (newest, read)
    return read


def metrics(store: StateStore, mode: Mode) -> dict[str, Any] | None:
    return store.read_metrics(mode.value)


def open_trades(store: StateStore, mode: Mode) -> dict[str, TradeState]:
    """The bot's memory of its open trades by symbol (stop, take-profit, entry): paper's or ghost's."""
    memory = Memory.GHOST_TRADES if mode is Mode.GHOST else Memory.OPEN_TRADES
    out = {}
    for symbol, raw in store.recall(memory).items():
        state = raw.get("state") if isinstance(raw, Mapping) else None
        if isinstance(state, Mapping):
            out[symbol] = trade_state(state)
    return out


def trade_state(raw: Mapping[str, Any]) -> TradeState:
    """The executors' JSON of a TradeState (Decimal strings), read without importing the executors."""
    def dec(name: str) -> Decimal:
        return Decimal(str(raw.get(name) or "0"))

    return TradeState(
        symbol=str(raw["symbol"]), side=Side(raw["side"]), qty=dec("qty"), entry_price=dec("entry_price"),
        entry_ms=int(raw.get("entry_ms") or 0), stop=dec("stop"), take_profit=dec("take_profit"),
        initial_stop=dec("initial_stop"), peak_price=dec("peak_price"),
        breakeven_moved=bool(raw.get("breakeven_moved")), trailing_active=bool(raw.get("trailing_active")),
        strategy=str(raw.get("strategy") or ""), trade_id=str(raw.get("trade_id") or ""),
    )


def places(store: StateStore, symbols: Iterable[str]) -> dict[str, int | None]:
    """Each symbol's price precision, learned from its recent candles; kept for PLACES_TTL_S."""
    now = time.monotonic()
    out: dict[str, int | None] = {}
    for symbol in dict.fromkeys(symbols):
        cached = _PLACES.get((store.bot_id, symbol))
        if cached is not None and now - cached[0] < PLACES_TTL_S and cached[1] is not None:
            out[symbol] = cached[1]
            continue
        recent = store.read_candles(symbol, 60)
        found = price_places(p for c in recent for p in (c.open, c.high, c.low, c.close))
        _PLACES[(store.bot_id, symbol)] = (now, found)
        out[symbol] = found
    return out


def signal_notional(settings: Settings) -> Decimal:
    """The size a ghost signal is valued at: the configured fixed notional, else the first sizing
    percentage (fixed or tiered) of the starting balance."""
    sizing = settings.sizing
    if sizing.fixed_notional is not None:
        return sizing.fixed_notional
    percent = sizing.fixed_percent if sizing.fixed_percent is not None else sizing.tiers_percent[0]
    return settings.venue.starting_balance * percent / 100


# ------------------------------------------------------------------------------------------- bots


@dataclass(frozen=True, slots=True)
class BotSummary:
    bot_id: str
    mode: str
    trading_state: str
    status: BotStatus
    heartbeat_age_s: float | None

    def label(self) -> str:
        from ui.status import format_age

        beat = "never beat" if self.heartbeat_age_s is None else f"{format_age(self.heartbeat_age_s)} ago"
        return f"{self.bot_id} · {self.mode or '—'} · {self.status.value} · {self.trading_state or '—'} · {beat}"


def bots(store: StateStore, now_ms: int, timeout_s: float) -> list[BotSummary]:
    """Every bot on this Redis with its mode, state and heartbeat (one SCAN and one pipelined read)."""
    states = read_states(store.client, bot_ids(store.client))
    return [
        BotSummary(bot, state.get("mode", ""), state.get("trading_state", ""), bot_status(state, now_ms, timeout_s),
                   heartbeat_age_s(state, now_ms))
        for bot, state in states.items()
    ]
