"""Live form: one tick over many symbols through the engine the bot builds (`python -m benchmarks.live_tick`).

    python -m benchmarks.live_tick [--symbols 100] [--ticks 200] [--warmup-ticks 20] [--profile-ticks 50 (0: none)]
                                   [--redis-only] [--out benchmarks/live_tick.md]

The engine is `bot.assembly.assemble` in paper mode on the simulated venue, with the default strategies
(config.yaml), fed by the synthetic market (marketdata/synthetic.py), once on the bot's own store (a real
Redis: embedded_redis on a free port, AOF everysec as in production, and state.StateStore) and once on the
in-memory store (memory_store.InMemoryStore, what a backtest uses) for comparison. It is warmed up as the
bot does (executor and scorer load, back-fill through `engine.warm_up`, reconcile, `freeze_warm_heap`);
then one tick is one new closed candle for every symbol through `engine.process(candles)`, what the bot's
loop does per poll.
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
import gc
import io
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis.connection

from benchmarks.__main__ import START_PRICES
from bot.assembly import assemble
from bot.runtime import collect_between_ticks, freeze_warm_heap
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
        freeze_warm_heap()
        self._candle_ms = int(settings.market_data.synthetic.candle_seconds * 1000)
        self._turns = 0

    def next_candles(self) -> list:
        self.feed_clock.advance(self._candle_ms)
        return self.source.poll()

    def tick(self) -> tuple[float, float, float, int]:
        """(feed ms, engine ms, engine CPU ms of this process, candles) for one poll's worth of candles."""
        t0 = time.perf_counter()
        candles = self.next_candles()
        t1, c1 = time.perf_counter(), time.process_time()
        self.engine.process(candles)
        t2, c2 = time.perf_counter(), time.process_time()
        return (t1 - t0) * 1000, (t2 - t1) * 1000, (c2 - c1) * 1000, len(candles)

    def between_ticks(self) -> None:
        """What the bot's loop does after a tick, before it waits for the next poll (not timed: no signal waits)."""
        collect_between_ticks(self._turns)
        self._turns += 1


class RoundTrips:
    """Requests the bot's Redis client sent (a pipeline or MULTI/EXEC is one) and their bytes: counted, not
    changed."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self._original = redis.connection.AbstractConnection.send_packed_command

    def __enter__(self) -> "RoundTrips":
        original = self._original

        def counted(conn, command, check_health=True):
            self.count += 1
            self.bytes += sum(map(len, command)) if isinstance(command, list) else len(command)
            return original(conn, command, check_health)

        setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
        return self

    def __exit__(self, *exc) -> None:
        setattr(redis.connection.AbstractConnection, "send_packed_command", self._original)


class GcPauses:
    """The collector's pauses inside the timed ticks (gc.callbacks): how many, by generation, and how long."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0
        self.between_ticks = False  # the loop's own collections after a tick are not in one

    def __call__(self, phase: str, info: dict) -> None:
        if self.between_ticks:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], (time.perf_counter() - self._started) * 1000))

    def __enter__(self) -> "GcPauses":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> str:
        if not self.pauses:
            return "none"
        by_gen = {g: [ms for gen, ms in self.pauses if gen == g] for g in sorted({g for g, _ in self.pauses})}
        return ", ".join(f"gen{g} {len(ms)}× (max {max(ms):.1f} ms, total {sum(ms):.0f} ms)" for g, ms in by_gen.items())


def venue_orders(rig: Rig) -> int:
    """Orders the simulated venue has been sent so far (its order ids are numbered)."""
    return rig.executor.venue.exchange._next_id


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclasses.dataclass
class TickRecord:
    """One timed tick, for the breakdown of the slowest: where its wall time went."""

    n: int
    wall_ms: float
    cpu_ms: float  # this process's CPU (time.process_time)
    round_trips: int
    sent_kb: float
    gc_ms: float  # the collector's pauses inside it
    orders: int  # orders the venue was sent in it
    entries: int
    trades: int

    def line(self) -> str:
        return (f"tick {self.n:3d}: {self.wall_ms:6.1f} ms wall, {self.cpu_ms:5.1f} ms CPU, {self.round_trips:2d} round trips "
                f"({self.sent_kb:5.0f} kB sent), GC {self.gc_ms:4.1f} ms, {self.orders} venue orders "
                f"({self.entries} entries, {self.trades} trades)")


