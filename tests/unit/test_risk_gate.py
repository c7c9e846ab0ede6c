"""The pre-trade gate: each rule at its boundary, and reduce-only orders always through."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import Mode, Position, Side, TradingState
from risk.gate import PreTradeCheck, check_order
from risk.limits import effective_limits
from settings import RiskSettings

D = Decimal
# Paper limits from the defaults: 5 positions, 25 % per position, 150 % exposure, 60 % margin,
# 5 % daily / 10 % weekly loss, 5 % liquidation distance; trading at 5x.
LIMITS = effective_limits(RiskSettings(), leverage=5, mode=Mode.PAPER)
LIVE = effective_limits(RiskSettings(), leverage=5, mode=Mode.LIVE)


def check(**overrides) -> PreTradeCheck:
    base = dict(
        trading_state=TradingState.ACTIVE, symbol="BTC", side=Side.LONG, qty=D("1"), price=D("100"), reduce_only=False,
        equity=D("10000"), wallet_balance=D("10000"), positions=(), price_age_s=0.0, stale_after_s=120.0,
        daily_pnl=D("0"), weekly_pnl=D("0"), margin_used=D("0"), leverage=5,
    )
    base.update(overrides)
    return PreTradeCheck(**base)


def pos(symbol="ETH", side=Side.LONG, qty="1", price="100") -> Position:
    return Position(symbol, side, D(qty), D(price), leverage=5, mark_price=D(price))


def code(c: PreTradeCheck, limits=LIMITS) -> str | None:
    denial = check_order(c, limits)
    return None if denial is None else denial.reason_code


def test_check_order_when_everything_fine_then_none():
    assert check_order(check(), LIMITS) is None


# ------------------------------------------------------------------------------------ trading state


@pytest.mark.parametrize(
    ("state", "reduce_only", "side", "expected"),
    [
        (TradingState.HALTED, False, Side.LONG, "halted"),
        (TradingState.HALTED, True, Side.SHORT, None),  # reduce-only closes still work when halted
        (TradingState.HALTED, False, Side.SHORT, "halted"),  # even a reducing order needs the flag when halted
        (TradingState.REDUCING, False, Side.LONG, "reducing"),  # adds to the long
        (TradingState.REDUCING, False, Side.SHORT, None),  # sells 1 of the 2 held: reduces
        (TradingState.REDUCING, True, Side.SHORT, None),
        (TradingState.ACTIVE, False, Side.SHORT, None),
    ],
)
def test_check_order_when_trading_state_restricts_then_only_reducing_orders_pass(state, reduce_only, side, expected):
    c = check(trading_state=state, reduce_only=reduce_only, side=side, symbol="ETH", positions=(pos("ETH", qty="2"),))

    assert code(c) == expected


@pytest.mark.parametrize(("qty", "expected"), [("2", None), ("2.001", "reducing")])
def test_check_order_when_reducing_and_order_would_flip_position_then_denied(qty, expected):
    c = check(trading_state=TradingState.REDUCING, side=Side.SHORT, qty=D(qty), symbol="ETH", positions=(pos("ETH", qty="2"),))

    assert code(c) == expected


@pytest.mark.parametrize(("qty", "reduce_only"), [("0", False), ("-1", False), ("0", True), ("-0.5", True)])
def test_check_order_when_qty_not_positive_then_invalid_qty_even_reduce_only(qty, reduce_only):
    assert code(check(qty=D(qty), reduce_only=reduce_only)) == "invalid_qty"


@given(
    state=st.sampled_from(TradingState),
    age=st.floats(0, 1e6),
    daily=st.decimals("-100000", "100000", places=2),
    margin=st.decimals("0", "100000", places=2),
    leverage=st.integers(1, 125),
    qty=st.decimals("0.001", "1000000", places=3),
)
def test_check_order_when_reduce_only_with_any_state_then_passes(state, age, daily, margin, leverage, qty):
    c = check(trading_state=state, reduce_only=True, side=Side.SHORT, qty=qty, price_age_s=age, daily_pnl=daily,
              weekly_pnl=daily, margin_used=margin, leverage=leverage, positions=(pos("BTC"),))

    assert check_order(c, LIVE) is None


# -------------------------------------------------------------------------------------- market data


@pytest.mark.parametrize(("age", "expected"), [(119.9, None), (120.0, None), (120.1, "stale_price")])
def test_check_order_when_price_age_around_stale_after_then_denied_only_beyond(age, expected):
    assert code(check(price_age_s=age)) == expected


def test_check_order_when_price_stale_and_order_reduce_only_then_passes():
    assert code(check(price_age_s=999.0, reduce_only=True)) is None


# --------------------------------------------------------------------------------------- loss limits
# Loss % is of the period's starting equity = equity now − P&L: −500 with 9 500 left = 500 / 10 000 = 5 %.


@pytest.mark.parametrize(
    ("pnl", "equity", "expected"),
    [("-499", "9501", None), ("-500", "9500", "loss_limit"), ("-501", "9499", "loss_limit"), ("800", "10800", None)],
)
def test_check_order_when_daily_loss_around_limit_then_denied_once_reached(pnl, equity, expected):
    assert code(check(daily_pnl=D(pnl), weekly_pnl=D(pnl), equity=D(equity))) == expected


@pytest.mark.parametrize(("pnl", "equity", "expected"), [("-999", "9001", None), ("-1000", "9000", "loss_limit")])
def test_check_order_when_weekly_loss_around_limit_then_denied_once_reached(pnl, equity, expected):
    assert code(check(weekly_pnl=D(pnl), equity=D(equity))) == expected


def test_check_order_when_weekly_loss_limit_reached_then_detail_has_the_numbers():
    denial = check_order(check(weekly_pnl=D("-1000"), equity=D("9000")), LIMITS)

    assert denial.detail == "weekly loss 10.00% (P&L -1000) ≥ limit 10%"


# ------------------------------------------------------------------------------- leverage/liquidation


@pytest.mark.parametrize(("leverage", "expected"), [(4, None), (5, None), (6, "leverage_too_high")])
def test_check_order_when_leverage_around_max_then_denied_above(leverage, expected):
    assert code(check(leverage=leverage)) == expected


@pytest.mark.parametrize(("minimum", "expected"), [("19.49", None), ("19.5", None), ("19.51", "liquidation_too_close")])
def test_check_order_when_liquidation_distance_around_minimum_then_denied_below(minimum, expected):
    # At 5x the liquidation is estimated 100 / 5 − 0.5 = 19.5 % away.
    limits = dataclasses.replace(LIMITS, min_liquidation_distance_pct=D(minimum))

    assert code(check(), limits) == expected


def test_check_order_when_live_at_hard_max_leverage_then_liquidation_distance_passes():
    c = check(symbol="BTC/USDT:USDT", qty=D("0.5"), leverage=1, now_ms=12 * 3_600_000, mark_price=D("100"),
              stop_price=D("95"))

    assert code(c, LIVE) is None


# ------------------------------------------------------------------------------------------ sizes


@pytest.mark.parametrize(("qty", "expected"), [("9.99", None), ("10", None), ("10.01", "order_too_large")])
def test_check_order_when_order_notional_around_a_per_order_cap_then_denied_above(qty, expected):
    # A per-order cap of 1 000 USDT; 10 % of an equity of 20 000 leaves the position limit out of the way.
    limits = dataclasses.replace(LIMITS, max_order_notional=D("1000"), max_position_pct=D("10"))

    assert code(check(qty=D(qty), equity=D("20000")), limits) == expected


def test_check_order_when_paper_then_no_per_order_cap():
    assert code(check(qty=D("20"))) is None


@pytest.mark.parametrize(
    ("open_symbols", "symbol", "expected"),
    [(4, "NEW", None), (5, "NEW", "max_positions"), (5, "S0", None)],  # adding to an open one is no new position
)
def test_check_order_when_open_positions_around_max_then_new_symbol_denied(open_symbols, symbol, expected):
    positions = tuple(pos(f"S{i}") for i in range(open_symbols))

    assert code(check(symbol=symbol, positions=positions)) == expected


@pytest.mark.parametrize(
    ("qty", "held", "expected"),
    [
        ("24.99", None, None),
        ("25", None, None),  # 2 500 = 25 % of 10 000: at the limit
        ("25.01", None, "position_too_large"),
        ("5", "20", None),  # 20 held + 5 = 25 %
        ("5.01", "20", "position_too_large"),
    ],
)
def test_check_order_when_position_notional_around_max_pct_then_denied_above(qty, held, expected):
    positions = (pos("BTC", qty=held),) if held else ()

    assert code(check(qty=D(qty), positions=positions)) == expected


@pytest.mark.parametrize(("qty", "expected"), [("25", None), ("25.01", "position_too_large")])
def test_check_order_when_order_flips_position_then_resulting_size_counts(qty, expected):
    # Selling 45 against a 20 long leaves a 25 short.
    c = check(side=Side.SHORT, qty=D("45") + D(qty) - D("25"), positions=(pos("BTC", qty="20"),))

    assert code(c) == expected


@pytest.mark.parametrize(("qty", "expected"), [("25", None), ("25.01", "exposure_too_high")])
def test_check_order_when_total_exposure_around_max_then_denied_above(qty, expected):
    # Four others of 3 125 each = 12 500; with 2 500 more the total is 15 000 = 150 %.
    limits = dataclasses.replace(LIMITS, max_position_pct=D("100"))
    others = tuple(pos(f"S{i}", qty="31.25") for i in range(4))

    assert code(check(qty=D(qty), positions=others), limits) == expected


@pytest.mark.parametrize(("margin_used", "expected"), [("5499.99", None), ("5500", None), ("5500.01", "margin_too_high")])
def test_check_order_when_margin_use_around_max_then_denied_above(margin_used, expected):
    # The order adds 2 500 / 5x = 500 of margin: 5 500 + 500 = 6 000 = 60 % of 10 000.
    assert code(check(qty=D("25"), margin_used=D(margin_used))) == expected


def test_check_order_when_denied_then_detail_has_the_numbers():
    denial = check_order(check(qty=D("30")), LIMITS)

    assert denial.detail == "BTC: position notional 3000.00 = 30.00% of equity 10000 > max 25%"
