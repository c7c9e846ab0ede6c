"""The Live tab from prepared Redis state (AppTest, real Redis): risk status in colours, positions with
leverage, margin, P&L and liquidation price, the emergency controls, live trades, the go-live checklist
with what is unmet, and the approval form recording the typed acknowledgement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import CommandType, ExitReason, Mode, Position, Side, Trade

from test_dashboard_app import FakeHandler, _markdown, _seed_running_bot, app  # noqa: F401  (app: a fixture)

pytestmark = pytest.mark.slow
D = Decimal
APPROVAL = ("I accept a 50 USDT maximum position and a 25 USDT daily loss limit; "
            "the kill switch is KILL SWITCH in the dashboard sidebar and main.py close-all")


def seed_live(store, **risk: str) -> int:
    now = _seed_running_bot(store, mode="live", trading_state=risk.pop("trading_state", "ACTIVE"))
    store.write_positions([Position("ETH/USDT:USDT", Side.LONG, D("0.01"), D("2500"), leverage=1,
                                    mark_price=D("2450"), unrealized_pnl=D("-0.50"), isolated_margin=D("25"),
                                    liquidation_price=D("12.5"))])
    store.write_risk({"margin_utilisation_pct": "12.5", "liquidation_risk_pct": "2.01", "daily_pnl": "-3",
                      "weekly_pnl": "-8", **risk})
    store.append_trade(Trade("lt1", "BTC/USDT:USDT", Side.LONG, D("0.0005"), D("77000"), D("77500"), now - 120_000,
                             now - 60_000, D("0.25"), D("0.03"), D("0.22"), ExitReason.TAKE_PROFIT, Mode.LIVE))
    return now


def test_live_tab_when_the_risk_is_within_limits_then_green_and_the_positions_and_trades_show(app, store):
    seed_live(store)

    at = app(tab="Live")

    assert not at.exception
    text = _markdown(at)
    assert "**Margin utilisation**: :green[12.50 % of 50 %]" in text
    assert "**Daily loss**: :green[3.00 of 25 USDT]" in text
    assert "**Weekly loss**: :green[8.00 of 100 USDT]" in text
    assert "**Trading state**: :green[ACTIVE]" in text
    cells = {str(v) for df in at.dataframe for v in df.value.to_numpy().ravel()}
    assert {"ETH/USDT:USDT", "1x", "25.00", "12.5", "-0.50", "BTC/USDT:USDT", "+0.22"} <= cells
    assert {b.label for b in at.button} >= {"CLOSE ALL POSITIONS", "HALT BOT"}


@pytest.mark.parametrize(
    ("risk", "line"),
    [({"daily_pnl": "-12.5"}, "**Daily loss**: :orange[12.50 of 25 USDT]"),
     ({"daily_pnl": "-25"}, "**Daily loss**: :red[25.00 of 25 USDT]"),
     ({"liquidation_risk_pct": "80"}, "**Liquidation risk**: :orange[80.00 % (alert 80 %, close 90 %)]"),
     ({"liquidation_risk_pct": "90"}, "**Liquidation risk**: :red[90.00 % (alert 80 %, close 90 %)]"),
     ({"margin_utilisation_pct": "50"}, "**Margin utilisation**: :red[50.00 % of 50 %]"),
     ({"trading_state": "HALTED"}, "**Trading state**: :red[HALTED]")],
)
def test_live_tab_when_a_figure_reaches_its_limit_then_its_colour_changes(app, store, risk, line):
    seed_live(store, **risk)

    assert line in _markdown(app(tab="Live"))


def test_live_tab_when_no_evidence_then_the_checklist_lists_what_is_unmet(app, store):
    seed_live(store)

    text = _markdown(app(tab="Live"))

    assert ":red[**" in text and "go-live conditions unmet**]" in text
    assert ":red[✘ unmet] **paper validated**: 0 closed paper trades (need ≥ 5)" in text
    assert ":red[✘ unmet] **approval**: not recorded" in text
    assert "first live trade: closed, P&L 0.22 USDT" in text


def test_live_tab_when_the_approval_is_typed_exactly_then_recorded_in_the_audit_stream(app, store):
    seed_live(store)
    at = app(tab="Live")
    at.text_input(key="live_approval_text").input("I agree")
    at.button[[b.label for b in at.button].index("Record approval")].click().run()
    assert store.read_audit(50, kinds=["approval"]) == []
    assert any("type exactly" in e.value for e in at.error)

    at.text_input(key="live_approval_text").input(APPROVAL)
    at.button[[b.label for b in at.button].index("Record approval")].click().run()

    [event] = store.read_audit(50, kinds=["approval"])
    assert event.data["by"] == "dashboard" and event.data["max_daily_loss_usdt"] == "25"


def test_live_tab_when_close_all_positions_pressed_then_the_kill_switch_command_is_sent(app, store):
    seed_live(store)
    at = app(tab="Live")

    with FakeHandler(store) as handler:
        at.button(key="live_close_all").click().run()

    assert [c["type"] for c in handler.seen] == [CommandType.CLOSE_ALL.value]


def test_live_tab_when_the_weekly_loss_halted_then_a_typed_review_is_recorded_and_a_resume_sent(app, store):
    from clock import SystemClock
    from control.trading_state import TradingStateControl
    from models import HaltCause

    seed_live(store, trading_state="HALTED")
    TradingStateControl(store, SystemClock()).halt(HaltCause.WEEKLY_LOSS_LIMIT, "risk-monitor", "weekly loss 101 USDT")
    at = app(tab="Live")
    assert "HALTED by the weekly loss limit" in _markdown(at)

    with FakeHandler(store) as handler:
        at.text_input(key="live_review_text").input("I have reviewed this week's losses")
        at.button[[b.label for b in at.button].index("Record review and resume")].click().run()

    [review] = store.read_audit(50, kinds=["review"])
    assert review.data["by"] == "dashboard"
    assert [c["type"] for c in handler.seen] == [CommandType.RESUME.value]
