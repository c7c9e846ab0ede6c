"""The decision log: why the bot did or did not trade, searchable, filtered by kind and symbol, in time
order, a page at a time. The newest AUDIT_SEARCHED entries are searched (the stream keeps
`redis.audit_maxlen`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import streamlit as st

from models import AuditEvent
from settings import Settings
from state import StateStore
from ui import data
from ui.data import AUDIT_SEARCHED
from ui.guard import guarded
from ui.tables import audit_symbol, audit_table
from ui.widgets import show_table

PER_PAGE = 50
ALL = "all"
KINDS = ("signal", "sizing", "skip", "order", "fill", "exit", "command", "state", "reconcile", "error")


@dataclass(frozen=True, slots=True)
class LogQuery:
    text: str = ""
    kinds: tuple[str, ...] = ()
    symbol: str = ALL
    newest_first: bool = True


def matches(event: AuditEvent, query: LogQuery) -> bool:
    if query.kinds and event.kind not in query.kinds:
        return False
    if query.symbol != ALL and audit_symbol(event) != query.symbol and query.symbol not in event.message:
        return False
    if query.text:
        needle = query.text.casefold()
        return needle in event.message.casefold() or needle in event.kind.casefold()
    return True


def select(events: Sequence[AuditEvent], query: LogQuery, page: int, per_page: int = PER_PAGE
           ) -> tuple[list[AuditEvent], int, int]:
    """(the page's events, how many matched, how many pages); `page` counts from 1 and is clamped.
    Time order is the order the store logged them (`events` come oldest first; Redis's clock at XADD),
    never the writers' stamps, which are market time in the engine and wall time elsewhere."""
    if per_page <= 0:
        raise ValueError(f"per_page must be positive, not {per_page}")
    chosen = [e for e in events if matches(e, query)]
    ordered = list(reversed(chosen)) if query.newest_first else chosen
    pages = max(1, -(-len(ordered) // per_page))
    page = min(max(1, page), pages)
    return ordered[(page - 1) * per_page: page * per_page], len(ordered), pages


def symbols_in(events: Sequence[AuditEvent]) -> list[str]:
    return sorted({s for e in events if (s := audit_symbol(e))})


@guarded("Decision log")
def render_decision_log(store: StateStore, settings: Settings) -> None:
    search, kind_col, symbol_col, order_col, page_col = st.columns([3, 2, 2, 1.4, 1])
    text = search.text_input("Search", key="log_search", placeholder="words in the message or kind")
    chosen_kinds = kind_col.multiselect("Kind", KINDS, key="log_kinds")
    traded = [x for x in (store.read_state().get("symbols") or "").split(",") if x]
    symbol = symbol_col.selectbox("Symbol", [ALL, *dict.fromkeys([*traded, *settings.bot.symbols])], key="log_symbol")
    order = order_col.selectbox("Order", ["newest first", "oldest first"], key="log_order")
    query = LogQuery(text.strip(), tuple(chosen_kinds), symbol, order == "newest first")
    browsing = query == LogQuery() and int(st.session_state.get("log_page") or 1) == 1
    # the first page of everything is the newest PER_PAGE entries: only a search or a later page reads more
    events = data.audit(store, PER_PAGE if browsing else AUDIT_SEARCHED)
    if browsing:
        matched = min(store.stream_length("audit"), AUDIT_SEARCHED)
        pages = max(1, -(-matched // PER_PAGE))
    else:
        _, matched, pages = select(events, query, 1)
    page = page_col.selectbox("Page", list(range(1, pages + 1)), key="log_page") or 1
    shown, _, _ = select(events, query, page)
    searched = f"the newest {AUDIT_SEARCHED:,}" if browsing else f"the newest {len(events):,}"
    st.caption(f"{matched:,} of {searched} entries · page {page} of {pages} · {PER_PAGE} per page")
    show_table(audit_table(shown), "Nothing logged yet." if not events else "No entry matches.",
               key="decision_log", rows=15)
