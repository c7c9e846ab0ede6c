"""`main.py backtest`: settings and data from the command line, a progress bar, and the result as a
table, as one JSON object (`--json`), or as an HTML report (`--report`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from analytics.metrics import to_jsonable
from bot.backtest import Backtest, BacktestResult, load_tables
from models import Trade
from settings import load_settings

PROGRESS_FROM_CANDLES = 50_000  # a bar only where a run takes long enough to watch


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def trade_record(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol, "side": t.side.value, "qty": str(t.qty), "entry_time": _iso(t.entry_ms),
        "entry_price": str(t.entry_price), "exit_time": _iso(t.exit_ms), "exit_price": str(t.exit_price),
        "fees": str(t.fees), "funding": str(t.funding), "pnl": str(t.pnl), "exit_reason": t.exit_reason.value,
        "strategy": t.strategy, "trade_id": t.trade_id,
    }


def result_json(result: BacktestResult) -> dict[str, Any]:
    return {
        "metrics": to_jsonable(result.metrics),
        "by_symbol": to_jsonable(result.by_symbol),
        "by_exit_reason": to_jsonable(result.by_exit_reason),
        "trades": [trade_record(t) for t in result.trades],
        "parameters": result.parameters,
        "data_range": {sym: {**r, "from": _iso(r["from_ms"]), "to": _iso(r["to_ms"])} for sym, r in result.data_range.items()},
        "candles": result.candles,
        "candles_processed": result.candles_processed,
        "starting_equity": str(result.starting_equity),
        "final_equity": str(result.final_equity),
        "buy_and_hold_return_pct": str(result.buy_and_hold_return_pct) if result.buy_and_hold_return_pct is not None else None,
        "halt": result.halt,
        "wall_s": round(result.wall_s, 4),
        "candles_per_s": round(result.candles_per_s),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.4f}"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def result_text(result: BacktestResult) -> str:
    lines = [f"Backtest of {', '.join(result.parameters['strategies'])} on {', '.join(result.parameters['symbols'])} "
             f"({result.parameters['timeframe']})"]
    for sym, r in result.data_range.items():
        lines.append(f"  {sym}: {_iso(r['from_ms'])} → {_iso(r['to_ms'])}, {r['candles']:,} candles"
                     + (f"; GAPS: {'; '.join(r['gaps'])}" if r["gaps"] else "; no gaps"))
    lines.append(f"  {result.candles:,} candles in {result.wall_s:.2f} s ({result.candles_per_s:,.0f} candles/s; "
                 f"{result.candles_processed:,} went through the engine)")
    lines.append(f"  equity {result.starting_equity:,.2f} → {result.final_equity:,.2f} USDT"
                 + (f"; buy-and-hold {result.buy_and_hold_return_pct:.2f} %" if result.buy_and_hold_return_pct is not None else ""))
    if result.halt:
        lines.append(f"  {result.halt} — no entry after it (resume is an operator's decision, none in a backtest)")
    lines.append("")
    lines.append("Metrics")
    for key, value in result.metrics.items():
        lines.append(f"  {key:<28} {_fmt(value)}")
    for title, groups in (("By symbol", result.by_symbol), ("By exit reason", result.by_exit_reason)):
        lines.append("")
        lines.append(title)
        for name, m in groups.items():
            win_rate = m.get("win_rate")
            lines.append(f"  {name:<20} trades {m.get('trades', 0):>5}  net P&L {_fmt(m.get('total_pnl')):>12}  "
                         f"fees {_fmt(m.get('total_fees')):>10}  win rate "
                         + (f"{win_rate * 100:.1f} %" if win_rate is not None else "—"))
    return "\n".join(lines)


def run_backtest_cli(args: argparse.Namespace) -> int:
    environ = {k: v for k, v in os.environ.items() if k.startswith("TB_")}
    probe = load_settings(args.config, environ=environ)
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    tables = load_tables(Path(args.data), symbols, probe.bot.timeframe, date_from=args.date_from, date_to=args.date_to)
    environ["TB_BOT__SYMBOLS"] = "[" + ", ".join(tables) + "]"
    if args.strategy:
        environ["TB_STRATEGY__ENABLED"] = "[" + args.strategy + "]"
    settings = load_settings(args.config, environ=environ)
    total = sum(len(t) for t in tables.values())
    bar = None
    if not args.json and total >= PROGRESS_FROM_CANDLES and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="candle", unit_scale=True, file=sys.stderr, leave=False)

    def progress(done: int, of: int) -> None:
        if bar is not None:
            bar.total = of
            bar.n = done
            bar.refresh()

    result = Backtest(settings, tables, warmup=args.warmup, progress=progress).run()
    if bar is not None:
        bar.close()
    if args.report:
        write_report(Path(args.report), result, tables)
    if args.json:
        print(json.dumps(result_json(result)))
    else:
        print(result_text(result))
        if args.report:
            print(f"\nreport: {args.report}")
    return 0


def write_report(path: Path, result: BacktestResult, tables) -> None:
    from analytics.report import write_backtest_report

    metrics = {**result.metrics, "by symbol": result.by_symbol, "by exit reason": result.by_exit_reason}
    write_backtest_report(path, trades=result.trades, equity_curve=result.equity_curve, candles_by_symbol=tables,
                          metrics=metrics, parameters=result.parameters, stops=result.stops,
                          title=f"Backtest: {', '.join(result.parameters['strategies'])} on {', '.join(result.parameters['symbols'])}")
