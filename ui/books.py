"""One book's records read once, for a view: its trades, its equity curve and the metrics computed from
exactly those (models.Book: ghost, or paper / live on one venue).

The metric cards and the trades table come from this one snapshot, so they always agree (the cards were
the bot's last computation, up to `bot.metrics_seconds` older than the table beside them), and no book's
records are ever mixed into another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from analytics.metrics import compute_metrics, to_jsonable
from models import Book, Mode, Trade
from state import StateStore

TRADES_READ = 5000
EQUITY_READ = 5000


@dataclass(frozen=True, slots=True)
class BookView:
    book: Book
    trades: list[Trade]
    equity: list[dict[str, str]]  # the stream's points (ts_ms, equity, wallet, unrealized), oldest first
    metrics: dict[str, Any]  # analytics.metrics over `trades` and `equity`, JSON-safe (Decimals as strings)

    @property
    def label(self) -> str:
        return self.book.label


def read_book(store: StateStore, book: Book, starting_equity: Decimal) -> BookView:
    trades = store.read_trades(TRADES_READ, book=book)
    equity = store.read_equity(EQUITY_READ, book=book)
    curve = [(int(p["ts_ms"]), Decimal(p["equity"])) for p in equity]
    metrics = to_jsonable(compute_metrics(trades, curve, starting_equity=starting_equity)) if trades or curve else {}
    return BookView(book, trades, equity, metrics)


def current_book(state: Mapping[str, str]) -> Book | None:
    """The book the bot writes now (its state hash), None before it ever ran."""
    if state.get("book"):
        return Book.parse(state["book"])
    mode = state.get("mode")
    return Book.of(mode, state.get("venue")) if mode in {m.value for m in Mode} else None
