"""Replay through the real bot at speed 0: candles per second, and what bounds it.

    python -m benchmarks.replay_bot [--rows 3000] [--profile-rows 1500] [--out benchmarks/replay_bot.md]

1. A real `main.py bot --mode paper` process (tests/integration/processes.py BotFleet) on the simulated
   venue, in a Redis of its own (embedded_redis on a free port, AOF everysec as in production), replays the
   first `rows` rows of BTC and SOL from ../shared/data/klines (market_data.source replay, speed 0, no loop)
   until the state hash says data_exhausted=1. Settings are config.yaml's (default strategies, exits and
   limits, tick_seconds 1.0, back-fill 300): only the test helpers' fast heartbeat is kept. candles/s is
   the candles the engine took (the run summary's `candles`) over the wall time from the bot's start
   announcement (`started_at_ms`) to data_exhausted; the whole process (start-up included) is shown too.
   Redis's own INFO commandstats, before and after, give the commands per candle.
2. The same replay run in this process (bot.runtime.BotRuntime, its trading loop under cProfile, a
   watcher thread asking it to stop at data_exhausted) names the top costs.
Every process it starts is ended before it returns.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bot.runtime import BotRuntime
from embedded_redis import free_port, start_embedded_redis
from models import Mode
from settings import load_settings
from state import StateStore, connect
from tests.integration.processes import FAST_ENV, BotFleet, wait_for

ROOT = Path(__file__).resolve().parents[1]
KLINES = ROOT.parent / "shared" / "data" / "klines"
FILES = {
    "BTC/USDT:USDT": "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    "SOL/USDT:USDT": "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}
# process_env puts the integration tests' FAST_ENV under every child; all of it but the fast heartbeat is
# taken out again so the replay trades as the shipped bot does (config.yaml's values)
KEPT_FROM_FAST = {"TB_BOT__HEARTBEAT_SECONDS"}


def replay_env(data: Path, run_dir: Path) -> dict[str, str]:
    files = "{" + ", ".join(f"{sym}: {data / name}" for sym, name in FILES.items()) + "}"
    return {
        "TB_BOT__SYMBOLS": "[" + ", ".join(FILES) + "]",
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": files,
        "TB_MARKET_DATA__REPLAY__SPEED": "0",
        "TB_MARKET_DATA__REPLAY__LOOP": "false",
        "TB_REDIS__RUN_MARKER_DIR": str(run_dir),
    }


def write_rows(data: Path, rows: int) -> None:
    data.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        lines = (KLINES / name).read_text().splitlines()[: rows + 1]
        (data / name).write_text("\n".join(lines) + "\n")


def command_stats(client) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()}


def run_process(redis_url: str, env: dict[str, str], log_dir: Path, timeout_s: float) -> dict:
    store = StateStore(connect(redis_url), "rb" + uuid.uuid4().hex[:8])
    fleet = BotFleet(store, redis_url, log_dir, **env)
    for key in set(FAST_ENV) - KEPT_FROM_FAST - set(env):
        fleet.env.pop(key, None)
    before = command_stats(store.client)
    launched = time.monotonic()
    try:
        fleet.start_bot("paper")
        wait_for(lambda: store.read_state().get("data_exhausted") == "1", timeout_s, "the replay's end",
                 interval_s=0.05, on_timeout=fleet.logs)
        exhausted_ms = int(time.time() * 1000)
        whole_s = time.monotonic() - launched
        after = command_stats(store.client)
        started_ms = int(store.read_state()["started_at_ms"])
        for child in fleet.children:
            child.stop()
        summary = json.loads(str(wait_for(lambda: store.read_state().get("running") == "0"
                                      and store.read_state().get("last_summary"), 30, "the run summary")))
    finally:
        fleet.cleanup()
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after if k != "info"}
    loop_s = (exhausted_ms - started_ms) / 1000
    return {"candles": summary["candles"], "trades": summary["trades"], "entries": summary["entries"],
            "loop_s": loop_s, "whole_s": whole_s, "calls": {k: v for k, v in calls.items() if v}}


def run_profiled(redis_url: str, env: dict[str, str], top: int) -> tuple[dict, str]:
    bot_id = "rp" + uuid.uuid4().hex[:8]
    settings = load_settings(None, {**env, "TB_BOT__ID": bot_id, "TB_BOT__MODE": "paper",
                                    "TB_BOT__HEARTBEAT_SECONDS": FAST_ENV["TB_BOT__HEARTBEAT_SECONDS"]})
    store = StateStore(connect(redis_url), bot_id)
    runtime = BotRuntime(settings, store, mode=Mode.PAPER)
    watcher_store = StateStore(connect(redis_url), bot_id)

    def watch() -> None:
        while not runtime.stop_event.is_set():
            if watcher_store.read_state().get("data_exhausted") == "1":
                runtime.request_stop("replay exhausted")
                return
            time.sleep(0.05)

    threading.Thread(target=watch, name="watcher", daemon=True).start()
    profiler = cProfile.Profile()
    started = time.monotonic()
    profiler.enable()
    summary = runtime.run()
    profiler.disable()
    wall = time.monotonic() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # the project's own functions by cumulative time (redis-py's frames under every store call would fill
    # the list), then everything by its own time: where the seconds are really spent
    stats.sort_stats("cumulative").print_stats(re.escape(str(ROOT)) + "/(?!\\.venv)", top)
    stats.sort_stats("tottime").print_stats(12)
    # (file, line, name) -> (calls, primitive calls, own s, cumulative s, callers): not in typeshed
    rows = vars(stats)["stats"]
    socket_s = sum(row[2] for (_, _, name), row in rows.items() if "_socket.socket" in name)
    return {"candles": summary["candles"], "wall_s": wall, "socket_s": socket_s}, out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_bot")
    parser.add_argument("--rows", type=int, default=3000, help="rows of each file (the first 300 are the back-fill)")
    parser.add_argument("--profile-rows", type=int, default=1500)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--timeout-s", type=float, default=900)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="replay-bot-") as tmp_name:
        tmp = Path(tmp_name)
        redis = start_embedded_redis(free_port(), tmp / "redis", persist=True)
        try:
            write_rows(tmp / "data", args.rows)
            env = replay_env(tmp / "data", tmp / "run")
            r = run_process(redis.url, env, tmp, args.timeout_s)
            write_rows(tmp / "profile-data", args.profile_rows)
            p, profile = run_profiled(redis.url, replay_env(tmp / "profile-data", tmp / "run"), args.top)
        finally:
            redis.stop()
    total = sum(r["calls"].values())
    top = sorted(r["calls"].items(), key=lambda kv: -kv[1])[:10]
    lines = [
        f"`main.py bot --mode paper`, replay at speed 0 of {args.rows} rows of {', '.join(FILES)} (first 300 the "
        "back-fill), simulated venue, its own Redis (AOF everysec), config.yaml's settings.",
        "",
        "| candles through the engine | trades | loop wall (start announced → data_exhausted) | candles/s | "
        "whole process (launch → data_exhausted) | candles/s |",
        "|---|---|---|---|---|---|",
        f"| {r['candles']} | {r['trades']} | {r['loop_s']:.1f} s | {r['candles'] / r['loop_s']:.0f} | "
        f"{r['whole_s']:.1f} s | {r['candles'] / r['whole_s']:.0f} |",
        "",
        f"Redis commands (INFO commandstats, whole run): {total} = {total / r['candles']:.1f} per candle; "
        "top: " + ", ".join(f"{k} {v / r['candles']:.2f}" for k, v in top) + " (per candle).",
        "",
        f"In-process under cProfile ({args.profile_rows} rows): {p['candles']} candles in {p['wall_s']:.1f} s "
        f"({p['candles'] / p['wall_s']:.0f} candles/s with the profiler on), {p['socket_s']:.1f} s of it "
        f"({p['socket_s'] / p['wall_s']:.0%}) in socket send/recv to Redis.",
    ]
    report = "\n".join(lines)
    print(report)
    print("\n--- cProfile of the trading loop ---\n" + profile)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
