"""The Paper tab as the product plan draws it: portfolio summary, open positions with stop and
take-profit, candles with entries, exits, stop and take-profit lines and volume, equity and drawdown,
the trade history (sort, filter, CSV), P&L by exit reason, the metrics, and the paper checklist."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from models import Mode, Trade
from settings import Settings
from state import StateStore, bot_status
from ui import charts, data
from ui.checklists import paper_checklist
from ui.connection import now_ms
from ui.guard import guarded
from ui.journal_view import render_older_trades, render_reports
from ui.summaries import metric_cards as metric_card_list, paper_summary, pnl_by_exit_reason
from ui.tables import TRADE_SORTS, Table, positions_table, sort_trades, trades_csv, trades_table
from ui.widgets import checklist, memo, metric_cards, records_fp, show_chart, show_table, trades_fp

ANY = "any"
# one clock per view: trades, candles and equity run on the candles' clock, which a replay or a synthetic
# feed at 60x puts far from the wall clock of commands, banners and the decision log
MARKET_TIME_NOTE = "Times in this tab are market time (the candles' clock), UTC."
HISTORY_ROWS = 500  # rows in the table; the CSV carries every trade chosen


def symbols_for(settings: Settings, trades: list[Trade], extra: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for symbol in [*extra, *settings.bot.symbols, *(t.symbol for t in trades)]:
        seen.setdefault(symbol, None)
    return list(seen)


def filter_trades(trades: list[Trade], symbol: str = ANY, reason: str = ANY, side: str = ANY,
                  result: str = ANY) -> list[Trade]:
    """`result`: 'wins', 'losses' or any."""
    return [
        t for t in trades
        if (symbol == ANY or t.symbol == symbol) and (reason == ANY or t.exit_reason.value == reason)
        and (side == ANY or t.side.value == side)
        and (result == ANY or (t.pnl > 0 if result == "wins" else t.pnl <= 0))
    ]


@guarded("Paper")
def render_paper(store: StateStore, settings: Settings) -> None:
    state = store.read_state()
    running_paper = state.get("mode") == Mode.PAPER.value
    book = data.book_of(Mode.PAPER, settings)
    trades = data.trades(store, book)
    if (bad := data.bad_trades(store)) is not None:
        st.warning(bad.line(), icon=":material/report:")
    account = store.read_account() if running_paper else None
    starting = settings.venue.starting_balance
    current = account.equity if account is not None else None
    help_text = ("equity the paper venue reports" if current is not None
                 else "starting capital plus the closed paper trades (the bot is not running paper)")
    points = data.equity(store, book)
    metrics = memo(store, "paper_metrics", (trades_fp(trades), records_fp(points)),
                   lambda: data.book_metrics(trades, points, starting))
    total = None  # the trades completed are the ones read (the table's), as the cards are
    st.subheader(f"Portfolio — {book.label}")
    st.caption(MARKET_TIME_NOTE)
    metric_cards(paper_summary(starting, current, trades, int(total) if isinstance(total, int) else None, help_text))

    positions = store.read_positions() if running_paper else []
    levels = data.open_trades(store, Mode.PAPER)
    places = data.places(store, [*(p.symbol for p in positions), *{t.symbol for t in trades}])
    st.subheader("Open positions")
    show_table(positions_table(positions, levels, places),
               "No open paper positions." if running_paper else "The bot is not running paper: no open paper positions.",
               key="paper_positions")

    st.subheader("Candles")
    symbols = symbols_for(settings, trades, [p.symbol for p in positions])
    symbol = st.selectbox("Symbol", symbols, key="paper_symbol")
    candles = data.candles(store, symbol) if symbol else []
    if candles:
        level = levels.get(symbol) if positions else None
        mine = [t for t in trades if t.symbol == symbol]  # another symbol's new trade redraws nothing here
        fingerprint = (symbol, len(candles), candles[-1].open_time_ms, candles[-1].close, trades_fp(mine),
                       (level.stop, level.take_profit, level.entry_ms) if level else None)
        figure = memo(store, "paper_candles", fingerprint,
                      lambda: charts.candles_figure(symbol, candles, mine, level))
        show_chart(figure, "paper_candles")
    else:
        st.caption(f"No candles for {symbol} yet.")

    if running_paper:
        if points:
            show_chart(memo(store, "paper_equity", records_fp(points),
                            lambda: charts.equity_figure(points)), "paper_equity")

    st.subheader("Trade history")
    _trade_history(store, trades, places)
    render_older_trades(settings, book, trades, places, "paper_journal")

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Paper metrics")
        metric_cards(metric_card_list(metrics), "No paper metrics yet: they appear with the first paper trade.")
    with right:
        totals = memo(store, "paper_totals", trades_fp(trades), lambda: pnl_by_exit_reason(trades))
        if totals:
            show_chart(memo(store, "paper_pnl_by_reason", trades_fp(trades),
                            lambda: charts.pnl_by_reason_figure(totals, "paper_pnl_by_reason")), "paper_pnl_by_reason")
        else:
            st.caption("P&L by exit reason appears with the first closed trade.")

    st.subheader("Paper validation checklist")
    status = bot_status(state, now_ms(), settings.control.heartbeat_timeout_seconds)
    checklist(paper_checklist(trades, state, status, now_ms()), "paper_checklist")
    render_reports(settings)


def _history(trades: list[Trade], places: dict[str, int | None], symbol: str, reason: str, side: str, result: str,
             by: str, descending: bool) -> tuple[list[Trade], Table]:
    chosen = sort_trades(filter_trades(trades, symbol, reason, side, result), by, descending)
    return chosen, trades_table(chosen[:HISTORY_ROWS], places, presorted=True)


def _trade_history(store: StateStore, trades: list[Trade], places: dict[str, int | None]) -> None:
    if not trades:
        st.caption("No paper trades yet.")
        return
    cols = st.columns([2, 2, 1.2, 1.2, 1.6, 1.2])
    symbol = cols[0].selectbox("Symbol", [ANY, *sorted({t.symbol for t in trades})], key="paper_f_symbol")
    reason = cols[1].selectbox("Exit reason", [ANY, *sorted({t.exit_reason.value for t in trades})],
                               key="paper_f_reason")
    side = cols[2].selectbox("Side", [ANY, "long", "short"], key="paper_f_side")
    result = cols[3].selectbox("Result", [ANY, "wins", "losses"], key="paper_f_result")
    by = cols[4].selectbox("Sort by", TRADE_SORTS, key="paper_sort")
    descending = cols[5].selectbox("Order", ["descending", "ascending"], key="paper_order") == "descending"
    fingerprint = (trades_fp(trades), symbol, reason, side, result, by, descending, tuple(sorted(places.items())))
    chosen, table = memo(store, "paper_history", fingerprint,
                         lambda: _history(trades, places, symbol, reason, side, result, by, descending))
    net = sum((t.pnl for t in chosen), Decimal(0))
    shown = f" · the first {HISTORY_ROWS:,} shown, all in the CSV" if len(chosen) > HISTORY_ROWS else ""
    st.caption(f"{len(chosen):,} of {len(trades):,} trades · net {net:+,.2f} USDT{shown}")
    show_table(table, "No trade matches.", key="paper_trades")
    st.download_button("Download CSV", lambda: trades_csv(chosen), file_name="paper_trades.csv", mime="text/csv",
                       key="paper_csv", on_click="ignore")
