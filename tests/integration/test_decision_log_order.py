"""The decision log reads in the order things happened, whatever clock each writer stamps (issue 12)."""

from __future__ import annotations

import time

from clock import SystemClock
from control.trading_state import TradingStateControl
from models import AuditEvent, HaltCause
from ui.tables import audit_frame

HOUR_MS = 3_600_000


def test_decision_log_when_the_market_runs_hours_ahead_then_the_kill_switch_is_the_newest_row(store):
    # Arrange: a synthetic feed at 60x: the engine stamps its lines in market time, hours ahead of the wall
    market_ms = int(time.time() * 1000) + 5 * HOUR_MS
    for i in range(199):
        store.audit(AuditEvent("signal", market_ms + i * 60_000, f"signal {i}"))

    # Act: the kill switch, recorded on the wall clock by the one owner of the trading state
    TradingStateControl(store, SystemClock()).halt(HaltCause.KILL_SWITCH, "dashboard", "kill switch pressed")
    frame = audit_frame(store.read_audit(200))

    # Assert: the newest line is at the top (it landed at row 191 of 200 when sorted by the writers' stamps)
    assert "kill switch pressed" in frame.iloc[0]["Message"]
    assert list(frame["Message"][1:4]) == ["signal 198", "signal 197", "signal 196"]
    # and one clock for the whole view: the store's, never ahead of the wall
    assert "wall clock" in frame.columns[0]
    latest = frame.iloc[0][frame.columns[0]]
    assert latest <= time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() + 1))
