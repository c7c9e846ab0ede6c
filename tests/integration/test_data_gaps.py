"""Gaps in the market data are reported where a trader looks (issue 12): the gaps stream, the decision log,
`main.py status` and the state the dashboard's banner reads — with their times.

A real `main.py bot --mode ghost` replays a CSV with a 270-minute hole (an exchange outage) at speed 0.
Before the fix the replay source recorded the hole and told no one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketdata.csvfile import HEADER_LINE
from state import StateStore
from ui.status import status_view

from embedded_redis import free_port
from processes import BotFleet, run_cli, wait_for
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
MIN = 60_000
T0 = 1_746_372_780_000  # 2025-05-04 15:33 UTC
ROWS = 900
HOLE = range(400, 670)  # rows missing: 270 candles, 2025-05-04 22:13 → 2025-05-05 02:42 UTC


def write_replay_with_hole(path: Path) -> Path:
    lines = [HEADER_LINE]
    for i in range(ROWS):
        if i in HOLE:
            continue
        close = 20000 + 5 * i + 40 * (i % 12)
        lines.append(f"{T0 + i * MIN},{close},{close + 15},{close - 15},{close},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_when_the_data_has_a_hole_then_the_gap_is_reported_with_its_times_and_alerted_once(store: StateStore, redis_url,
                                                                                               tmp_path):
    # Arrange
    csv = write_replay_with_hole(tmp_path / "btc.csv")
    receiver = Receiver(free_port()).up()
    env = {
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": json.dumps({BTC: str(csv)}),
        "TB_MARKET_DATA__REPLAY__SPEED": "0",
        "TB_MARKET_DATA__REPLAY__LOOP": "false",
        "TB_MARKET_DATA__BACKFILL_CANDLES": "100",
        "TB_BOT__SYMBOLS": f"[{BTC}]",
        "TB_REDIS__RUN_MARKER_DIR": str(tmp_path / "run"),
        "TB_ALERT_URLS": receiver.url, "TB_JOURNAL__DIR": str(tmp_path / "journal"), "TB_JOURNAL__POLL_SECONDS": "0.2",
    }
    fleet = BotFleet(store, redis_url, tmp_path, **env)
    try:
        # Act
        fleet.start_supervisor("ghost")  # the supervisor copies the journal and sends the alerts
        wait_for(lambda: store.read_state().get("data_exhausted") == "1", 60, "the replay's end", on_timeout=fleet.logs)
        status = run_cli(["status", "--json"], fleet.env)
        wait_for(lambda: "data_gap" in receiver.kinds(), 30, "the gap's alert", on_timeout=fleet.logs)
    finally:
        fleet.cleanup()
        receiver.down()

    # Assert: one gap, its first and last missing candle, in every place
    first, last = T0 + HOLE.start * MIN, T0 + (HOLE.stop - 1) * MIN
    gaps = store.read_gaps()
    assert [(g["symbol"], int(g["from_ms"]), int(g["to_ms"]), int(g["missing"])) for g in gaps] == [
        (BTC, first, last, 270)]
    expected = "BTC/USDT:USDT: market data gap, 270 candles missing, 2025-05-04 22:13 UTC → 2025-05-05 02:42 UTC"
    assert gaps[0]["text"] == expected and gaps[0]["source"] == "replay"
    assert [e.message for e in store.read_audit(2000, kinds=["gap"])] == [expected]
    reported = json.loads(status.stdout)
    assert (reported["data_gaps"], reported["last_gaps"]) == (1, [expected])
    view = status_view(store.read_state(), None, 0, 5.0)
    assert (view.data_gaps, view.last_gap) == (1, expected)
    gap_alerts = [m for m in receiver.received if "data gap" in m["title"]]
    assert len(gap_alerts) == 1 and gap_alerts[0]["message"] == expected
