"""What one candle costs each strategy, on real candles (../shared/data/klines): the streaming form the
engine uses now against `latest_signal` over the engine's candle window (what it did before), and
`generate` once over the whole file (a backtest's way).

    python -m benchmarks.strategies [--file PATH] [--latest-candles 300] [--repeats 3] [--out PATH]

Streaming is timed over every candle of the file after the strategy's warm-up (`update`, Signal
included), best of `--repeats`; `latest_signal` over `--latest-candles` consecutive candles, each on the
window of the candles before it, sized as bot.assembly.assemble sizes it. No Redis, no processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from decimal import Decimal
from pathlib import Path

from engine.strategies import build_strategies, candles_to_frame
from marketdata.csvfile import read_candles
from models import Candle
from bot.assembly import engine_window_size
from settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "klines" / "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"


def load(path: Path) -> list[Candle]:
    table = read_candles(path)
    symbol = path.name.split("_")[2].removesuffix("USDT") + "/USDT:USDT"
    return [
        Candle(symbol, "1m", int(table.ts[i]), Decimal(table.open[i]), Decimal(table.high[i]), Decimal(table.low[i]),
               Decimal(table.close[i]), Decimal(table.volume[i]))
        for i in range(len(table))
    ]


def streaming_us(strategy, candles: list[Candle], repeats: int) -> tuple[float, int]:
    """Microseconds per candle of `update` after the warm-up, best of `repeats`; and the signals it gave."""
    best, signals = float("inf"), 0
    warm = strategy.warmup
    for _ in range(repeats):
        stream = strategy.stream(candles[0].symbol, "1m")
        for c in candles[:warm]:
            stream.warm(c)
        live = candles[warm:]
        started = time.perf_counter()
        got = [stream.update(c) for c in live]
        best = min(best, (time.perf_counter() - started) / len(live) * 1e6)
        signals = sum(s is not None for s in got)
    return best, signals


def latest_signal_us(strategy, candles: list[Candle], window: int, count: int) -> float:
    """Microseconds per candle of `latest_signal` over the `window` candles up to each of `count` candles."""
    start = window
    started = time.perf_counter()
    for i in range(start, start + count):
        strategy.latest_signal(candles[0].symbol, "1m", candles[i - window + 1 : i + 1])
    return (time.perf_counter() - started) / count * 1e6


def generate_ms(strategy, candles: list[Candle], repeats: int) -> float:
    frame = candles_to_frame(candles)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        strategy.generate(frame)
        best = min(best, time.perf_counter() - started)
    return best * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.strategies", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="a kline CSV (default: the BTC month)")
    parser.add_argument("--latest-candles", type=int, default=300, help="candles timed with latest_signal (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"candle file not found: {args.file} (../shared/data is absent?)", file=sys.stderr)
        return 2

    settings = load_settings(environ={})
    s = settings
    strategies = build_strategies(s.strategy)
    window = engine_window_size(s, strategies)
    candles = load(args.file)
    if len(candles) < window + args.latest_candles:
        print(f"{args.file}: {len(candles)} candles, need at least {window + args.latest_candles}", file=sys.stderr)
        return 2

    lines = [
        f"Strategy cost per candle on {args.file.name} ({len(candles)} candles), engine window {window} candles.",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
        f"{platform.machine()}, load average {os.getloadavg()[0]:.1f}.",
        "",
        "| strategy | streaming µs/candle | latest_signal µs/candle | speed-up | generate, whole file ms | signals |",
        "|---|---|---|---|---|---|",
    ]
    total_stream = total_latest = 0.0
    for strategy in strategies:
        stream, signals = streaming_us(strategy, candles, args.repeats)
        latest = latest_signal_us(strategy, candles, window, args.latest_candles)
        whole = generate_ms(strategy, candles, args.repeats)
        total_stream += stream
        total_latest += latest
        lines.append(f"| {strategy.name} | {stream:.1f} | {latest:.0f} | {latest / stream:.0f}x | {whole:.1f} | {signals} |")
    lines.append(f"| all three | {total_stream:.1f} | {total_latest:.0f} | {total_latest / total_stream:.0f}x | | |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
