"""The Account tab: what the venue says — balance, equity, margin used and available, leverage, positions
with their liquidation prices, open orders — the equity curve and the risk report."""

from __future__ import annotations

from decimal import Decimal
from typing import Callable, Mapping, Sequence

import streamlit as st

from models import Mode, Trade
from settings import Settings
from state import StateStore
from ui import charts, data
from ui.books import current_book
from ui.connection import now_ms
from ui.guard import guarded
from ui.status import format_money, to_decimal, utc_day_start_ms
from ui.summaries import MetricCard, pnl_since, trades_in_mode
from ui.tables import key_value_table, orders_table, positions_table
from ui.widgets import memo, metric_cards, records_fp, show_chart, show_small_table


def _mode(raw: str | None) -> Mode | None:
    try:
        return Mode(raw)
    except ValueError:
        return None


def todays_pnl(state: Mapping[str, str], trades: Sequence[Trade] | Callable[[], Sequence[Trade]],
               now: int) -> tuple[Decimal, str]:
    """The bot's own figure (equity change since 00:00 UTC) when it publishes one, else closed trades
    (read only then: `trades` may be a function that reads them)."""
    reported = to_decimal(state.get("pnl_today"))
    if reported is not None:
        return reported, "Equity change since 00:00 UTC, open positions included (reported by the bot)."
    mode = _mode(state.get("mode"))
    closed_trades = trades() if callable(trades) else trades
    closed = pnl_since(trades_in_mode(closed_trades, mode) if mode else closed_trades, utc_day_start_ms(now))
    return closed, "Net P&L of trades closed since 00:00 UTC in the bot's current mode."


@guarded("Account")
def render_account(store: StateStore, settings: Settings) -> None:
    state = store.read_state()
    account = store.read_account()
    positions = store.read_positions()
    mode = _mode(state.get("mode"))
    today, today_help = todays_pnl(state, lambda: data.trades(store, mode) if mode else [], now_ms())
    venue = state.get("venue") or "the venue"
    if account is None:
        st.info("No account snapshot yet: the bot writes one while it runs.")
    else:
        leverage = max((p.leverage for p in positions), default=settings.venue.leverage)
        metric_cards([
            MetricCard("Equity (USDT)", format_money(account.equity), f"as {venue} reports it"),
            MetricCard("Wallet balance", format_money(account.wallet_balance)),
            MetricCard("Unrealised P&L", format_money(account.unrealized_pnl, signed=True)),
            MetricCard("Margin used", format_money(account.margin_used)),
            MetricCard("Available", format_money(account.available)),
            MetricCard("Leverage", f"{leverage}x", "the highest of the open positions' (else the configured one)"),
            MetricCard("Today's P&L", format_money(today, signed=True), today_help),
        ])

    book = current_book(state)
    points = data.equity(store, book) if book is not None else []
    if points and book is not None:
        st.caption(f"Equity of **{book.label}** (market time, UTC)")
        show_chart(memo(store, "account_equity", records_fp(points),
                        lambda: charts.equity_figure(points)), "account_equity")
    else:
        st.caption("No equity points yet.")

    symbols = [p.symbol for p in positions]
    orders = store.read_orders()
    places = data.places(store, [*symbols, *(o.symbol for o in orders)])
    st.subheader("Positions")
    # small tables as HTML: this tab is the page's first view, and a grid's browser module is most of its wait
    show_small_table(positions_table(positions, data.open_trades(store, mode or Mode.PAPER), places),
                     "No open positions.", key="account_positions")
    st.subheader("Open orders")
    show_small_table(orders_table(orders, places), "No open orders.", key="account_orders")
    st.subheader("Risk report")
    show_small_table(key_value_table(store.read_risk(), name="Measure"), "No risk report yet.", key="account_risk")
