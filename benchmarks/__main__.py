"""Kill-switch latency with a real bot (`main.py bot --mode paper`) on the simulated venue and a real
Redis (its own, on a free port, AOF everysec as in production). Bounded to a few minutes; every process
it starts is ended by pid before it returns.

    python -m benchmarks [--runs 50] [--failure-runs 10] [--budget-s 360] [--out benchmarks/results.md]

Measured, per run, from the moment the close-all command entered Redis (the XADD entry id's time):
  (a) HALTED persisted — the durable halt flag's ts_ms (written before anything else is done)
  (b) flat — the command's `done` result (written after the venue confirmed flat); the venue itself
      (its snapshot in Redis) and the published positions hash are then checked to be empty
for a bot holding positions in 2 and in 20 symbols; then, under the supervisor with the production
control settings, the time to flat when the bot is frozen (SIGSTOP) and when it was killed (SIGKILL);
and Redis's own round trip (PING) as the floor.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from control.client import new_command, send_command, wait_result
from embedded_redis import free_port, start_embedded_redis
from models import CommandStatus, CommandType, TradingState
from state import StateStore, connect
from tests.integration.processes import BotFleet, read_venue, wait_for

ROOT = Path(__file__).resolve().parents[1]

SYMBOLS_2 = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
# 20 large USDⓈ-M perpetuals (simulator/symbols.py carries their Binance filters) at mid-2025 prices
START_PRICES = {
    "BTC/USDT:USDT": 95000, "ETH/USDT:USDT": 1800, "SOL/USDT:USDT": 145, "BNB/USDT:USDT": 650,
    "XRP/USDT:USDT": 2.2, "DOGE/USDT:USDT": 0.2, "ADA/USDT:USDT": 0.7, "AVAX/USDT:USDT": 22,
    "LINK/USDT:USDT": 14, "DOT/USDT:USDT": 4.2, "LTC/USDT:USDT": 90, "BCH/USDT:USDT": 420,
    "TRX/USDT:USDT": 0.27, "NEAR/USDT:USDT": 2.5, "ATOM/USDT:USDT": 4.5, "UNI/USDT:USDT": 7,
    "APT/USDT:USDT": 5, "ARB/USDT:USDT": 0.35, "OP/USDT:USDT": 0.7, "SUI/USDT:USDT": 3.2,
}
SYMBOLS_20 = list(START_PRICES)
WARMUP_RUNS = 3


def _flow(items) -> str:
    return "[" + ", ".join(items) + "]"


def bot_env(symbols: list[str], candle_seconds: float = 0.5) -> dict[str, str]:
    """A busy bot (a synthetic candle per symbol every 0.5 s) with production control settings, trading
    only what the benchmark opens, with exits wide enough that nothing closes between open and close-all."""
    return {
        "TB_BOT__SYMBOLS": _flow(symbols),
        "TB_MARKET_DATA__SYNTHETIC__START_PRICES": "{" + ", ".join(f"{s}: {START_PRICES[s]}" for s in symbols) + "}",
        "TB_MARKET_DATA__SYNTHETIC__CANDLE_SECONDS": str(candle_seconds),
        "TB_MARKET_DATA__BACKFILL_CANDLES": "100",
        "TB_BOT__TICK_SECONDS": str(candle_seconds / 2),
        "TB_BOT__HEARTBEAT_SECONDS": "1.0",
        "TB_CONTROL__HEARTBEAT_TIMEOUT_SECONDS": "5",
        "TB_CONTROL__TAKEOVER_WAIT_SECONDS": "1.5",
        "TB_CONTROL__STOP_GRACE_SECONDS": "10",
        # only the restart policy differs from production: the killed-bot runs kill it on purpose
        "TB_CONTROL__RESTART_BACKOFF_SECONDS": "[0.5]",
        "TB_CONTROL__CRASH_LOOP_MAX_RESTARTS": "1000",
        "TB_RISK__MAX_OPEN_POSITIONS": str(max(5, len(symbols))),
    }


# ------------------------------------------------------------------------------------- statistics


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 50 runs is the largest but none)."""
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Row:
    scenario: str
    what: str
    samples: list[float] = field(default_factory=list)
    failures: int = 0
    target: str = ""
    decimals: int = 0  # the bot's timestamps are whole milliseconds

    def cells(self) -> list[str]:
        if not self.samples:
            return [self.scenario, self.what, "0", "-", "-", "-", str(self.failures), self.target]
        d = self.decimals
        return [self.scenario, self.what, str(len(self.samples)), f"{pct(self.samples, 0.50):.{d}f}",
                f"{pct(self.samples, 0.99):.{d}f}", f"{max(self.samples):.{d}f}", str(self.failures), self.target]


HEADER = ["scenario", "measured", "n", "p50 ms", "p99 ms", "max ms", "not flat", "target"]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- helpers


class OutOfTime(Exception):
    pass


class Clock:
    def __init__(self, budget_s: float):
        self.deadline = time.monotonic() + budget_s

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, need_s: float = 0.0) -> None:
        if self.left() < need_s:
            raise OutOfTime()


