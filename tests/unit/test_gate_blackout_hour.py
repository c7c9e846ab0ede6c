"""The gate's blackout hours read the UTC hour from the epoch milliseconds by arithmetic (s6-bt): at every
hour boundary, before 1970 and past the year 9999 it must name the hour a UTC clock shows."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from models import Mode, Side, TradingState
from risk.gate import PreTradeCheck, check_order
from risk.limits import effective_limits
from settings import RiskSettings

LIVE = effective_limits(RiskSettings(), leverage=1, mode=Mode.LIVE)  # blackout 22:00-01:59 UTC by default
HOUR = 3_600_000
DAY = 24 * HOUR


def entry_at(now_ms: int) -> PreTradeCheck:
    return PreTradeCheck(
        trading_state=TradingState.ACTIVE, symbol="BTC/USDT:USDT", side=Side.LONG, qty=Decimal("0.0001"),
        price=Decimal("100"), reduce_only=False, equity=Decimal("10000"), wallet_balance=Decimal("10000"), positions=(),
        price_age_s=0.0, stale_after_s=120.0, daily_pnl=Decimal("0"), weekly_pnl=Decimal("0"),
        margin_used=Decimal("0"), leverage=1, now_ms=now_ms, mark_price=Decimal("100"))


@pytest.mark.parametrize("now_ms", [
    0, 1, HOUR - 1, HOUR, 2 * HOUR - 1, 2 * HOUR, 21 * HOUR + HOUR - 1, 22 * HOUR, DAY - 1, DAY,
    -1, -HOUR, -HOUR - 1, -2 * HOUR, -DAY,  # before 1970: the hour before midnight is 23
    1_746_000_000_000, 1_746_000_000_000 // HOUR * HOUR - 1,  # 2025, on and just before an hour
    253_402_300_799_999,  # 9999-12-31 23:59:59.999, the last instant datetime can show
])
def test_entry_when_at_an_hour_boundary_then_blackout_by_the_utc_clock_hour(now_ms):
    shown = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).hour
    denial = check_order(entry_at(now_ms), LIVE)
    in_blackout = denial is not None and denial.reason_code == "blackout"
    assert in_blackout == (shown in LIVE.usdt.blackout_hours_utc), (now_ms, shown, denial)
    if in_blackout:
        assert f"{shown:02d}:00" in denial.detail


def test_entry_when_after_the_year_9999_then_still_one_answer_not_an_error():
    denial = check_order(entry_at(10**17), LIVE)  # a clock gone mad: datetime cannot show it
    assert denial is None or denial.reason_code  # answered, not raised
