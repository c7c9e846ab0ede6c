"""The few Streamlit building blocks every tab uses: a table with its column layout, a chart that keeps
its view, a row of metric cards, a checklist."""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable, Sequence, TypeVar

import streamlit as st

from state import StateStore
from ui.bot_selector import SELECTED as SELECTED_BOT
from ui.checklists import Check
from ui.light_table import STYLE as LIGHT_STYLE, html_table
from ui.line_chart import LineChart, line_chart
from ui.live_chart import live_chart
from ui.status import escape_markdown
from ui.summaries import MetricCard
from ui.tables import Table

T = TypeVar("T")
CARDS_PER_ROW = 6
_MEMO: dict[tuple[int, str, str], tuple[Any, Any]] = {}
_MEMO_LOCK = threading.Lock()
ROWS_SHOWN = 12  # rows a table shows before it scrolls (the page stays short)
SMALL_ROWS = 30  # rows an HTML table may have (show_small_table); more is a grid that scrolls
_ROW_PX, _HEADER_PX = 35, 38


def memo(store: StateStore, key: str, fingerprint: Hashable, build: Callable[[], T]) -> Any:
    """`build()` again only when `fingerprint` (what the result depends on) changed since the last
    refresh: a refresh with no new data rebuilds no figure and no table. Shared by every session of the
    server, one entry per bot and key (the bot is part of the key: no view shows another bot's figure)."""
    slot = (id(store.client), store.bot_id, key)
    with _MEMO_LOCK:
        hit = _MEMO.get(slot)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    value = build()
    with _MEMO_LOCK:
        _MEMO[slot] = (fingerprint, value)
    return value


def trades_fp(trades: Sequence[Any]) -> Hashable:
    """What identifies a list of trades that only ever grows at its end."""
    return (len(trades), trades[-1].trade_id, trades[-1].exit_ms) if trades else 0


def records_fp(records: Sequence[dict[str, str]]) -> Hashable:
    return (len(records), records[-1].get("id") or records[-1].get("ts_ms")) if records else 0


def show_table(table: Table, empty: str, *, key: str | None = None, rows: int = ROWS_SHOWN) -> None:
    if table.empty:
        st.caption(empty)
        return
    height = _HEADER_PX + _ROW_PX * min(len(table.frame), rows) + 2
    config: Any = table.column_config()  # plain dicts of ColumnConfig's keys (tables.py imports no Streamlit)
    st.dataframe(table.frame, hide_index=True, width="stretch", height=height, key=key, column_config=config)


def show_small_table(table: Table, empty: str, *, key: str, rows: int = SMALL_ROWS) -> None:
    """A table of at most `rows` rows as HTML (ui/light_table.py: no dataframe module in the browser); a
    longer one as `show_table`. Its container has the CSS class `st-key-<key>`."""
    if table.empty or len(table.frame) > rows:
        show_table(table, empty, key=key)
        return
    with st.container(key=key):
        st.html(LIGHT_STYLE + html_table(table))


def show_chart(fig, key: str) -> None:
    """A chart that keeps the user's zoom, pan and legend clicks while new data arrives: its frame stays
    (named by `key` and the selected bot) and draws each refresh's figure in place (a Plotly figure in
    ui/live_chart.py's frame, a LineChart in ui/line_chart.py's).
    Another bot gets a frame of its own: one bot's zoom is never laid over another's data."""
    bot = str(st.session_state.get(SELECTED_BOT) or "")
    with st.container(key=f"chart_{key}"):
        if isinstance(fig, LineChart):  # lines over time: uPlot (ui/line_chart.py)
            line_chart(fig, f"{key}:{bot}")
        else:
            live_chart(fig, f"{key}:{bot}", config={"displaylogo": False})


def metric_cards(cards: Sequence[MetricCard], empty: str = "") -> None:
    if not cards:
        if empty:
            st.caption(empty)
        return
    for start in range(0, len(cards), CARDS_PER_ROW):
        row = cards[start:start + CARDS_PER_ROW]
        # a short last row: its cards as wide as the others, the rest one spacer (not a column per empty slot)
        widths = [1] * len(row) + ([CARDS_PER_ROW - len(row)] if len(row) < CARDS_PER_ROW else [])
        for column, card in zip(st.columns(widths), row):
            column.metric(card.label, card.value, help=card.help or None)


def checklist(checks: Sequence[Check], key: str) -> None:
    passed = sum(c.passed for c in checks)
    with st.container(key=key, border=True):
        st.markdown(f"**{passed} of {len(checks)} checks pass**")
        for c in checks:
            mark = ":green[:material/check_circle:]" if c.passed else ":red[:material/cancel:]"
            st.markdown(f"{mark} **{escape_markdown(c.label)}** — {escape_markdown(c.detail)}")