def run(rig: Rig, ticks: int, warmup_ticks: int) -> dict:
    for _ in range(warmup_ticks):  # first ticks build caches (blocks of the synthetic path, indicator state)
        rig.tick()
        rig.between_ticks()
    feed, engine, cpu, candles = [], [], [], 0
    records: list[TickRecord] = []
    with GcPauses() as pauses, RoundTrips() as trips:
        for n in range(ticks):
            stats = rig.engine.stats
            before = (stats.entries, stats.trades, venue_orders(rig), trips.count, trips.bytes, len(pauses.pauses))
            f, e, c, candles_in = rig.tick()
            feed.append(f)
            engine.append(e)
            cpu.append(c)
            candles += candles_in
            records.append(TickRecord(
                n, e, c, trips.count - before[3], (trips.bytes - before[4]) / 1024,
                sum(ms for _, ms in pauses.pauses[before[5]:]), venue_orders(rig) - before[2],
                stats.entries - before[0], stats.trades - before[1]))
            pauses.between_ticks = True
            rig.between_ticks()
            pauses.between_ticks = False
    stats = rig.engine.stats
    return summary(records, feed, candles, {
        "gc": pauses.summary(), "round_trips": trips.count / ticks, "sent_kb": trips.bytes / 1024 / ticks,
        "signals": stats.signals, "entries": stats.entries, "trades": stats.trades})


def per_tick_minimum(runs: list[dict]) -> dict:
    """Runs of the same seeded ticks as one: each tick's least wall and CPU time over the runs (what the load
    of a shared machine added to a tick in one run, it seldom adds in every run); the rest from the first."""
    first = runs[0]
    records = [dataclasses.replace(r, wall_ms=min(x.wall_ms for x in same), cpu_ms=min(x.cpu_ms for x in same))
               for r, same in zip(first["records"], zip(*(run["records"] for run in runs)))]
    feed = [min(same) for same in zip(*(run["feed"] for run in runs))]
    gc_pauses = "; ".join(f"run {n + 1}: {run['gc']}" for n, run in enumerate(runs))
    return summary(records, feed, first["candles"], {**{k: first[k] for k in ("round_trips", "sent_kb", "signals",
                                                                             "entries", "trades")}, "gc": gc_pauses})


