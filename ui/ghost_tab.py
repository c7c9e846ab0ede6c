"""The Ghost tab as the product plan draws it: totals, what signals would have made, accuracy and the
trade quality figures, the ghost checklist, recent signals with forward returns, accuracy per horizon,
breakdowns per strategy and per symbol, and the ghost trades."""

from __future__ import annotations

import streamlit as st

from models import Mode
from settings import Settings
from state import StateStore
from ui import charts, data
from ui.checklists import ghost_checklist
from ui.guard import guarded
from ui.journal_view import render_older_trades
from ui.paper_tab import MARKET_TIME_NOTE
from ui.status import format_money
from ui.summaries import (
    accuracy_frame, breakdown_table, ghost_summary, quality_cards, signal_accuracy, signals_table,
)
from ui.tables import Table, trades_table
from ui.widgets import checklist, memo, metric_cards, records_fp, show_chart, show_table, trades_fp


GHOST_TRADES_SHOWN = 300


@guarded("Ghost")
def render_ghost(store: StateStore, settings: Settings) -> None:
    records = data.signals(store)
    book = data.book_of(Mode.GHOST, settings)
    ghost_trades = data.trades(store, book)
    if (bad := data.bad_trades(store)) is not None:
        st.warning(bad.line(), icon=":material/report:")
    fp = (records_fp(records), trades_fp(ghost_trades))
    accuracy = memo(store, "ghost_accuracy", fp, lambda: signal_accuracy(records))
    st.subheader(f"Ghost summary — {book.label}")
    st.caption(MARKET_TIME_NOTE)
    total, exact = data.signal_total(store, records)
    metric_cards(ghost_summary(f"{total:,}" if exact else f"≈ {total:,}", ghost_trades))
    points = data.equity(store, book)
    metrics = memo(store, "ghost_metrics", (fp, records_fp(points)),
                   lambda: data.book_metrics(ghost_trades, points, settings.venue.starting_balance))
    metric_cards(quality_cards(metrics, accuracy))

    st.subheader("Ghost validation checklist")
    checklist(memo(store, "ghost_checks", fp, lambda: ghost_checklist(records, accuracy, ghost_trades)), "ghost_checklist")

    notional = data.signal_notional(settings)
    st.subheader("Recent signals")
    st.caption(f"Made: what the signal would have made at {format_money(notional)} USDT (the configured size) by "
               "its longest horizon, before fees. Returns in the signal's direction.")
    places = data.places(store, {*(r.get("symbol", "") for r in records[-500:]), *(t.symbol for t in ghost_trades)})
    show_table(memo(store, "ghost_signals", (fp, notional, tuple(sorted(places.items()))),
                    lambda: signals_table(records, notional=notional, places=places)), "No signals yet.",
               key="ghost_signals")

    st.subheader("Signal accuracy")
    if accuracy:
        left, right = st.columns([2, 3])
        with left:
            show_table(Table(accuracy_frame(accuracy)), "", key="ghost_accuracy_table")
        with right:
            show_chart(memo(store, "ghost_accuracy_chart", fp, lambda: charts.accuracy_figure(accuracy, "ghost_accuracy")),
                       "ghost_accuracy")
    else:
        horizons = ", ".join(f"{m} min" for m in settings.ghost.horizons_minutes)
        st.caption(f"No scored signals yet: each signal is scored after {horizons}.")

    st.subheader("Per strategy")
    show_table(memo(store, "ghost_by_strategy", fp, lambda: breakdown_table(records, ghost_trades, "strategy")),
               "Nothing yet.", key="ghost_by_strategy")
    st.subheader("Per symbol")
    show_table(memo(store, "ghost_by_symbol", fp, lambda: breakdown_table(records, ghost_trades, "symbol")),
               "Nothing yet.", key="ghost_by_symbol")

    st.subheader("Ghost trades")
    newest = ghost_trades[-GHOST_TRADES_SHOWN:]
    if len(ghost_trades) > len(newest):
        st.caption(f"The newest {len(newest):,} of {len(ghost_trades):,} ghost trades read.")
    show_table(memo(store, "ghost_trades", (fp, tuple(sorted(places.items()))), lambda: trades_table(newest, places)),
               "No ghost trades yet.", key="ghost_trades")
    render_older_trades(settings, book, ghost_trades, places, "ghost_journal")