def command(store: StateStore, command_type: CommandType, args: dict | None = None, timeout_s: float = 15.0):
    sent = send_command(store, command_type, args or {}, issued_by="bench")
    result = wait_result(store, sent.command_id, timeout_s)
    if result is None or result.status is not CommandStatus.DONE:
        raise RuntimeError(f"{command_type.value}: {result}")
    return result


def ensure_active(store: StateStore) -> None:
    if store.trading_state() is not TradingState.ACTIVE:
        command(store, CommandType.RESUME)


def next_candle(store: StateStore, symbol: str, timeout_s: float = 10.0) -> None:
    """Until the bot has a newer candle: entry ids are per candle, so each run opens in a fresh one."""
    last = store.read_candles(symbol, 1)
    seen = last[-1].open_time_ms if last else 0
    wait_for(lambda: (c := store.read_candles(symbol, 1)) and c[-1].open_time_ms > seen, timeout_s, "a new candle")
    time.sleep(0.05)  # the bot pushes a batch before it runs it through the engine


def open_positions(store: StateStore, symbols: list[str], notional: str, *, flip: bool = False) -> None:
    """One `open` per symbol, all sent at once; each must be done. The risk gate may refuse a side (no
    swing on that side of the price for a structure stop): the other side then; an id already used in
    this candle: again on the next one."""
    sides = {s: "long" if (i % 2 == 0) != flip else "short" for i, s in enumerate(symbols)}
    todo = list(symbols)
    for attempt in range(3):
        sent = [send_command(store, CommandType.OPEN, {"symbol": s, "side": sides[s], "notional": notional},
                             issued_by="bench") for s in todo]
        todo, wait_candle = [], False
        for cmd in sent:
            result = wait_result(store, cmd.command_id, 15)
            symbol = cmd.args["symbol"]
            if result is not None and result.status is CommandStatus.DONE:
                continue
            if attempt < 2 and result is not None and "no_valid_stop" in result.detail:
                sides[symbol] = "short" if sides[symbol] == "long" else "long"
                todo.append(symbol)
                continue
            if attempt < 2 and result is not None and "already sent" in result.detail:
                todo.append(symbol)
                wait_candle = True
                continue
            raise RuntimeError(f"open {symbol}: {result}")
        if not todo:
            break
        if wait_candle:
            next_candle(store, symbols[0])
    held = {p.symbol for p in read_venue(store)[0]}
    if held != set(symbols):
        recent = "\n".join(f"  {e.kind}: {e.message}" for e in store.read_audit(40))
        raise RuntimeError(f"positions {sorted(held)} after opening {sorted(symbols)}; the decision log:\n{recent}")


def flat(store: StateStore) -> bool:
    positions, orders = read_venue(store)
    return not positions and not orders and not store.read_positions()


def close_all(store: StateStore, timeout_s: float = 15.0):
    """Send close-all; (ms to HALTED persisted, ms to done, the result), both from the XADD's time."""
    cmd = new_command(CommandType.CLOSE_ALL, issued_by="bench")
    entry_id = store.send_command(cmd)
    entered_ms = int(entry_id.split("-", 1)[0])
    result = wait_result(store, cmd.command_id, timeout_s)
    halt = store.read_halt()
    halted_ms = (halt.ts_ms - entered_ms) if halt is not None and halt.by == "bench" else None
    done_ms = (result.ts_ms - entered_ms) if result is not None and result.status is CommandStatus.DONE else None
    return halted_ms, done_ms, result


def redis_floor(url: str, n: int = 5000) -> Row:
    client = connect(url)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - t) * 1000)
    return Row("Redis", "PING round trip (the floor)", samples, decimals=3)


# -------------------------------------------------------------------------------------- scenarios


def lone_bot(url: str, logs: Path, symbols: list[str], notional: str, runs: int, clock: Clock) -> list[Row]:
    name = f"{len(symbols)} positions, bot alive"
    halted = Row(name, "(a) close-all in Redis → HALTED persisted", target="p99 < 50")
    done = Row(name, "(b) close-all in Redis → flat confirmed", target="p99 < 250" if len(symbols) >= 20 else "")
    store = StateStore(connect(url), f"bench{len(symbols)}")
    store.wipe()
    fleet = BotFleet(store, url, logs, **bot_env(symbols))
    try:
        fleet.start_bot()
        fleet.wait_bot_running(60)
        for i in range(WARMUP_RUNS + runs):
            clock.check(10)
            ensure_active(store)
            next_candle(store, symbols[0])
            open_positions(store, symbols, notional)
            a, b, result = close_all(store)
            ok = b is not None and flat(store)
            if i < WARMUP_RUNS:
                continue
            if a is not None:
                halted.samples.append(a)
            if ok:
                done.samples.append(b)
            else:
                done.failures += 1
    except OutOfTime:
        print(f"  {name}: out of time after {len(done.samples)} runs", file=sys.stderr)
    finally:
        fleet.cleanup()
        store.wipe()
    return [halted, done]


