"""Does a dead alert receiver slow the bot? The same replay, under a real supervisor, with the alert
receiver up and with it down (a port nobody listens on), every alert kind on (paper fills too).

    python -m benchmarks.alerts_tick [--rows 1500] [--out benchmarks/alerts_tick.md]

A real `main.py supervise --mode paper` (journal and alert sender in its threads) starts the real bot,
which replays the first `rows` rows of BTC from ../shared/data/klines at speed 0 with the EMA-cross rules
(5/13: a trade every few dozen candles, so fills keep raising alerts). Measured per run: the bot's replay
time (from its start announcement to data_exhausted), its trades, and how many alerts the receiver got
or the journal still holds pending.
Alerts are sent by the supervisor, never by the bot: the figures should not differ beyond noise.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path

from embedded_redis import free_port, start_embedded_redis
from journal.store import Journal, journal_path
from state import StateStore, connect
from tests.integration.processes import BotFleet, wait_for
from tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[1]
BTC_FILE = ROOT.parent / "shared" / "data" / "klines" / "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv"


def run(redis_url: str, data: Path, work: Path, receiver_up: bool) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = Receiver(port).up() if receiver_up else None
    store = StateStore(connect(redis_url), "ab" + uuid.uuid4().hex[:8])
    fleet = BotFleet(
        store, redis_url, work, TB_ALERT_URLS=f"json://127.0.0.1:{port}/hook", TB_JOURNAL__DIR=str(work / "journal"),
        TB_ALERTS__EVENTS="{paper_fill: 'on'}", TB_ALERTS__RETRY_SECONDS="[0.5]", TB_BOT__SYMBOLS="[BTC/USDT:USDT]",
        TB_MARKET_DATA__SOURCE="replay", TB_MARKET_DATA__REPLAY__FILES="{BTC/USDT:USDT: " + str(data) + "}",
        TB_MARKET_DATA__REPLAY__SPEED="0", TB_MARKET_DATA__REPLAY__LOOP="false",
        TB_STRATEGY__ENABLED="[ema_cross]", TB_STRATEGY__EMA_CROSS__FAST="5", TB_STRATEGY__EMA_CROSS__SLOW="13",
        TB_REDIS__RUN_MARKER_DIR=str(work / "run"),
    )
    try:
        fleet.start_supervisor("paper")
        wait_for(lambda: store.read_state().get("data_exhausted") == "1", 600, "the replay's end", interval_s=0.1,
                 on_timeout=fleet.logs)
        exhausted_ms = int(time.time() * 1000)
        started_ms = int(store.read_state()["started_at_ms"])
        time.sleep(2.0)  # the last alerts
    finally:
        fleet.cleanup()
        if server is not None:
            server.down()
    journal = Journal(journal_path(work / "journal", store.bot_id))
    pending = sum(1 for a in journal.alerts(10_000) if a["status"] == "pending")
    journal.close()
    trades = len(store.read_trades())
    loop_s = (exhausted_ms - started_ms) / 1000
    return {"receiver": "up" if receiver_up else "down", "trades": trades, "loop_s": loop_s,
            "received": len(server.received) if server is not None else 0, "pending": pending}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "alerts_tick.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lines = BTC_FILE.read_text().splitlines()
        data = work / "btc.csv"
        data.write_text("\n".join(lines[: args.rows + 1]) + "\n")
        redis = start_embedded_redis(free_port(), work / "redis", persist=True)
        try:
            rows = [run(redis.url, data, work / f"run{i}", up) for i, up in enumerate((True, False, True, False))]
        finally:
            redis.stop()
    lines_out = ["# Alerts and the bot's tick time (`python -m benchmarks.alerts_tick`)", "",
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.rows} BTC candles replayed at speed 0 "
                 "under a real supervisor, every alert on (paper fills too).", "",
                 "| receiver | replay loop s | trades | alerts received | alerts pending at the end |", "|---|---|---|---|---|"]
    for r in rows:
        lines_out.append(f"| {r['receiver']} | {r['loop_s']:.2f} | {r['trades']} | {r['received']} | {r['pending']} |")
    Path(args.out).write_text("\n".join(lines_out) + "\n")
    print("\n".join(lines_out))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
