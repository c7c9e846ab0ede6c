"""Which records raise an alert, and which do not (one table), and the periods a report takes."""

import json

import pytest

from alerts.events import AlertKind, alert_for
from analytics.periods import month_range, parse_when, week_range
from errors import ConfigError


def audit(kind: str, message: str = "m", **data) -> dict:
    return {"kind": kind, "ts_ms": "1", "message": message, "data": json.dumps(data)}


@pytest.mark.parametrize(
    "stream, fields, expected",
    [
        ("audit", audit("supervisor", alert="bot_started"), AlertKind.BOT_STARTED),
        ("audit", audit("supervisor", alert="bot_unresponsive"), AlertKind.BOT_UNRESPONSIVE),
        ("audit", audit("supervisor", alert="not_a_kind"), None),
        ("audit", audit("supervisor", message="stopping the bot"), None),
        # trading-state changes into HALTED, by cause
        ("audit", audit("state", previous="active", current="halted", cause="circuit_breaker"), AlertKind.CIRCUIT_BREAKER),
        ("audit", audit("state", previous="ACTIVE", current="HALTED", cause="circuit_breaker"), AlertKind.CIRCUIT_BREAKER),
        ("audit", audit("state", previous="REDUCING", current="HALTED", cause="loss_limit"), AlertKind.LOSS_LIMIT),
        ("audit", audit("state", previous="active", current="halted", cause="loss_limit"), AlertKind.LOSS_LIMIT),
        ("audit", audit("state", previous="active", current="halted", cause="crash_loop"), AlertKind.BOT_CRASHED),
        ("audit", audit("state", previous="active", current="halted", cause="state_lost"), None),  # the guard names it
        ("audit", audit("state", message="ALERT: state_lost", by="bot", level="alert", alert="state_lost"), AlertKind.STATE_LOST),
        # news on top of another halt too
        ("audit", audit("state", previous="HALTED", current="HALTED", cause="loss_limit"), AlertKind.LOSS_LIMIT),
        ("audit", audit("state", previous="active", current="halted", cause="operator"), None),  # the command says it
        ("audit", audit("state", previous="halted", current="active", cause="resume"), None),
        # a command's final outcome
        ("audit", audit("command", type="close-all", status="done", by="dashboard"), AlertKind.KILL_SWITCH),
        ("audit", audit("command", type="close-all", status="failed", by="dashboard"), AlertKind.KILL_SWITCH),
        ("audit", audit("command", type="close-all", status="accepted", by="dashboard"), None),
        ("audit", audit("command", type="halt", status="done", by="cli"), AlertKind.HALT),
        ("audit", audit("command", type="resume", status="done", by="cli"), None),
        # fills: live on, paper its own kind (off by default)
        ("audit", audit("fill", mode="live"), AlertKind.LIVE_FILL),
        ("audit", audit("fill", mode="paper"), AlertKind.PAPER_FILL),
        ("audit", audit("venue_order", mode="live"), None),
        # other streams raise nothing; unreadable data is no alert, not an error
        ("trades", {"trade_id": "t"}, None),
        ("audit", {"kind": "fill", "message": "x", "data": "{not json"}, AlertKind.PAPER_FILL),
        ("audit", {"kind": "state", "message": "x", "data": "[1, 2]"}, None),
    ],
)
def test_alert_for_when_a_record_is_copied_then_its_alert_or_none(stream, fields, expected):
    alert = alert_for(stream, fields, bot_id="b1", mode="paper")

    assert (alert.kind if alert else None) == expected
    if alert:
        assert alert.title.startswith("[b1 paper] ")


def test_alert_for_when_a_kill_switch_finishes_then_it_says_who_why_and_the_result():
    fields = audit("command", message="close-all from dashboard: done — flat", type="close-all", status="done",
                   by="dashboard", args={"reason": "panic"})

    alert = alert_for("audit", fields, bot_id="b1", mode="paper")

    assert alert is not None
    assert "by dashboard" in alert.body and "panic" in alert.body and "done" in alert.body


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("2025-05", "2025-05-01", "2025-06-01"),
        ("2025-12", "2025-12-01", "2026-01-01"),  # the year rolls over
        ("2024-02", "2024-02-01", "2024-03-01"),
    ],
)
def test_month_range_when_a_month_then_its_first_day_to_the_next(text, start, end):
    assert month_range(text)[:2] == (parse_when(start), parse_when(end))


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "2025-5", "May 2025", ""])
def test_month_range_when_not_a_month_then_config_error(text):
    with pytest.raises(ConfigError, match="--month"):
        month_range(text)


@pytest.mark.parametrize(
    "text, start",
    [("2025-W21", "2025-05-19"), ("2025-W01", "2024-12-30"), ("2020-W53", "2020-12-28")],
)
def test_week_range_when_an_iso_week_then_monday_to_monday(text, start):
    begin, end, _ = week_range(text)
    assert begin == parse_when(start) and end - begin == 7 * 86_400_000


@pytest.mark.parametrize("text", ["2025-W54", "2025-W00", "2025-21", "2021-W53"])
def test_week_range_when_not_an_iso_week_then_config_error(text):
    with pytest.raises(ConfigError, match="--week"):
        week_range(text)