def supervised(url: str, logs: Path, runs: int, clock: Clock) -> list[Row]:
    """A synthetic feed starts its market time at the wall clock's minute, so a restarted bot replays
    market times its predecessor already used, and entry ids are per symbol, side and candle: each killed
    run opens a pair of symbols of its own."""
    frozen = Row("2 positions, bot frozen (SIGSTOP)", "close-all in Redis → flat (supervisor)", target="< 3000")
    killed = Row("2 positions, bot killed (SIGKILL)", "close-all in Redis → flat (supervisor or restarted bot)",
                 target="< 3000")
    store = StateStore(connect(url), "benchsup")
    store.wipe()
    fleet = BotFleet(store, url, logs, **bot_env(SYMBOLS_20))
    try:
        fleet.start_supervisor()
        pid = fleet.wait_bot_running(60)
        for _ in range(runs):
            clock.check(15)
            ensure_active(store)
            next_candle(store, SYMBOLS_2[0])
            open_positions(store, SYMBOLS_2, "500")
            os.kill(pid, signal.SIGSTOP)
            try:
                _, b, _ = close_all(store)
            finally:
                os.kill(pid, signal.SIGCONT)
            if b is not None and flat(store):
                frozen.samples.append(b)
            else:
                frozen.failures += 1
            fleet.wait_bot_running(30)
        for i in range(runs):
            clock.check(20)
            pid = fleet.wait_bot_running(30)
            ensure_active(store)
            pair = 1 + i % 9
            symbols = SYMBOLS_20[2 * pair:2 * pair + 2]
            next_candle(store, symbols[0])
            open_positions(store, symbols, "500", flip=(i // 9) % 2 == 1)
            os.killpg(pid, signal.SIGKILL)
            _, b, _ = close_all(store)
            if b is not None and flat(store):
                killed.samples.append(b)
            else:
                killed.failures += 1
            fleet.wait_bot_running(30, not_pid=pid)
    except OutOfTime:
        print(f"  supervisor runs: out of time ({len(frozen.samples)} frozen, {len(killed.samples)} killed)",
              file=sys.stderr)
    finally:
        fleet.cleanup()
        store.wipe()
    return [frozen, killed]


# ------------------------------------------------------------------------------------------- main


def environment() -> str:
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    version = next((p.split("=", 1)[1] for p in redis_version if p.startswith("v=")), "?")
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f} at the start; Python {platform.python_version()}; "
            f"Redis {version} on loopback, AOF everysec")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="close-all runs per symbol count (default 50)")
    parser.add_argument("--failure-runs", type=int, default=10, help="frozen and killed runs each (default 10)")
    parser.add_argument("--budget-s", type=float, default=360, help="stop starting runs after this (default 360)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args(argv)

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    clock = Clock(args.budget_s)
    started = time.monotonic()
    env_line = environment()
    with tempfile.TemporaryDirectory(prefix="tb-bench-") as tmp:
        redis = start_embedded_redis(free_port(), Path(tmp) / "redis", persist=True)
        logs = Path(tmp) / "logs"
        logs.mkdir()
        rows = [redis_floor(redis.url)]
        print(f"Redis PING p50 {pct(rows[0].samples, 0.5):.3f} ms", flush=True)
        scenarios = [
            lambda: lone_bot(redis.url, logs, SYMBOLS_2, "500", args.runs, clock),
            lambda: lone_bot(redis.url, logs, SYMBOLS_20, "120", args.runs, clock),
            lambda: supervised(redis.url, logs, args.failure_runs, clock),
        ]
        errors = []
        try:
            for scenario in scenarios:
                try:
                    new_rows = scenario()
                except Exception as exc:  # one broken scenario still leaves the others' figures
                    errors.append(f"{type(exc).__name__}: {exc}")
                    print(f"scenario failed: {errors[-1]}", file=sys.stderr, flush=True)
                    continue
                rows += new_rows
                print(table(new_rows), flush=True)
        finally:
            redis.stop()
    elapsed = time.monotonic() - started
    report = "\n".join([
        "# Kill-switch benchmark",
        "",
        f"`make bench` (`python -m benchmarks --runs {args.runs} --failure-runs {args.failure_runs}`), {elapsed:.0f} s.",
        f"{env_line}.",
        "",
        "Times run from the close-all command entering Redis (its XADD entry id's time) to (a) the durable halt",
        "flag's timestamp and (b) the `done` result, written once the venue confirmed flat; after each run the",
        "venue's own snapshot and the published positions hash are checked to be empty (\"not flat\" counts",
        "runs where they were not). Millisecond timestamps: the figures have 1 ms resolution. One bot in paper",
        "mode on the simulated venue, a synthetic candle per symbol every 0.5 s, production control settings",
        "(takeover wait 1.5 s, heartbeat timeout 5 s): a frozen bot's kill switch waits those 1.5 s for the bot",
        "to claim it before the supervisor acts; a killed bot's is run as soon as the crash is noticed.",
        "",
        table(rows),
        "",
        *(f"Scenario failed: {e}" for e in errors),
    ])
    Path(args.out).write_text(report)
    print()
    print(table(rows))
    print(f"\nwritten to {args.out} in {elapsed:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
