"""Live form: one tick over many symbols through the engine the bot builds (`python -m benchmarks.live_tick`).

    python -m benchmarks.live_tick [--symbols 100] [--ticks 200] [--warmup-ticks 20] [--out benchmarks/live_tick.md]

The engine is `bot.assembly.assemble` in paper mode on the simulated venue, with the default strategies
(config.yaml), fed by the synthetic market (marketdata/synthetic.py), once on the bot's own store (a real
Redis: embedded_redis on a free port, AOF everysec as in production, and state.StateStore) and once on the
in-memory store (memory_store.InMemoryStore, what a backtest uses) for comparison. It is warmed up as the
bot does (executor and scorer load, back-fill through `engine.warm_up`, reconcile); then one tick is one
new closed candle for every symbol through `engine.process(candles)`, what the bot's loop does per poll.
The synthetic source runs on a simulated clock moved one candle on per tick, so the feed itself costs only
the candle generation, which is counted (the bot's poll does the same work) but shown apart.

The simulator's built-in table (simulator/symbols.py) has rules for 20 symbols; the other symbols of a
100-symbol run are BTC's rules and start price under new names (SYM021/USDT:USDT ...), added here, in
this process only. Limits stay at the defaults, so entries stop at risk.max_open_positions open positions
while the strategies keep signalling on every symbol.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import pstats
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.__main__ import START_PRICES
from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from embedded_redis import free_port, start_embedded_redis
from marketdata.synthetic import SyntheticSource
from memory_store import InMemoryStore
from models import Mode
from settings import load_settings
from simulator import symbols as sim_symbols
from state import StateStore, connect

ROOT = Path(__file__).resolve().parents[1]
BASE_SYMBOL = "BTC/USDT:USDT"


def symbol_names(count: int) -> list[str]:
    names = list(START_PRICES)[:count]
    return names + [f"SYM{i:03d}/USDT:USDT" for i in range(len(names) + 1, count + 1)]


def give_extra_symbols_rules(names: list[str]) -> None:
    """BTC's filters under each new name, in this process's built-in table only."""
    btc = sim_symbols.BUILTIN_RULES[BASE_SYMBOL]
    for name in names:
        if name not in sim_symbols.BUILTIN_RULES:
            sim_symbols.BUILTIN_RULES[name] = dataclasses.replace(
                btc, symbol=name, exchange_id=name.split("/")[0] + "USDT")


def settings_for(names: list[str]):
    prices = {s: START_PRICES.get(s, START_PRICES[BASE_SYMBOL]) for s in names}
    environ = {
        "TB_BOT__MODE": "paper",
        "TB_BOT__SYMBOLS": "[" + ", ".join(names) + "]",
        "TB_MARKET_DATA__SOURCE": "synthetic",
        "TB_MARKET_DATA__SYNTHETIC__START_PRICES": "{" + ", ".join(f"{s}: {p}" for s, p in prices.items()) + "}",
    }
    return load_settings(None, environ)


class Rig:
    """The engine, its store and the synthetic feed, warmed up as BotRuntime.start does."""

    def __init__(self, settings, store):
        self.settings = settings
        self.store = store
        self.feed_clock = SimulatedClock(1_780_000_000_000)
        self.source = SyntheticSource.from_settings(settings, self.feed_clock)
        self.market_clock = SimulatedClock(0)
        parts = assemble(settings, store, Mode.PAPER, market_clock=self.market_clock, wall_clock=SystemClock())
        self.engine, self.executor, self.scorer = parts.engine, parts.executor, parts.scorer
        self.executor.load()
        self.scorer.load()
        self.engine.warm_up(self.source.backfill(settings.market_data.backfill_candles))
        with self.engine.lock:
            self.executor.reconcile()
            self.engine._record(self.executor.take_unreported_trades())
        self.engine.publish()
        self._candle_ms = int(settings.market_data.synthetic.candle_seconds * 1000)

    def next_candles(self) -> list:
        self.feed_clock.advance(self._candle_ms)
        return self.source.poll()

    def tick(self) -> tuple[float, float, int]:
        """(feed ms, engine ms, candles) for one poll's worth of candles through the engine."""
        t0 = time.perf_counter()
        candles = self.next_candles()
        t1 = time.perf_counter()
        self.engine.process(candles)
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000, len(candles)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(rig: Rig, ticks: int, warmup_ticks: int) -> dict:
    for _ in range(warmup_ticks):  # first ticks build caches (blocks of the synthetic path, indicator state)
        rig.tick()
    feed, engine, candles = [], [], 0
    for _ in range(ticks):
        f, e, n = rig.tick()
        feed.append(f)
        engine.append(e)
        candles += n
    stats = rig.engine.stats
    return {
        "median": statistics.median(engine), "p90": pct(engine, 0.9), "p99": pct(engine, 0.99), "max": max(engine),
        "feed_median": statistics.median(feed), "candles_per_tick": candles / ticks,
        "signals": stats.signals, "entries": stats.entries, "trades": stats.trades,
    }


