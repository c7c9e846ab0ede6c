"""`main.py report`: a month's or a week's trades from the journal as an HTML report (plotly) and a CSV.

Figures are `analytics.metrics` over the period's trades, exactly as a backtest shows them; the equity
curve is the account's equity at the period's start (the starting balance plus every earlier trade of the
same mode) moved by each trade's net P&L. The comparison is buy-and-hold of a benchmark series over the same
period: BTC's 1h candles from Binance's public API by default, or any candle CSV given with `--benchmark`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from analytics.metrics import breakdown, compute_metrics
from analytics.periods import month_range, period_containing, week_range
from errors import ConfigError, TradingBotError
from models import Book, Trade, from_record, to_record

BENCHMARK_SYMBOL = "BTC/USDT:USDT"


def book_for(settings: Any, mode: str) -> Book:
    """The book a report is about: ghost's, paper's on the configured paper venue, or live's on Binance
    mainnet — one book, never several spliced into one equity curve."""
    venue = {"ghost": "", "paper": settings.venue.paper_venue, "live": "binance-live"}[mode]
    return Book.of(mode, venue)


def period_trades(journal: Any, start_ms: int, end_ms: int, book: Book) -> tuple[list[Trade], Decimal]:
    """The book's trades that closed in [start, end), and the net P&L of every earlier one."""
    trades = [from_record(Trade, r.fields) for r in journal.records(kinds=["trade"], to_ms=end_ms, book=book.key)]
    before = sum((t.pnl for t in trades if t.exit_ms < start_ms), Decimal("0"))
    return [t for t in trades if t.exit_ms >= start_ms], before


def _frame(ts, o, h, lo, c, start_ms: int, end_ms: int) -> Any:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"open_time_ms": np.asarray(ts, dtype=np.int64), "open": np.asarray(o, dtype=float),
                          "high": np.asarray(h, dtype=float), "low": np.asarray(lo, dtype=float),
                          "close": np.asarray(c, dtype=float)})
    return frame[(frame.open_time_ms >= start_ms) & (frame.open_time_ms < end_ms)].reset_index(drop=True)


def load_benchmark(path: str | None, start_ms: int, end_ms: int, exchange_url: str | None = None) -> tuple[Any, str]:
    """Candles of the benchmark over the period (a frame), and what they are. A candle CSV (checked like
    any candle file), or BTC 1h from Binance; a failure to fetch is said in the report, never fatal (the
    trades are the report)."""
    if path:
        from marketdata.csvfile import read_candles

        t = read_candles(path)
        frame = _frame(t.ts, t.open, t.high, t.low, t.close, start_ms, end_ms)
        if frame.empty:
            return None, f"{Path(path).name}: no candles in the period"
        return frame, f"{Path(path).name} (given)"
    try:
        from marketdata.ccxt_binance import fetch_range, make_exchange

        exchange = make_exchange(exchange_url)
        rows = [r for page in fetch_range(exchange, BENCHMARK_SYMBOL, "1h", 3_600_000, start_ms, end_ms) for r in page]
        if not rows:
            return None, f"{BENCHMARK_SYMBOL}: no candles in the period"
        ts, o, h, lo, c = (list(col) for col in zip(*[r[:5] for r in rows]))
        return _frame(ts, o, h, lo, c, start_ms, end_ms), f"{BENCHMARK_SYMBOL} 1h from Binance"
    except TradingBotError as exc:
        return None, f"{BENCHMARK_SYMBOL} not fetched: {exc}"


def write_period_report(journal: Any, *, period: str, label_range: tuple[int, int, str], out_dir: Path,
                        starting_balance: Decimal, book: Book, bot_id: str, benchmark: tuple[Any, str]) -> tuple[Path, Path, dict]:
    from analytics.report import write_backtest_report
    from journal.export import TRADE_COLUMNS, trade_row

    start_ms, end_ms, label = label_range
    mode = book.mode.value
    trades, before = period_trades(journal, start_ms, end_ms, book)
    opening = starting_balance + before
    curve: list[tuple[int, Decimal]] = [(start_ms, opening)]
    equity = opening
    for t in sorted(trades, key=lambda tr: tr.exit_ms):
        equity += t.pnl
        curve.append((t.exit_ms, equity))
    metrics = compute_metrics(trades, curve, starting_equity=opening)
    table, described = benchmark
    candles = {f"{described}": table} if table is not None else {}
    full = {**metrics, "by symbol": breakdown(trades, "symbol"), "by exit reason": breakdown(trades, "exit_reason")}
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{bot_id}_{period}_{label}_{mode}"
    html = write_backtest_report(
        out_dir / f"{stem}.html", trades=trades, equity_curve=curve, candles_by_symbol=candles, metrics=full,
        parameters={"bot": bot_id, "period": f"{period} {label} (UTC)", "book": book.label,
                    "opening equity": f"{opening:,.2f} USDT", "benchmark": described},
        title=f"{period.capitalize()} report {label}: {bot_id}",
    )
    csv_path = out_dir / f"{stem}_trades.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for t in trades:
            writer.writerow(trade_row(to_record(t)))
    return html, csv_path, metrics


def run_report_cli(args: argparse.Namespace) -> int:
    from journal.service import open_journal
    from settings import load_settings

    settings = load_settings(args.config)
    if args.period == "month":
        span = month_range(args.month) if args.month else None
    else:
        span = week_range(args.week) if args.week else None
    if args.period == "month" and args.week or args.period == "week" and args.month:
        raise ConfigError("--month goes with --period month, --week with --period week")
    book = book_for(settings, args.mode or settings.bot.mode.value)
    journal = open_journal(settings)
    try:
        if span is None:  # the newest period with a trade of the book in it
            newest = journal.records(kinds=["trade"], book=book.key, limit=1, newest_first=True)
            if not newest:
                raise ConfigError(f"no {book.label} trades in the journal of bot {settings.bot.id}; name a period with "
                                  f"--{args.period}, or another book with --mode")
            span = period_containing(args.period, newest[0].ts_ms)
        benchmark = load_benchmark(args.benchmark, span[0], span[1], args.exchange_url)
        html, csv_path, metrics = write_period_report(
            journal, period=args.period, label_range=span, out_dir=Path(args.out), book=book,
            starting_balance=settings.venue.starting_balance, bot_id=settings.bot.id, benchmark=benchmark)
    finally:
        journal.close()
    net = metrics.get("total_pnl")
    print(f"report {args.period} {span[2]}: {metrics.get('trades', 0)} trade(s), net P&L "
          f"{net if net is not None else 0:,.2f} USDT → {html} and {csv_path}", file=sys.stdout)
    return 0
