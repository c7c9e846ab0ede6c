"""The bodies of the four tabs and the decision log. Each one runs inside an auto-refreshing fragment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

import streamlit as st

from models import Book, Mode, Trade
from settings import Settings
from state import StateStore
from ui import charts
from ui.books import current_book, read_book
from ui.connection import now_ms
from ui.guard import guarded
from ui.status import format_money, to_decimal, utc_day_start_ms
from ui.summaries import (
    accuracy_frame,
    metric_cards,
    pnl_by_exit_reason,
    pnl_since,
    signal_accuracy,
    signals_frame,
    trades_in_mode,
)
from ui.tables import audit_frame, key_value_frame, orders_frame, positions_frame, trades_frame

TAB_NAMES = ("Account", "Paper", "Ghost", "Live")
# one clock per view: trades, signals, candles and equity run on the candles' clock, which a replay or a
# synthetic feed at 60x puts far from the wall clock that commands, banners and the decision log use
MARKET_TIME_NOTE = "Times in this tab are market time (the candles' clock), UTC."
CARDS_PER_ROW = 6


def _table(frame, empty: str) -> None:
    if frame.empty:
        st.caption(empty)
    else:
        st.dataframe(frame, hide_index=True, width="stretch")


def _metric_cards(metrics: Mapping[str, Any] | None, empty: str) -> None:
    cards = metric_cards(metrics)
    if not cards:
        st.caption(empty)
        return
    for start in range(0, len(cards), CARDS_PER_ROW):
        row = cards[start:start + CARDS_PER_ROW]
        for column, card in zip(st.columns(CARDS_PER_ROW), row):
            column.metric(card.label, card.value, help=card.help or None)


def _chart(fig, key: str) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


# ------------------------------------------------------------------------------------------- Account


def _mode(raw: str | None) -> Mode | None:
    try:
        return Mode(raw)
    except ValueError:
        return None


def todays_pnl(state: Mapping[str, str], trades: Sequence[Trade], now: int) -> tuple[Decimal, str]:
    """The bot's own figure (equity change since 00:00 UTC) when it publishes one, else closed trades."""
    reported = to_decimal(state.get("pnl_today"))
    if reported is not None:
        return reported, ("Equity change since 00:00 UTC of market time (the candles' clock, which the daily loss "
                          "limit follows too), open positions included (reported by the bot).")
    mode = _mode(state.get("mode"))
    closed = pnl_since(trades_in_mode(trades, mode) if mode else trades, utc_day_start_ms(now))
    return closed, "Net P&L of trades closed since 00:00 UTC in the bot's current mode."


@guarded("Account")
def render_account(store: StateStore, settings: Settings) -> None:
    account = store.read_account()
    today, today_help = todays_pnl(store.read_state(), store.read_trades(), now_ms())
    if account is None:
        st.info("No account snapshot yet: the bot writes one while it runs.")
    else:
        cols = st.columns(6)
        cols[0].metric("Equity (USDT)", format_money(account.equity))
        cols[1].metric("Wallet balance", format_money(account.wallet_balance))
        cols[2].metric("Unrealised P&L", format_money(account.unrealized_pnl, signed=True))
        cols[3].metric("Margin used", format_money(account.margin_used))
        cols[4].metric("Available", format_money(account.available))
        cols[5].metric("Today's P&L", format_money(today, signed=True), help=today_help)

    book = current_book(store.read_state())
    points = store.read_equity(book=book) if book is not None else []
    if points and book is not None:
        st.caption(f"Equity of **{book.label}** (market time, UTC)")
        _chart(charts.equity_figure(points), "account_equity")
    else:
        st.caption("No equity points yet.")

    st.subheader("Open positions")
    _table(positions_frame(store.read_positions()), "No open positions.")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Open orders")
        _table(orders_frame(store.read_orders()), "No open orders.")
    with right:
        st.subheader("Risk report")
        _table(key_value_frame(store.read_risk(), name="Measure"), "No risk report yet.")


# --------------------------------------------------------------------------------------------- Paper


def _symbols(settings: Settings, trades: Sequence[Trade], extra: Sequence[str] = ()) -> list[str]:
    seen: dict[str, None] = {}
    for symbol in [*settings.bot.symbols, *extra, *(t.symbol for t in trades)]:
        seen.setdefault(symbol, None)
    return list(seen)


@guarded("Paper")
def render_paper(store: StateStore, settings: Settings) -> None:
    view = read_book(store, Book.of(Mode.PAPER, settings.venue.paper_venue), settings.venue.starting_balance)
    trades = view.trades
    st.subheader(f"Paper metrics — {view.label}")
    st.caption(MARKET_TIME_NOTE)
    _metric_cards(view.metrics, "No paper metrics yet: they appear with the first paper trade.")

    st.subheader("Candles")
    symbols = _symbols(settings, trades, [p.symbol for p in store.read_positions()])
    symbol = st.selectbox("Symbol", symbols, key="paper_symbol")
    candles = store.read_candles(symbol) if symbol else []
    if candles:
        _chart(charts.candles_figure(symbol, candles, trades), "paper_candles")
    else:
        st.caption(f"No candles for {symbol} yet.")

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Paper trades")
        _table(trades_frame(trades), "No paper trades yet.")
    with right:
        totals = pnl_by_exit_reason(trades)
        if totals:
            _chart(charts.pnl_by_reason_figure(totals), "paper_pnl_by_reason")
        else:
            st.caption("P&L by exit reason appears with the first closed trade.")


# --------------------------------------------------------------------------------------------- Ghost


@guarded("Ghost")
def render_ghost(store: StateStore, settings: Settings) -> None:
    records = store.read_signals()
    ghost = read_book(store, Book.of(Mode.GHOST), settings.venue.starting_balance)
    st.subheader(f"Ghost metrics — {ghost.label}")
    st.caption(MARKET_TIME_NOTE)
    _metric_cards(ghost.metrics, "No ghost metrics yet.")

    st.subheader("Signal accuracy")
    accuracy = signal_accuracy(records)
    if accuracy:
        left, right = st.columns([2, 3])
        with left:
            _table(accuracy_frame(accuracy), "")
        with right:
            _chart(charts.accuracy_figure(accuracy), "ghost_accuracy")
    else:
        horizons = ", ".join(f"{m} min" for m in settings.ghost.horizons_minutes)
        st.caption(f"No scored signals yet: each signal is scored after {horizons}.")

    st.subheader("Signals")
    _table(signals_frame(records), "No signals yet.")
    st.subheader("Ghost trades")
    _table(trades_frame(ghost.trades), "No ghost trades yet.")


# ---------------------------------------------------------------------------------------------- Live


from ui.live_tab import render_live  # noqa: E402  the Live tab has a module of its own


# ------------------------------------------------------------------------------------- decision log


@guarded("Decision log")
def render_decision_log(store: StateStore, settings: Settings) -> None:
    _table(audit_frame(store.read_audit(200)), "Nothing logged yet.")


TAB_VIEWS: tuple[Callable[[StateStore, Settings], None], ...] = (render_account, render_paper, render_ghost,
                                                                  render_live)
