"""Acceptance replay (issue 12): every kline file through the REAL bot, in ghost and in paper mode.

    python -m benchmarks.acceptance_replay [--modes ghost,paper] [--rows N] [--outage-minutes M] [--out FILE]

For each mode a real `main.py bot --mode MODE` process (tests/integration/processes.py BotFleet), in a Redis of
its own (embedded, AOF everysec), replays ../shared/data/klines (BTC, ETH, SOL; market_data.source replay,
speed 0, no loop) with config.yaml's settings (default strategies, exits, limits, fees, slippage, funding)
until the state hash says data_exhausted=1; then a kill switch (close-all) flattens what is still open, so
every position the run took is a closed trade, and the bot is stopped gracefully. Then it checks:

- every fill inside its candle's range widened by the slippage model, [low × (1 − bps/10⁴), high × (1 +
  bps/10⁴)]: the entry on the candle that closed at `entry_ms`, the exit (or the mean of its exit fills) on
  the candle that closed at `exit_ms`; exits of the closing kill switch are checked on the last candle;
- every trade's P&L = gross − fees − funding, exactly;
- the sum of the trades = the wallet's change (wallet now − starting balance), exactly;
- no crash: the bot ran to the end, stopped with exit code 0, no traceback in its log, no `error` line
  in its decision log;
- the gaps reported (gaps stream, state's data_gaps) = the gaps in the files (marketdata.gaps.find_gaps).
  The shared files have none; `--outage-minutes M` cuts M minutes out of the middle of the BTC file (a
  copy) to show an outage is reported with its times.

The figures (trades, fills checked, max deviation outside the raw range in bps, wall time) are printed as
a table and, with --out, written to FILE. Exit status 0 when every check holds. Every process it starts is
ended before it returns.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from control.client import send_command, wait_result
from embedded_redis import free_port, start_embedded_redis
from marketdata.csvfile import read_candles
from marketdata.gaps import find_gaps
from models import Book, CommandStatus, CommandType, Mode, Trade
from settings import load_settings
from state import StateStore, connect
from tests.integration.processes import FAST_ENV, BotFleet, wait_for

ROOT = Path(__file__).resolve().parents[1]
KLINES = ROOT.parent / "shared" / "data" / "klines"
FILES = {
    "BTC/USDT:USDT": "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    "ETH/USDT:USDT": "binance_usdm_ETHUSDT_1m_2025-05-04_2025-06-15.csv",
    "SOL/USDT:USDT": "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}
TF_MS = 60_000
KEPT_FROM_FAST = {"TB_BOT__HEARTBEAT_SECONDS"}  # the rest of the test helpers' fast settings go: config.yaml's


@dataclass
class Candles:
    """One file's rows as numbers, for range checks: open times, lows, highs."""

    ts: np.ndarray
    low: list[Decimal]
    high: list[Decimal]

    def at_close(self, close_ms: int) -> int | None:
        i = int(np.searchsorted(self.ts, close_ms - TF_MS))
        return i if i < len(self.ts) and int(self.ts[i]) == close_ms - TF_MS else None


@dataclass
class Result:
    mode: str
    trades: int = 0
    fills_checked: int = 0
    fills_outside: list[str] = field(default_factory=list)
    max_deviation_bps: Decimal = Decimal(0)  # beyond the raw [low, high], in bps of the bound
    pnl_mismatches: list[str] = field(default_factory=list)
    sum_pnl: Decimal = Decimal(0)
    wallet_change: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    candles: int = 0
    wall_s: float = 0.0
    exit_code: int | None = None
    crash: list[str] = field(default_factory=list)
    gaps_expected: list[tuple] = field(default_factory=list)
    gaps_reported: list[tuple] = field(default_factory=list)
    data_gaps_state: int = 0
    halted: str = ""  # a halt in force when the data ended (a loss limit stops the bot as it stops a backtest)

    @property
    def ok(self) -> bool:
        return (not self.fills_outside and not self.pnl_mismatches and self.sum_pnl == self.wallet_change
                and not self.crash and self.gaps_expected == self.gaps_reported
                and self.data_gaps_state == len(self.gaps_expected) and self.trades > 0)


