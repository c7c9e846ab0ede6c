"""Backtest speed and memory, and the same rules in backtrader and nautilus_trader (`make bench-backtest`).

    python -m benchmarks.backtest [--repeat 3] [--no-peers] [--out benchmarks/backtest_results.md]

1. Our engine (`bot.backtest.Backtest`, in process, best of `repeat`): candles per second on one core,
   for 1 and 3 symbols of ../shared/data/klines, on the comparison rules (configs/ema_cross.yaml,
   `--warmup 0`) and on the default strategies.
2. The peers on the comparison rules, each from its own bench-only virtualenv (benchmarks/compare,
   `setup_venvs.sh` installs them under var/bench-venvs): wall time of the engine's own run, trades,
   final equity, and whether each agrees with ours and with the numpy arbiter to the cent.
3. Peak RSS of a 3-symbol backtest over all the shared candles (`main.py backtest` as a child process).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from bot.backtest import Backtest, BacktestResult, load_tables
from settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
KLINES = ROOT.parent / "shared" / "data" / "klines"
FILES = {
    "BTC/USDT:USDT": "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    "ETH/USDT:USDT": "binance_usdm_ETHUSDT_1m_2025-05-04_2025-06-15.csv",
    "SOL/USDT:USDT": "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}
EMA_CONFIG = ROOT / "configs" / "ema_cross.yaml"


def ours(symbols: list[str], config: Path | None, warmup: int | None, repeat: int) -> BacktestResult:
    settings = load_settings(config, environ={"TB_BOT__SYMBOLS": "[" + ", ".join(symbols) + "]"})
    best: BacktestResult | None = None
    for _ in range(repeat):
        tables = {s: load_tables(KLINES / FILES[s], [s], settings.bot.timeframe)[s] for s in symbols}
        result = Backtest(settings, tables, warmup=warmup).run()
        if best is None or result.wall_s < best.wall_s:
            best = result
    assert best is not None
    return best


# A child forked from this (large) process starts with this process's pages counted in its peak RSS, so
# the backtest is started by a small launcher process and its peak read there (os.wait4's rusage).
_LAUNCH = ("import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
           "_, status, usage = os.wait4(child.pid, 0); print(usage.ru_maxrss); sys.exit(os.waitstatus_to_exitcode(status))")


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS (MB) and wall time of `main.py backtest` over all shared candles, 3 symbols, defaults."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCH, sys.executable, str(ROOT / "main.py"), "backtest", "--data",
                           str(KLINES), "--json"],
                          cwd=ROOT, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if not k.startswith("TB_")})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"backtest failed: {done.stderr.strip()}")
    return int(done.stdout.split()[-1]) / 1024, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backtest")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="skip backtrader and nautilus_trader")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "backtest_results.md")
    args = parser.parse_args(argv)
    if not KLINES.is_dir():
        print(f"no candles at {KLINES} (../shared/data is absent)", file=sys.stderr)
        return 2

    lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
             f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; best of {args.repeat}.", "",
             "| rules | symbols | candles | through the engine | trades | final equity | wall s | candles/s |",
             "|---|---|---|---|---|---|---|---|"]
    runs = {}
    for rules, config, warmup in (("comparison (ema_cross)", EMA_CONFIG, 0), ("default strategies", None, None)):
        for symbols in (["BTC/USDT:USDT"], list(FILES)):
            r = ours(symbols, config, warmup, args.repeat)
            runs[(rules, len(symbols))] = r
            lines.append(f"| {rules} | {len(symbols)} | {r.candles:,} | {r.candles_processed:,} | {len(r.trades):,} | "
                         f"{r.final_equity:,.2f} | {r.wall_s:.3f} | {r.candles_per_s:,.0f} |")
            print(lines[-1], file=sys.stderr)

    rss, rss_wall = peak_rss_mb()
    lines += ["", f"Peak RSS of `main.py backtest --data ../shared/data/klines` (3 symbols, 146,590 candles, default "
              f"strategies): **{rss:.0f} MB** (target < 200 MB), {rss_wall:.1f} s with start-up."]

    if not args.no_peers:
        sys.path.insert(0, str(ROOT / "benchmarks" / "compare"))
        from benchmarks.compare.run import collect

        lines += ["", "Same rules, same candles, one symbol per run (the engine's own run time; backtrader and "
                  "nautilus_trader from their bench-only venvs):", "",
                  "| symbol | engine | trades | final equity | wall s | ours is × faster | same trades and equity as ours |",
                  "|---|---|---|---|---|---|---|"]
        for symbol, name in FILES.items():
            mine = ours([symbol], EMA_CONFIG, 0, args.repeat)
            lines.append(f"| {symbol} | this bot | {len(mine.trades)} | {mine.final_equity:.2f} | {mine.wall_s:.3f} | | |")
            for record in collect([str(KLINES / name)], ["backtrader", "nautilus_trader"], args.repeat):
                if record["engine"].startswith("arbiter"):
                    continue
                same = (record["round_trips"] == len(mine.trades)
                        and Decimal(record["final_equity"]).quantize(Decimal("0.01")) == mine.final_equity.quantize(Decimal("0.01")))
                ratio = float(record["wall_s"]) / mine.wall_s
                lines.append(f"| {symbol} | {record['engine']} {record.get('version', '')} | {record['round_trips']} | "
                             f"{Decimal(record['final_equity']):.2f} | {float(record['wall_s']):.3f} | {ratio:.1f}× | "
                             f"{'yes' if same else 'NO'} |")
                print(lines[-1], file=sys.stderr)
    text = "\n".join(lines)
    print(text)
    args.out.write_text("# Backtest benchmarks\n\n`python -m benchmarks.backtest`\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
