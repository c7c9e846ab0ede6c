"""The risk monitor's recommendation at each of its thresholds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import Account, Mode, Position, Side, TradingState, to_record
from risk.limits import effective_limits
from risk.monitor import assess, loss_limit_in_force
from settings import RiskSettings

D = Decimal
LIMITS = effective_limits(RiskSettings(), leverage=5, mode=Mode.PAPER)  # 5 %/10 % loss, 60 % margin, 5 % liq


def account(equity="10000", margin="0") -> Account:
    return Account(wallet_balance=D(equity), unrealized_pnl=D("0"), margin_used=D(margin), available=D(equity))


def report(equity="10000", margin="0", day_start="10000", week_start="10000", positions=()):
    return assess(account(equity, margin), positions, D(day_start), D(week_start), LIMITS)


def test_assess_when_nothing_wrong_then_active():
    r = report()

    assert (r.state_recommendation, r.reason, r.worst_liquidation_distance_pct) == (TradingState.ACTIVE, "", None)
    assert not loss_limit_in_force(r)


@pytest.mark.parametrize(
    ("equity", "day_start", "week_start", "state"),
    [
        ("9501", "10000", "10000", TradingState.ACTIVE),  # 4.99 % down on the day
        ("9500", "10000", "10000", TradingState.HALTED),  # 5 %: the daily limit is reached
        ("9901", "9901", "11000", TradingState.ACTIVE),  # 9.99 % down on the week
        ("9900", "9900", "11000", TradingState.HALTED),  # 10 % on the week
    ],
)
def test_assess_when_loss_around_limit_then_halted_once_reached(equity, day_start, week_start, state):
    r = report(equity=equity, day_start=day_start, week_start=week_start)

    assert r.state_recommendation is state
    assert loss_limit_in_force(r) is (state is TradingState.HALTED)


def test_assess_when_daily_loss_reached_then_report_has_the_figures():
    r = report(equity="9500", day_start="10000", week_start="10200")

    assert (r.daily_pnl, r.daily_loss_pct, r.weekly_pnl) == (D("-500"), D("5.0000"), D("-700"))
    assert r.reason == "daily_loss_limit" and r.detail == "daily loss 5.00% ≥ limit 5%"


@pytest.mark.parametrize(("margin", "state"), [("6000", TradingState.ACTIVE), ("6001", TradingState.REDUCING)])
def test_assess_when_margin_use_around_max_then_reducing_above(margin, state):
    r = report(margin=margin)

    assert r.state_recommendation is state
    assert r.reason == ("margin_use" if state is TradingState.REDUCING else "")


@pytest.mark.parametrize(("liquidation", "state"), [("95", TradingState.ACTIVE), ("95.01", TradingState.REDUCING)])
def test_assess_when_liquidation_distance_around_min_then_reducing_below(liquidation, state):
    # A long marked at 100 with liquidation at 95 is exactly 5 % away.
    position = Position("BTC", Side.LONG, D("1"), D("100"), leverage=5, mark_price=D("100"), liquidation_price=D(liquidation))

    r = report(positions=(position,))

    assert r.state_recommendation is state


def test_assess_when_loss_limit_and_margin_both_breached_then_halt_wins():
    r = report(equity="9000", margin="9000")  # 10 %: the day's 5 % and the week's 10 % are both reached

    assert (r.state_recommendation, r.reason) == (TradingState.HALTED, "weekly_loss_limit")


def test_assess_when_positions_open_then_exposure_and_estimated_liquidation_distance():
    # Two positions of 2 000 and 1 000 notional on 10 000 equity = 30 %; short at 5x, no venue price: 19.5 %.
    positions = (
        Position("BTC", Side.LONG, D("20"), D("100"), leverage=2, mark_price=D("100"), liquidation_price=D("60")),
        Position("ETH", Side.SHORT, D("10"), D("100"), leverage=5),
    )

    r = report(positions=positions)

    assert r.exposure_pct == D("30.0000")
    assert r.worst_liquidation_distance_pct == D("19.5000")


def test_assess_when_report_stored_then_flat_record():
    record = to_record(report(equity="9500"))

    assert record["state_recommendation"] == "HALTED" and record["daily_loss_pct"] == "5.0000"