def write_data(data: Path, rows: int | None, outage_minutes: int) -> dict[str, Path]:
    data.mkdir(parents=True, exist_ok=True)
    paths = {}
    for symbol, name in FILES.items():
        lines = (KLINES / name).read_text().splitlines()
        body = lines[1:] if rows is None else lines[1:rows + 1]
        if outage_minutes and symbol.startswith("BTC"):
            middle = len(body) // 2
            body = body[:middle] + body[middle + outage_minutes:]
        (data / name).write_text("\n".join([lines[0], *body]) + "\n")
        paths[symbol] = data / name
    return paths


def load_candles(paths: dict[str, Path]) -> dict[str, Candles]:
    out = {}
    for symbol, path in paths.items():
        table = read_candles(path)
        out[symbol] = Candles(np.asarray(table.ts, dtype=np.int64), [Decimal(x) for x in table.low],
                              [Decimal(x) for x in table.high])
    return out


def check_fill(result: Result, candles: Candles, symbol: str, what: str, price: Decimal, close_ms: int,
               bps: Decimal) -> None:
    i = candles.at_close(close_ms)
    if i is None:  # a kill switch after the data's end fills on the venue's last candle
        i = len(candles.ts) - 1 if close_ms > int(candles.ts[-1]) else None
    if i is None:
        result.fills_outside.append(f"{symbol} {what} {price}: no candle closes at {close_ms}")
        return
    low, high = candles.low[i], candles.high[i]
    result.fills_checked += 1
    if price < low:
        result.max_deviation_bps = max(result.max_deviation_bps, (low - price) / low * 10_000)
    elif price > high:
        result.max_deviation_bps = max(result.max_deviation_bps, (price - high) / high * 10_000)
    if not low * (1 - bps / 10_000) <= price <= high * (1 + bps / 10_000):
        result.fills_outside.append(f"{symbol} {what} {price} outside [{low}, {high}] ± {bps} bps at {close_ms}")


def check_trades(result: Result, trades: list[Trade], candles: dict[str, Candles], bps: Decimal) -> None:
    result.trades = len(trades)
    for t in trades:
        check_fill(result, candles[t.symbol], t.symbol, f"entry of {t.trade_id}", t.entry_price, t.entry_ms, bps)
        if t.exit_reason.value != "liquidation":  # a liquidation fills at its liquidation price, by design
            check_fill(result, candles[t.symbol], t.symbol, f"exit of {t.trade_id}", t.exit_price, t.exit_ms, bps)
        if t.pnl != t.gross_pnl - t.fees - t.funding:
            result.pnl_mismatches.append(f"{t.trade_id}: pnl {t.pnl} != {t.gross_pnl} - {t.fees} - {t.funding}")
        result.sum_pnl += t.pnl
        result.funding += t.funding
        result.fees += t.fees


