"""Hard limits: in live mode config can only tighten them; ghost and paper use the config."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from models import Mode
from risk import limits as hard
from risk.limits import effective_limits, estimated_liquidation_distance_pct
from risk.live_limits import LIVE_MAX_POSITION_USDT
from settings import RiskSettings

D = Decimal
LOOSE = RiskSettings(
    max_open_positions=50, max_position_pct=D("100"), max_total_exposure_pct=D("1000"), max_margin_use_pct=D("100"),
    daily_loss_limit_pct=D("100"), weekly_loss_limit_pct=D("100"), min_liquidation_distance_pct=D("0"),
)


def test_effective_limits_when_live_and_config_loose_then_hard_limits():
    limits = effective_limits(LOOSE, leverage=20, mode=Mode.LIVE)

    assert limits.max_open_positions == hard.HARD_MAX_OPEN_POSITIONS == 2
    assert limits.max_position_pct == hard.HARD_MAX_POSITION_PCT == D("10")
    assert limits.max_total_exposure_pct == hard.HARD_MAX_TOTAL_EXPOSURE_PCT == D("50")
    assert limits.daily_loss_limit_pct == D("3") and limits.weekly_loss_limit_pct == D("6")
    assert limits.min_liquidation_distance_pct == D("10")
    assert limits.max_order_notional == D("50")  # rule 1: 50 USDT a position
    assert (limits.max_leverage, limits.leverage) == (1, 1)


def test_effective_limits_when_live_and_config_tighter_then_config():
    tight = RiskSettings(max_open_positions=1, max_position_pct=D("2"), daily_loss_limit_pct=D("1"), min_liquidation_distance_pct=D("30"))

    limits = effective_limits(tight, leverage=2, mode=Mode.LIVE)

    assert (limits.max_open_positions, limits.max_position_pct, limits.daily_loss_limit_pct) == (1, D("2"), D("1"))
    assert limits.min_liquidation_distance_pct == D("30")
    assert limits.leverage == 1  # 2x asked, 1x is the most live allows


def test_effective_limits_when_paper_or_ghost_then_config_as_written():
    for mode in (Mode.PAPER, Mode.GHOST):
        limits = effective_limits(LOOSE, leverage=20, mode=mode)

        assert (limits.max_open_positions, limits.max_position_pct, limits.max_order_notional) == (50, D("100"), None)
        assert limits.leverage == 20


@given(
    positions=st.integers(1, 50),
    position_pct=st.decimals("0.01", "100", places=2),
    exposure_pct=st.decimals("0.01", "1000", places=2),
    margin_pct=st.decimals("0.01", "100", places=2),
    daily=st.decimals("0.01", "100", places=2),
    weekly=st.decimals("0.01", "100", places=2),
    liq=st.decimals("0", "100", places=2),
    leverage=st.integers(1, 125),
)
def test_effective_limits_when_live_with_any_config_then_never_looser_than_hard(
    positions, position_pct, exposure_pct, margin_pct, daily, weekly, liq, leverage
):
    risk = RiskSettings(
        max_open_positions=positions, max_position_pct=position_pct, max_total_exposure_pct=exposure_pct,
        max_margin_use_pct=margin_pct, daily_loss_limit_pct=daily, weekly_loss_limit_pct=weekly,
        min_liquidation_distance_pct=liq,
    )

    limits = effective_limits(risk, leverage, Mode.LIVE)

    assert limits.max_open_positions <= hard.HARD_MAX_OPEN_POSITIONS
    assert limits.max_position_pct <= hard.HARD_MAX_POSITION_PCT
    assert limits.max_total_exposure_pct <= hard.HARD_MAX_TOTAL_EXPOSURE_PCT
    assert limits.max_margin_use_pct <= hard.HARD_MAX_MARGIN_USE_PCT
    assert limits.daily_loss_limit_pct <= hard.HARD_DAILY_LOSS_LIMIT_PCT
    assert limits.weekly_loss_limit_pct <= hard.HARD_WEEKLY_LOSS_LIMIT_PCT
    assert limits.min_liquidation_distance_pct >= hard.HARD_MIN_LIQUIDATION_DISTANCE_PCT
    assert limits.max_leverage <= hard.HARD_MAX_LEVERAGE and limits.leverage <= hard.HARD_MAX_LEVERAGE
    assert limits.max_order_notional == LIVE_MAX_POSITION_USDT


def test_estimated_liquidation_distance_when_leverage_given_then_inverse_minus_maintenance():
    assert estimated_liquidation_distance_pct(5) == D("19.5")  # 100 / 5 − 0.5
    assert estimated_liquidation_distance_pct(10) == D("9.5")
