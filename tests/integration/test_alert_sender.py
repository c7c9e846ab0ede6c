"""The journal sync and the alert sender on a real Redis with the real apprise and a real local receiver:
retries until the receiver answers, the repeat window, the daily summary once a day, old records silent."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from alerts.events import AlertKind, Delivery
from alerts.sender import AlertSender, apprise_notifier
from clock import SimulatedClock, SystemClock
from control.trading_state import TradingStateControl
from embedded_redis import free_port
from journal.store import Journal
from journal.sync import JournalSync
from models import AuditEvent, ExitReason, HaltCause, Mode, Side, Trade
from processes import wait_for
from test_alerts_journal import Receiver

DAY = 86_400_000
TODAY = 1_748_736_000_000  # 2025-06-01 00:00 UTC


def trade(trade_id: str, exit_ms: int, pnl: str) -> Trade:
    return Trade(trade_id, "BTC/USDT:USDT", Side.LONG, Decimal("0.001"), Decimal("100000"), Decimal("100100"),
                 exit_ms - 60_000, exit_ms, Decimal(pnl) + Decimal("0.08"), Decimal("0.08"), Decimal(pnl),
                 ExitReason.TAKE_PROFIT, Mode.PAPER)


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "bot.sqlite3")
    yield j
    j.close()


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    yield r
    r.down()


def sender(journal, receiver, clock, **kw) -> AlertSender:
    return AlertSender(journal, apprise_notifier([receiver.url]), clock, retry_seconds=kw.get("retry", (0.2,)),
                       dedupe_seconds=kw.get("dedupe", 300))


def test_send_when_the_receiver_is_down_then_retried_with_backoff_and_sent_once_it_is_up(store, journal, receiver):
    clock = SystemClock()
    TradingStateControl(store, clock).halt(HaltCause.CIRCUIT_BREAKER, "circuit-breaker", "5 failures")
    sync = JournalSync(store, journal, clock, bot_id=store.bot_id, default_mode="paper", daily_summary=False)
    sync.sync_once()
    out = sender(journal, receiver, clock)

    assert out.send_due() == 0  # nobody listens
    assert journal.alerts()[0]["status"] == "pending" and journal.alerts()[0]["attempts"] == 1
    assert out.send_due() == 0  # not due again before its retry time
    receiver.up()
    wait_for(lambda: out.send_due() == 1, 5, "the retried alert delivered", interval_s=0.05)

    assert receiver.kinds() == ["circuit_breaker"]
    assert out.send_due() == 0 and receiver.kinds() == ["circuit_breaker"]
    sync.sync_once()  # copied again: still one alert
    assert out.send_due() == 0 and len(receiver.received) == 1


def test_send_when_the_same_alert_repeats_inside_the_window_then_suppressed_and_after_it_sent(store, journal, receiver):
    receiver.up()
    clock = SimulatedClock(int(time.time() * 1000))
    sync = JournalSync(store, journal, clock, bot_id=store.bot_id, default_mode="paper", daily_summary=False)
    out = sender(journal, receiver, clock, dedupe=60)
    crash = AuditEvent("supervisor", clock.now_ms(), "bot crashed (exit code -9); restarting in 1s", {"alert": "bot_crashed"})

    store.audit(crash)
    sync.sync_once()
    out.send_due()
    clock.set(clock.now_ms() + 59_000)
    store.audit(crash)
    sync.sync_once()
    out.send_due()
    clock.set(clock.now_ms() + 2_000)
    store.audit(crash)
    sync.sync_once()
    out.send_due()

    assert receiver.kinds() == ["bot_crashed", "bot_crashed"]
    assert [a["status"] for a in journal.alerts()] == ["sent", "suppressed", "sent"]


def test_sync_when_a_utc_day_is_over_then_one_daily_summary_with_its_trades(store, journal, receiver):
    receiver.up()
    clock = SimulatedClock(TODAY - DAY + 3_600_000)  # the journal exists during yesterday
    sync = JournalSync(store, journal, clock, bot_id=store.bot_id, default_mode="paper")
    sync.sync_once()
    for trade_id, exit_ms, pnl in [("a", TODAY - DAY + 7_200_000, "12.50"), ("b", TODAY - 60_000, "-2.25"),
                                   ("c", TODAY + 60_000, "99")]:  # c closes today: tomorrow's summary
        store.append_trade(trade(trade_id, exit_ms, pnl))
    clock.set(TODAY + 120_000)

    sync.sync_once()
    sync.sync_once()
    sender(journal, receiver, clock).send_due()

    assert receiver.kinds() == ["daily_summary"]
    body = receiver.received[0]["message"]
    assert "2025-05-31" in body and "2 trade(s)" in body and "net P&L 10.25 USDT" in body and "win rate 50 %" in body


@pytest.mark.parametrize(
    "delivery, status, sent",
    [(Delivery.ON, "sent", 1), (Delivery.SILENT, "silent", 0), (Delivery.OFF, None, 0)],
)
def test_sync_when_an_event_is_on_silent_or_off_then_sent_recorded_or_nothing(store, journal, receiver, delivery, status, sent):
    receiver.up()
    clock = SystemClock()
    TradingStateControl(store, clock).halt(HaltCause.LOSS_LIMIT, "risk", "daily loss 5 %")
    sync = JournalSync(store, journal, clock, bot_id=store.bot_id, default_mode="paper", daily_summary=False,
                       delivery={AlertKind.LOSS_LIMIT: delivery})
    sync.sync_once()
    sender(journal, receiver, clock).send_due()

    assert [a["status"] for a in journal.alerts()] == ([status] if status else [])
    assert len(receiver.received) == sent


def test_sync_when_records_are_older_than_the_max_age_then_journaled_but_no_alert(store, journal, receiver):
    TradingStateControl(store, SystemClock()).halt(HaltCause.CIRCUIT_BREAKER, "circuit-breaker", "old")
    later = SimulatedClock(int(time.time() * 1000) + 601_000)
    sync = JournalSync(store, journal, later, bot_id=store.bot_id, default_mode="paper", daily_summary=False,
                       max_age_seconds=600)
    sync.sync_once()

    assert journal.count(kinds=["state"]) == 1
    assert journal.alerts() == []


def test_apprise_notifier_when_a_url_is_not_understood_then_error_names_the_scheme_not_the_url():
    with pytest.raises(ValueError) as caught:
        apprise_notifier(["nosuchscheme://user:hunter2@example"])
    assert "nosuchscheme" in str(caught.value) and "hunter2" not in str(caught.value)


def test_alerts_when_the_risk_monitor_the_approval_and_a_live_fill_write_their_records_then_each_arrives_once(
    store, journal, receiver
):
    from control import go_live

    receiver.up()
    clock = SystemClock()
    now = clock.now_ms()
    # the records exactly as the engine, the go-live approval and the live executor write them
    store.audit(AuditEvent("alert", now, "ALERT: ETH/USDT:USDT liquidation risk 81.0% ≥ 80%",
                           {"symbol": "ETH/USDT:USDT", "risk_pct": "81.0", "alert": "liquidation_risk"}))
    store.audit(AuditEvent("alert", now, "ALERT: ETH/USDT:USDT liquidation risk 91.0% ≥ 90%: closing it reduce-only",
                           {"symbol": "ETH/USDT:USDT", "risk_pct": "91.0", "alert": "liquidation_close"}))
    record = go_live.approval_record(go_live.approval_text(Decimal("50"), Decimal("25")), "cli", now, {})
    store.audit(go_live.approval_event(record))
    store.audit(AuditEvent("fill", now, "ETH/USDT:USDT buy 0.02 @ 1800.00 fee 0.0144 (ETH1-en)",
                           {"symbol": "ETH/USDT:USDT", "fill_key": "ETH1-en|1|0.02|1800", "mode": "live"}))
    sync = JournalSync(store, journal, clock, bot_id=store.bot_id, default_mode="live", daily_summary=False)
    out = sender(journal, receiver, clock)

    sync.sync_once()
    sync.sync_once()
    out.send_due()
    out.send_due()

    assert sorted(receiver.kinds()) == ["go_live_approval", "liquidation_close", "liquidation_risk", "live_fill"]


def test_sync_when_a_restarted_bot_reports_the_same_gap_again_then_one_row_and_one_alert(store, journal, receiver):
    from bot.gap_report import GapReporter

    receiver.up()
    clock = SystemClock()
    gap = {"symbol": "BTC/USDT:USDT", "from_ms": TODAY, "to_ms": TODAY + 269 * 60_000, "missing": 270}
    for _ in range(3):  # each start's back-fill finds the same hole; each process reports it once
        GapReporter(store, "replay", lambda kind, message, **data: store.audit(
            AuditEvent(kind, clock.now_ms(), message, data))).report([gap])
    sync = JournalSync(store, journal, clock, bot_id=store.bot_id, default_mode="paper", daily_summary=False)

    sync.sync_once()
    sender(journal, receiver, clock).send_due()

    assert receiver.kinds() == ["data_gap"]
    assert journal.count(stream="audit", kinds=["gap"]) == 1
