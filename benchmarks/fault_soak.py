"""The safety core under venue faults, measured with real processes (`make soak`).

A real supervisor and paper bot on the simulated venue (its snapshot in a Redis of its own, on a free
port) whose order calls time out after being accepted 30 % of the time and are rejected 20 % of the
time (simulator/faults.py, the same faults for the bot and the supervisor).

    python -m benchmarks.fault_soak [--runs 50] [--soak-seconds 600] [--out benchmarks/fault_soak.md]

1. Kill switch: `runs` times, open positions in 2 symbols (asking again when an entry is refused), then
   close-all; a run succeeds when the command says done and the venue's own snapshot holds no position
   and no open order. Latency is from the command's issue to its final result.
2. Soak: for `soak-seconds`, positions are opened and closed at random while the venue's snapshot is
   sampled every 0.25 s. A position seen without a reduce-only stop covering it in two samples in a
   row (beyond the fill-to-stop moment) counts as unprotected.
Every process it started is ended before it returns.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.__main__ import START_PRICES, _flow, pct
from control.client import send_command, wait_result
from embedded_redis import free_port, start_embedded_redis
from models import CommandStatus, CommandType, TradingState
from state import StateStore, connect
from tests.integration.processes import BotFleet, read_venue, unprotected

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
FAULTS = {"TB_VENUE__FAULTS__TIMEOUT_AFTER_RATE": "0.3", "TB_VENUE__FAULTS__REJECT_RATE": "0.2"}


def command(store: StateStore, command_type: CommandType, args: dict | None = None, timeout_s: float = 60.0):
    sent = send_command(store, command_type, args or {}, issued_by="soak")
    return wait_result(store, sent.command_id, timeout_s)


def held(store: StateStore) -> set[str]:
    return {p.symbol for p in read_venue(store)[0]}


def open_until_held(store: StateStore, symbol: str, tries: int = 12) -> bool:
    for _ in range(tries):
        if symbol in held(store):
            return True
        command(store, CommandType.OPEN, {"symbol": symbol, "side": random.choice(["long", "short"]), "notional": "300"})
        time.sleep(0.25)
    return symbol in held(store)


def resume(store: StateStore) -> None:
    if store.trading_state() is not TradingState.ACTIVE:
        command(store, CommandType.RESUME)


def kill_switch_runs(store: StateStore, runs: int) -> list[str]:
    ok, latencies, failures = 0, [], []
    for run in range(runs):
        resume(store)
        for symbol in SYMBOLS[:2]:
            open_until_held(store, symbol)
        result = command(store, CommandType.CLOSE_ALL)
        positions, orders = read_venue(store)
        if result is not None and result.status is CommandStatus.DONE and not positions and not orders:
            ok += 1
            latencies.append(result.elapsed_ms)
        else:
            failures.append(f"run {run}: {result} positions={positions} orders={orders}")
        print(f"kill switch {run + 1}/{runs}: {'flat' if not positions and not orders else 'NOT FLAT'} "
              f"({result.status.value if result else 'no answer'}, {result.elapsed_ms if result else 0:.0f} ms)",
              file=sys.stderr)
    lines = [f"| kill switch, 30 % timeouts-after-accept + 20 % rejects | {ok} of {runs} flat | "
             f"p50 {pct(latencies, 0.5):.0f} ms, p99 {pct(latencies, 0.99):.0f} ms, max {max(latencies or [0]):.0f} ms |"]
    return lines + [f"  failure: {f}" for f in failures]


def soak(store: StateStore, seconds: float) -> list[str]:
    resume(store)
    samples = naked_samples = 0
    streak: dict[str, int] = {}
    beyond: set[str] = set()
    longest = 0
    deadline = time.monotonic() + seconds
    next_action = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_action:
            symbol = random.choice(SYMBOLS)
            if symbol in held(store):
                command(store, CommandType.CLOSE, {"symbol": symbol}, timeout_s=10)
            else:
                resume(store)  # a tripped breaker halts; the soak keeps trading
                command(store, CommandType.OPEN, {"symbol": symbol, "side": random.choice(["long", "short"]),
                                                  "notional": "300"}, timeout_s=10)
            next_action = time.monotonic() + random.uniform(0.3, 1.5)
        bare = set(unprotected(store))
        samples += 1
        naked_samples += bool(bare)
        for symbol in SYMBOLS:
            streak[symbol] = streak.get(symbol, 0) + 1 if symbol in bare else 0
            longest = max(longest, streak[symbol])
            if streak[symbol] >= 2:
                beyond.add(symbol)
        time.sleep(0.25)
    return [f"| soak {seconds:.0f} s under the same faults | {samples} samples, {naked_samples} with a position "
            f"between fill and stop, longest {longest} sample(s) | positions unprotected beyond the fill-to-stop "
            f"moment: {len(beyond)} |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fault_soak")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/fault_soak.md"))
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    server = start_embedded_redis(free_port(), tmp / "redis", persist=True)
    store = StateStore(connect(server.url), "soak" + uuid.uuid4().hex[:8])
    fleet = BotFleet(store, server.url, tmp, **FAULTS, TB_BOT__SYMBOLS=_flow(SYMBOLS),
                     TB_MARKET_DATA__SYNTHETIC__START_PRICES="{" + ", ".join(f"{s}: {START_PRICES[s]}" for s in SYMBOLS) + "}")
    try:
        fleet.start_supervisor("paper")
        fleet.wait_bot_running(60)
        lines = ["| scenario | result | figures |", "|---|---|---|"]
        lines += kill_switch_runs(store, args.runs)
        if args.soak_seconds > 0:
            lines += soak(store, args.soak_seconds)
            result = command(store, CommandType.CLOSE_ALL)
            lines.append(f"| final kill switch | {result.status.value if result else 'no answer'} | "
                         f"venue flat: {read_venue(store) == ([], [])} |")
    finally:
        fleet.cleanup()
        server.stop()
    text = "\n".join(lines)
    print(text)
    args.out.write_text(f"# Safety core under faults\n\n`python -m benchmarks.fault_soak --runs {args.runs} "
                        f"--soak-seconds {args.soak_seconds:g}`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