def summary(records: list[TickRecord], feed: list[float], candles: int, extra: dict) -> dict:
    engine, cpu, ticks = [r.wall_ms for r in records], [r.cpu_ms for r in records], len(records)
    # ticks without a venue order, and with one (an entry, an exit, a stop moved)
    quiet = [r for r in records if not (r.orders or r.entries or r.trades)]
    busy = [r for r in records if r.orders or r.entries or r.trades]

    def median_of(rows: list[TickRecord], field: str) -> float:
        return statistics.median(getattr(r, field) for r in rows) if rows else 0.0

    return {
        **extra, "records": records, "feed": feed, "candles": candles,
        "cpu_median": statistics.median(cpu), "cpu_p99": pct(cpu, 0.99),
        "quiet": (len(quiet), median_of(quiet, "wall_ms"), median_of(quiet, "cpu_ms"), median_of(quiet, "round_trips")),
        "busy": (len(busy), median_of(busy, "wall_ms"), max((r.wall_ms for r in busy), default=0.0),
                 median_of(busy, "cpu_ms"), pct([r.cpu_ms for r in busy], 0.9) if busy else 0.0,
                 max((r.cpu_ms for r in busy), default=0.0), median_of(busy, "round_trips")),
        "slowest": sorted(records, key=lambda r: -r.wall_ms)[:max(3, ticks // 40)],
        "median": statistics.median(engine), "p90": pct(engine, 0.9), "p99": pct(engine, 0.99), "max": max(engine),
        "feed_median": statistics.median(feed), "candles_per_tick": candles / ticks,
    }


def profile(rig: Rig, ticks: int, top: int = 25) -> str:
    profiler = cProfile.Profile()
    candles = [rig.next_candles() for _ in range(ticks)]
    profiler.enable()
    for batch in candles:
        rig.engine.process(batch)
        rig.between_ticks()
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
    parser.add_argument("--redis-only", action="store_true",
                        help="skip the in-memory run (its row is the load gauge): short paired runs against another tree")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each store this many times (a fresh Redis each) and add a row of each tick's least "
                             "wall and CPU time over the runs: the ticks as a quiet machine runs them")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    names = symbol_names(args.symbols)
    give_extra_symbols_rules(names)
    settings = settings_for(names)
    results: dict[str, dict] = {}
    profiles: dict[str, str] = {}
    redis_name, memory_name = "Redis (StateStore, AOF everysec)", "in memory (InMemoryStore)"
    for attempt in range(1, args.repeat):  # the other runs first: the first one's Redis is described below
        with tempfile.TemporaryDirectory(prefix="live-tick-") as tmp:
            redis = start_embedded_redis(free_port(), Path(tmp) / "redis", persist=True)
            try:
                rig = Rig(settings, StateStore(connect(redis.url), "lt" + uuid.uuid4().hex[:8]))
                results[f"{redis_name}, run {attempt + 1}"] = run(rig, args.ticks, args.warmup_ticks)
            finally:
                redis.stop()
    with tempfile.TemporaryDirectory(prefix="live-tick-") as tmp:
        redis = start_embedded_redis(free_port(), Path(tmp) / "redis", persist=True)
        try:
            store = StateStore(connect(redis.url), "lt" + uuid.uuid4().hex[:8])
            started = time.perf_counter()
            rig = Rig(settings, store)
            print(f"redis: warmed up in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            before = redis_calls(store.client)
            results[redis_name] = run(rig, args.ticks, args.warmup_ticks)
            after = redis_calls(store.client)
            calls = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
            per_tick = sum(calls.values()) / (args.ticks + args.warmup_ticks)
            venue_key = store.key(f"venue:{settings.venue.paper_venue}")
            # saved whole (`data`) before the parts; in parts (`data` then holds a marker), a save writes the
            # head, the market of the symbols a candle moved (in one field before round 5) and the orders
            # that changed
            whole, head, market = store.client.hmget(venue_key, "data", "head", "market")
            by_symbol = store.client.hvals(venue_key + ":market")
            orders = store.client.hvals(venue_key + ":orders")
            closed = store.client.llen(venue_key + ":closed")
            market_text = (f"market {len(market)} bytes in one field" if market else
                           f"market by symbol {len(by_symbol)} symbols {sum(map(len, by_symbol))} bytes")
            snapshot = (f"{len(whole)} bytes, saved whole on every save" if head is None else
                        f"head {len(head or '')} bytes, {market_text}, {len(orders)} orders "
                        f"{sum(map(len, orders))} bytes, {closed} closed ids, saved in parts (head, market of the "
                        "symbols a candle moved, changed orders, newly closed ids)")
            if args.profile_ticks:
                profiles["redis"] = profile(rig, args.profile_ticks)
        finally:
            redis.stop()
    if not args.redis_only:
        for attempt in range(1, args.repeat):
            results[f"{memory_name}, run {attempt + 1}"] = run(Rig(settings, InMemoryStore("live-tick")), args.ticks,
                                                                args.warmup_ticks)
        rig = Rig(settings, InMemoryStore("live-tick"))
        results[memory_name] = run(rig, args.ticks, args.warmup_ticks)
        if args.profile_ticks:
            profiles["memory"] = profile(rig, args.profile_ticks)
    if args.repeat > 1:
        for name in (redis_name, memory_name):
            runs = [r for key, r in results.items() if key == name or key.startswith(f"{name}, run ")]
            if runs:
                results[f"{name}: each tick's least over {len(runs)} runs"] = per_tick_minimum(runs)

    lines = [
        f"One tick = one closed 1m candle for each of {args.symbols} symbols through `engine.process` "
        f"({args.ticks} ticks timed after {args.warmup_ticks} untimed; default strategies, paper mode, simulated venue).",
        "",
        "| store | median | p90 | p99 | max | CPU median | CPU p99 | candles/tick | signals | entries | trades | feed (median) "
        "| Redis round trips/tick | kB sent/tick |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['median']:.1f} ms | {r['p90']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | "
            f"{r['cpu_median']:.1f} ms | {r['cpu_p99']:.1f} ms | "
            f"{r['candles_per_tick']:.1f} | {r['signals']} | {r['entries']} | {r['trades']} | {r['feed_median']:.1f} ms | "
            f"{r['round_trips']:.1f} | {r['sent_kb']:.0f} |")
    for name, r in results.items():
        (nq, q_wall, q_cpu, q_trips), (nb, b_wall, b_max, b_cpu, b_cpu_p90, b_cpu_max, b_trips) = r["quiet"], r["busy"]
        lines += ["", f"{name}: {nq} ticks without a venue order, median {q_wall:.1f} ms wall, {q_cpu:.1f} ms CPU, "
                      f"{q_trips:.0f} round trips; {nb} with one, median {b_wall:.1f} ms wall (max {b_max:.1f}), "
                      f"{b_cpu:.1f} ms CPU (p90 {b_cpu_p90:.1f}, max {b_cpu_max:.1f}), {b_trips:.0f} round trips; GC pauses: {r['gc']}. "
                      "The slowest ticks:", ""]
        lines += [f"    {record.line()}" for record in r["slowest"]]
    lines += ["", f"Redis commands per tick (INFO commandstats): {per_tick:.0f} "
              f"({per_tick / results[redis_name]['candles_per_tick']:.1f} per candle): "
              + ", ".join(f"{k} {n / (args.ticks + args.warmup_ticks):.0f}"
                          for k, n in sorted(calls.items(), key=lambda kv: -kv[1])[:8])
              + f". The simulated venue's snapshot (saved once a tick and on each order call): {snapshot}.",
              "", "Load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg())]
    report = "\n".join(lines)
    print(report)
    for name, text in profiles.items():
        print(f"\n--- cProfile, {args.profile_ticks} ticks, {name} store (cumulative) ---\n{text}")
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