def profile(rig: Rig, ticks: int, top: int = 25) -> str:
    profiler = cProfile.Profile()
    candles = [rig.next_candles() for _ in range(ticks)]
    profiler.enable()
    for batch in candles:
        rig.engine.process(batch)
    profiler.disable()
    out = io.StringIO()
    # the project's own functions only: redis-py's frames under every store call would fill the list
    own = re.escape(str(ROOT)) + "/(?!\\.venv)"
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(own, top)
    # (file, line, name) -> (calls, primitive calls, own s, cumulative s, callers): not in typeshed
    rows = vars(stats)["stats"]
    total = sum(row[2] for row in rows.values())
    socket_s = sum(row[2] for (_, _, name), row in rows.items() if "_socket.socket" in name)
    out.write(f"socket send/recv to Redis: {socket_s:.2f} s of {total:.2f} s profiled ({socket_s / total:.0%})\n")
    return out.getvalue()


def redis_calls(client) -> dict[str, int]:
    """Commands the server executed so far, by command (its own count, INFO commandstats), INFO excluded."""
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items() if k != "cmdstat_info"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live_tick")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--warmup-ticks", type=int, default=20)
    parser.add_argument("--profile-ticks", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    names = symbol_names(args.symbols)
    give_extra_symbols_rules(names)
    settings = settings_for(names)
    results: dict[str, dict] = {}
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="live-tick-") as tmp:
        redis = start_embedded_redis(free_port(), Path(tmp) / "redis", persist=True)
        try:
            store = StateStore(connect(redis.url), "lt" + uuid.uuid4().hex[:8])
            started = time.perf_counter()
            rig = Rig(settings, store)
            print(f"redis: warmed up in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            before = redis_calls(store.client)
            results["Redis (StateStore, AOF everysec)"] = run(rig, args.ticks, args.warmup_ticks)
            after = redis_calls(store.client)
            calls = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
            per_tick = sum(calls.values()) / (args.ticks + args.warmup_ticks)
            snapshot = store.client.hget(store.key(f"venue:{settings.venue.paper_venue}"), "data") or ""
            profiles["redis"] = profile(rig, args.profile_ticks)
        finally:
            redis.stop()
    rig = Rig(settings, InMemoryStore("live-tick"))
    results["in memory (InMemoryStore)"] = run(rig, args.ticks, args.warmup_ticks)
    profiles["memory"] = profile(rig, args.profile_ticks)

    lines = [
        f"One tick = one closed 1m candle for each of {args.symbols} symbols through `engine.process` "
        f"({args.ticks} ticks timed after {args.warmup_ticks} untimed; default strategies, paper mode, simulated venue).",
        "",
        "| store | median | p90 | p99 | max | candles/tick | signals | entries | trades | feed (median) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['median']:.1f} ms | {r['p90']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | "
            f"{r['candles_per_tick']:.1f} | {r['signals']} | {r['entries']} | {r['trades']} | {r['feed_median']:.1f} ms |")
    lines += ["", f"Redis commands per tick (INFO commandstats): {per_tick:.0f} "
              f"({per_tick / results['Redis (StateStore, AOF everysec)']['candles_per_tick']:.1f} per candle): "
              + ", ".join(f"{k} {n / (args.ticks + args.warmup_ticks):.0f}"
                          for k, n in sorted(calls.items(), key=lambda kv: -kv[1])[:8])
              + f". The simulated venue's snapshot, rewritten whole at every candle: {len(snapshot)} bytes."]
    report = "\n".join(lines)
    print(report)
    for name, text in profiles.items():
        print(f"\n--- cProfile, {args.profile_ticks} ticks, {name} store (cumulative) ---\n{text}")
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
