"""Position sizing: every method and every threshold at, just below and just above its boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import Denial
from risk.levels import resolve_risk
from risk.sizing import SizingDecision, SizingInput, size_position
from settings import SizingSettings, StopSettings, StrategySettings, StrengthScaling

D = Decimal
EQUITY = D("10000")


def resolved(method="fixed_percent", scaling=None, **sizing):
    return resolve_risk(SizingSettings(method=method, strength_scaling=scaling, **sizing), StrategySettings(), StopSettings())


def inp(entry="100", stop="98", strength=0.8, buys=0, equity=EQUITY, max_notional=None) -> SizingInput:
    return SizingInput(equity=D(equity), entry_price=D(entry), stop_price=D(stop), strength=strength,
                       buys_last_24h=buys, max_notional=None if max_notional is None else D(max_notional))


def test_fixed_percent_when_level_5_then_ten_percent_of_equity():
    # 10 % of 10 000 = 1 000 notional; at 100 that is 10 units.
    decision = size_position(resolved("fixed_percent"), inp())

    assert isinstance(decision, SizingDecision)
    assert (decision.notional, decision.qty, decision.method) == (D("1000"), D("10"), "fixed_percent")


def test_fixed_percent_when_set_explicitly_then_overrides_level():
    decision = size_position(resolved("fixed_percent", fixed_percent=D("4")), inp())

    assert decision.notional == D("400")


@pytest.mark.parametrize(
    ("buys", "notional"),
    [
        (0, D("1000")),  # 1st entry in 24 h: 10 %
        (1, D("700")),  # 2nd: 7 %
        (2, D("500")),  # 3rd: 5 %
        (3, None),  # 4th: max_buys_per_24h = 3 reached
    ],
)
def test_tiered_when_buys_in_24h_counted_then_tier_or_max_buys_reached(buys, notional):
    decision = size_position(resolved("tiered"), inp(buys=buys))

    if notional is None:
        assert decision == Denial("max_buys_reached", "3 entries in the last 24 h, max 3")
    else:
        assert decision.notional == notional


def test_tiered_when_more_buys_allowed_than_tiers_then_last_tier_repeats():
    decision = size_position(resolved("tiered", max_buys_per_24h=5), inp(buys=4))

    assert decision.notional == D("500")


@pytest.mark.parametrize(
    ("entry", "stop", "qty"),
    [
        ("100", "98", D("50")),  # long: 1 % of 10 000 = 100 at risk / 2 per unit = 50 units
        ("100", "102", D("50")),  # short: the same distance above
        ("100", "99.5", D("200")),  # 100 / 0.5
        ("2000", "1960", D("2.5")),  # 100 / 40
    ],
)
def test_fixed_risk_when_stop_distance_given_then_qty_loses_risk_pct_at_the_stop(entry, stop, qty):
    decision = size_position(resolved("fixed_risk"), inp(entry=entry, stop=stop))

    assert decision.qty == qty
    assert decision.notional == qty * D(entry)


def test_fixed_risk_when_stop_equals_entry_then_denied():
    decision = size_position(resolved("fixed_risk"), inp(stop="100"))

    assert isinstance(decision, Denial) and decision.reason_code == "invalid_stop"


@given(
    equity=st.decimals("100", "1000000", places=2),
    entry=st.decimals("0.01", "200000", places=2),
    distance_pct=st.decimals("0.1", "10", places=2),
    risk_pct=st.decimals("0.1", "3", places=2),
)
def test_fixed_risk_when_any_inputs_then_loss_at_stop_is_risk_pct_of_equity(equity, entry, distance_pct, risk_pct):
    stop = entry * (1 - distance_pct / 100)
    decision = size_position(resolved("fixed_risk", risk_percent=risk_pct), inp(entry=entry, stop=stop, equity=equity))

    assert abs(decision.qty * (entry - stop) - equity * risk_pct / 100) <= D("1e-12") * equity


@pytest.mark.parametrize(
    ("strength", "multiplier"),
    [
        (0.0, D("0.3")),
        (0.39, D("0.3")),  # low
        (0.4, D("0.7")),  # medium starts at 0.4
        (0.69, D("0.7")),
        (0.7, D("1.0")),  # high starts at 0.7
        (1.0, D("1.0")),
    ],
)
def test_strength_scaling_when_strength_around_bands_then_multiplier_of_its_band(strength, multiplier):
    decision = size_position(resolved("fixed_percent", scaling=StrengthScaling()), inp(strength=strength))

    assert decision.notional == D("1000") * multiplier
    assert decision.qty == D("10") * multiplier


def test_strength_scaling_when_disabled_then_weak_signals_get_full_size():
    decision = size_position(resolved("fixed_percent", scaling=None), inp(strength=0.1))

    assert decision.notional == D("1000")


def test_strength_scaling_when_applied_to_fixed_risk_then_risk_scales_too():
    decision = size_position(resolved("fixed_risk", scaling=StrengthScaling()), inp(strength=0.5))

    assert decision.qty == D("35")  # 50 units × 0.7
    assert "strength 0.50 (medium) ×0.7" in decision.detail


@pytest.mark.parametrize(("cap", "notional"), [("999.99", D("999.99")), ("1000", D("1000")), ("1000.01", D("1000"))])
def test_max_notional_when_around_size_then_caps_only_above(cap, notional):
    decision = size_position(resolved("fixed_percent"), inp(max_notional=cap))

    assert decision.notional == notional
    assert ("capped" in decision.detail) is (notional < D("1000"))


@pytest.mark.parametrize(("equity", "entry", "code"), [("0", "100", "no_equity"), ("-5", "100", "no_equity"), ("100", "0", "invalid_price")])
def test_size_position_when_input_absurd_then_denied(equity, entry, code):
    decision = size_position(resolved("fixed_percent"), inp(equity=equity, entry=entry))

    assert isinstance(decision, Denial) and decision.reason_code == code


def test_size_position_when_scaled_to_zero_then_denied():
    scaling = StrengthScaling(low=D("0"))

    decision = size_position(resolved("fixed_percent", scaling=scaling), inp(strength=0.1))

    assert isinstance(decision, Denial) and decision.reason_code == "zero_size"


def test_sizing_detail_when_decided_then_explains_with_numbers():
    decision = size_position(resolved("fixed_risk"), inp())

    assert decision.detail == "1.00% of equity 10000 = 100.00 at risk / stop distance 2 → notional 5000.00, qty 50"