def run_mode(mode: str, redis_url: str, paths: dict[str, Path], tmp: Path, timeout_s: float) -> Result:
    result = Result(mode)
    store = StateStore(connect(redis_url), "acc" + uuid.uuid4().hex[:8])
    env = {
        "TB_BOT__SYMBOLS": "[" + ", ".join(FILES) + "]",
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": "{" + ", ".join(f"{s}: {p}" for s, p in paths.items()) + "}",
        "TB_MARKET_DATA__REPLAY__SPEED": "0",
        "TB_MARKET_DATA__REPLAY__LOOP": "false",
        "TB_REDIS__RUN_MARKER_DIR": str(tmp / f"run-{mode}"),
    }
    fleet = BotFleet(store, redis_url, tmp, **env)
    for key in set(FAST_ENV) - KEPT_FROM_FAST - set(env):
        fleet.env.pop(key, None)
    settings = load_settings(None, {**fleet.env})
    launched = time.monotonic()
    bot = None
    try:
        bot = fleet.start_bot(mode)
        wait_for(lambda: store.read_state().get("data_exhausted") == "1" or not bot.alive(), timeout_s,
                 f"the {mode} replay's end", interval_s=0.2, on_timeout=fleet.logs)
        halt = store.read_halt()
        result.halted = f"{halt.cause.value}: {halt.reason}" if halt else ""
        if bot.alive():
            closed = wait_result(store, send_command(store, CommandType.CLOSE_ALL, issued_by="acceptance").command_id, 60)
            if closed is None or closed.status is not CommandStatus.DONE:
                result.crash.append(f"close-all at the end: {closed}")
        result.wall_s = time.monotonic() - launched
        bot.stop(grace_s=30)
        result.exit_code = bot.process.returncode
        summary = store.read_state().get("last_summary")
        result.candles = json.loads(summary)["candles"] if summary else 0
    finally:
        fleet.cleanup()
    log = bot.log_path.read_text(errors="replace") if bot is not None else ""
    if result.exit_code != 0:
        result.crash.append(f"exit code {result.exit_code}")
    if "Traceback" in log:
        result.crash.append("a traceback in the bot's log:\n" + log[log.index("Traceback"):][:2000])
    result.crash += [f"error line: {e.message}" for e in store.read_audit(20_000, kinds=["error"])]
    book = Book.of(Mode(mode), settings.venue.paper_venue)
    trades = store.read_trades(100_000, book=book)
    check_trades(result, trades, load_candles(paths), settings.venue.slippage.fixed_bps)
    account = store.read_account()
    result.wallet_change = (account.wallet_balance if account else settings.venue.starting_balance) - settings.venue.starting_balance
    if store.read_positions():
        result.crash.append(f"positions left open after the kill switch: {store.read_positions()}")
    for symbol, path in paths.items():
        result.gaps_expected += [(symbol, g.from_ms, g.to_ms, g.missing) for g in find_gaps(read_candles(path), TF_MS)]
    result.gaps_reported = [(g["symbol"], int(g["from_ms"]), int(g["to_ms"]), int(g["missing"])) for g in store.read_gaps(1000)]
    result.gaps_expected.sort()
    result.gaps_reported.sort()
    result.data_gaps_state = int(store.read_state().get("data_gaps") or 0)
    store.wipe()
    return result


def report(results: list[Result], rows: int | None, outage: int) -> str:
    scope = "every row" if rows is None else f"the first {rows} rows"
    lines = [
        f"Acceptance replay: {scope} of {', '.join(FILES.values())} through `main.py bot` at speed 0, config.yaml's "
        "settings (fees, 2 bps slippage, funding), a kill switch at the end"
        + (f"; {outage} minutes cut out of the BTC file's middle" if outage else "") + ".",
        "",
        "| mode | candles | trades | fills checked | outside range ± slippage | max beyond raw range | "
        "pnl ≠ gross − fees − funding | Σ pnl | wallet change | fees | funding | gaps (files / reported) | "
        "crash | wall s | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.candles} | {r.trades} | {r.fills_checked} | {len(r.fills_outside)} | "
            f"{r.max_deviation_bps:.3f} bps | {len(r.pnl_mismatches)} | {r.sum_pnl:.8f} | {r.wallet_change:.8f} | "
            f"{r.fees:.4f} | {r.funding:.4f} | {len(r.gaps_expected)} / {len(r.gaps_reported)} (state {r.data_gaps_state}) | "
            f"{'yes' if r.crash else 'no'} | {r.wall_s:.0f} | {'yes' if r.ok else 'NO'} |")
    for r in results:
        for problem in (r.fills_outside[:10] + r.pnl_mismatches[:10] + r.crash[:10]):
            lines.append(f"- {r.mode}: {problem}")
        for gap in r.gaps_reported:
            lines.append(f"- {r.mode}: gap reported {gap}")
        if r.halted:
            lines.append(f"- {r.mode}: HALTED when the data ended ({r.halted})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.acceptance_replay")
    parser.add_argument("--modes", default="ghost,paper")
    parser.add_argument("--rows", type=int, default=None, help="only the first N rows of each file (a quick run)")
    parser.add_argument("--outage-minutes", type=int, default=0, help="cut this many minutes from the BTC file's middle")
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not KLINES.is_dir():
        print(f"no kline files at {KLINES}", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="acceptance-") as tmp_name:
        tmp = Path(tmp_name)
        paths = write_data(tmp / "data", args.rows, args.outage_minutes)
        redis = start_embedded_redis(free_port(), tmp / "redis", persist=True)
        try:
            for mode in args.modes.split(","):
                results.append(run_mode(mode.strip(), redis.url, paths, tmp, args.timeout_s))
                print(report(results[-1:], args.rows, args.outage_minutes), flush=True)
        finally:
            redis.stop()
    text = report(results, args.rows, args.outage_minutes)
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
