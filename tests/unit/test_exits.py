"""Exit rules, each at just below / at / just above its threshold.

Unless a test is about fees, the fee rate is 0 so that every boundary is an exact decimal.
Common trade: long 1 at 100, stop 98 → take-profit 104 (2 × the 2-point stop beats 1.5 %).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import TradeState
from risk.exits import ExitDecision, ExitRules
from models import Candle, ExitReason, Side
from settings import ExitSettings, TrailingSettings

D = Decimal
T0 = 1_700_000_000_000
NO_FEES = D("0")
FEES = D("0.0005")
NO_TRAIL = TrailingSettings(enabled=False)


def rules(fee=NO_FEES, **settings) -> ExitRules:
    return ExitRules(ExitSettings(**settings), fee)


def candle(o="100", h=None, lo=None, c=None, v="100", t=T0) -> Candle:
    o = D(o)
    c = D(c) if c is not None else o
    h = D(h) if h is not None else max(o, c)
    lo = D(lo) if lo is not None else min(o, c)
    return Candle("BTC", "1m", t, o, h, lo, c, D(v))


def reason_of(decision: ExitDecision | None) -> ExitReason | None:
    return None if decision is None else decision.reason


def fill_of(decision: ExitDecision | None) -> tuple[ExitReason, Decimal] | None:
    return None if decision is None else (decision.reason, decision.price)


def long_trade(r: ExitRules, stop="98") -> TradeState:
    return r.open("BTC", Side.LONG, D("1"), D("100"), T0, D(stop), strategy="s", trade_id="t1")


def short_trade(r: ExitRules, stop="102") -> TradeState:
    return r.open("BTC", Side.SHORT, D("1"), D("100"), T0, D(stop))


# ----------------------------------------------------------------------------------- take-profit


@pytest.mark.parametrize(
    ("side", "stop", "tp"),
    [
        (Side.LONG, "98", D("104")),  # 2 × 2 = 4 beats 1.5 %
        (Side.LONG, "99.5", D("101.5")),  # 2 × 0.5 = 1 loses to 1.5 %
        (Side.LONG, "99.25", D("101.5")),  # 2 × 0.75 = 1.5: a tie
        (Side.SHORT, "102", D("96")),
        (Side.SHORT, "100.5", D("98.5")),
    ],
)
def test_initial_take_profit_when_stop_distance_varies_then_farther_of_pct_and_reward_risk(side, stop, tp):
    assert rules().initial_take_profit(side, D("100"), D(stop)) == tp


def test_initial_take_profit_when_fees_exceed_take_profit_pct_then_at_least_round_trip_fees():
    # Round trip 2 × 0.05 % = 0.1 % > take_profit_pct 0.05 %; 2 × 0.01 stop = 0.02 is smaller still.
    r = rules(fee=FEES, take_profit_pct=D("0.05"))

    assert r.initial_take_profit(Side.LONG, D("100"), D("99.99")) == D("100.1")


def test_open_when_called_then_state_starts_at_entry():
    t = long_trade(rules())

    assert (t.take_profit, t.initial_stop, t.peak_price, t.breakeven_moved, t.trailing_active) == (D("104"), D("98"), D("100"), False, False)
    assert (t.strategy, t.trade_id) == ("s", "t1")


# ------------------------------------------------------------------------------------ price exits


@pytest.mark.parametrize(
    ("o", "h", "lo", "expected"),
    [
        ("100", "101", "98.01", None),  # just above the stop
        ("100", "101", "98", (ExitReason.STOP_LOSS, D("98"))),  # touched
        ("100", "101", "97", (ExitReason.STOP_LOSS, D("98"))),  # through, filled at the stop
        ("97", "97.5", "96", (ExitReason.STOP_LOSS, D("97"))),  # gapped below: filled at the open
        ("100", "103.99", "99", None),  # just short of the take-profit
        ("100", "104", "99", (ExitReason.TAKE_PROFIT, D("104"))),
        ("105", "106", "104.5", (ExitReason.TAKE_PROFIT, D("105"))),  # gapped above: the open
        ("100", "104", "98", (ExitReason.STOP_LOSS, D("98"))),  # both touched: the stop, conservatively
    ],
)
def test_price_exit_when_long_candle_ranges_then_stop_or_take_profit(o, h, lo, expected):
    decision = rules().price_exit(long_trade(rules()), candle(o, h, lo))

    assert fill_of(decision) == expected


@pytest.mark.parametrize(
    ("o", "h", "lo", "expected"),
    [
        ("100", "101.99", "99", None),
        ("100", "102", "99", (ExitReason.STOP_LOSS, D("102"))),
        ("103", "104", "102.5", (ExitReason.STOP_LOSS, D("103"))),
        ("100", "101", "96.01", None),
        ("100", "101", "96", (ExitReason.TAKE_PROFIT, D("96"))),
        ("95", "95.5", "94", (ExitReason.TAKE_PROFIT, D("95"))),
        ("100", "102", "96", (ExitReason.STOP_LOSS, D("102"))),
    ],
)
def test_price_exit_when_short_candle_ranges_then_mirrored(o, h, lo, expected):
    decision = rules().price_exit(short_trade(rules()), candle(o, h, lo))

    assert fill_of(decision) == expected


@pytest.mark.parametrize(
    ("breakeven_moved", "trailing_active", "reason"),
    [(False, False, ExitReason.STOP_LOSS), (True, False, ExitReason.BREAKEVEN_STOP), (True, True, ExitReason.TRAILING_STOP), (False, True, ExitReason.TRAILING_STOP)],
)
def test_price_exit_when_stop_hit_then_reason_says_which_stop(breakeven_moved, trailing_active, reason):
    r = rules()
    t = TradeState("BTC", Side.LONG, D("1"), D("100"), T0, D("100.5"), D("104"), D("98"), D("102"), breakeven_moved, trailing_active)

    decision = r.price_exit(t, candle("101", "101", "100"))

    assert decision == ExitDecision(reason, D("100.5"), f"{reason.value} 100.5 hit", trigger=D("100.5"))


# -------------------------------------------------------------------------------------- breakeven
# Entry 100 → take-profit 104: 0.8 of the way is 103.2.


@pytest.mark.parametrize(("high", "moved", "stop"), [("103.19", False, D("98")), ("103.2", True, D("100")), ("103.21", True, D("100"))])
def test_update_when_price_covers_fraction_of_way_to_tp_then_stop_to_breakeven(high, moved, stop):
    r = rules(trailing=NO_TRAIL)

    t = r.update(long_trade(r), candle("100", high, "99.5", "101"))

    assert (t.breakeven_moved, t.stop, t.peak_price) == (moved, stop, D(high))


@pytest.mark.parametrize(("low", "moved"), [("96.81", False), ("96.8", True)])
def test_update_when_short_covers_fraction_then_stop_to_breakeven(low, moved):
    r = rules(trailing=NO_TRAIL)

    t = r.update(short_trade(r), candle("100", "100.5", low, "99"))

    assert (t.breakeven_moved, t.stop) == (moved, D("100") if moved else D("102"))


def test_update_when_breakeven_with_fees_then_stop_covers_round_trip_fees():
    r = rules(fee=FEES, trailing=NO_TRAIL)

    t = r.update(long_trade(r), candle("100", "104", "100", "103.5"))

    # A long exit at entry × (1 + f) / (1 − f) nets exactly zero after both fees.
    assert t.stop == D("100") * D("1.0005") / D("0.9995")
    assert r.net_pnl(Side.LONG, D("1"), D("100"), t.stop, FEES, FEES).copy_abs() < D("1e-20")


def test_update_when_stop_already_beyond_breakeven_then_not_loosened():
    r = rules(trailing=NO_TRAIL)
    t = TradeState("BTC", Side.LONG, D("1"), D("100"), T0, D("101"), D("104"), D("98"), D("100"))

    t = r.update(t, candle("100", "103.5", "100", "103"))

    assert (t.breakeven_moved, t.stop) == (True, D("101"))


# --------------------------------------------------------------------------------------- trailing
# Activation 1 % (fees 0): a peak of 101 activates; the stop then trails 0.5 % below the peak.


@pytest.mark.parametrize(
    ("high", "active", "stop"),
    [("100.99", False, D("98")), ("101", True, D("100.495")), ("101.01", True, D("101.01") * D("0.995"))],
)
def test_update_when_profit_around_activation_pct_then_trailing_starts_at_it(high, active, stop):
    r = rules()

    t = r.update(long_trade(r), candle("100", high, "99.5", "100.5"))

    assert (t.trailing_active, t.stop) == (active, stop)


def test_update_when_fees_counted_then_activation_needs_more_price():
    # After 0.1 % round-trip fees a peak of 101 is only ~0.9 % profit: not yet active.
    r = rules(fee=FEES)

    t = r.update(long_trade(r), candle("100", "101", "99.5", "100.5"))

    assert not t.trailing_active


def test_update_when_trailing_and_price_falls_back_then_stop_never_loosens():
    r = rules()
    t = r.update(long_trade(r), candle("100", "102", "100", "101.5"))  # stop 102 × 0.995 = 101.49

    t = r.update(t, candle("101.6", "101.8", "101.5", "101.6"))

    assert (t.peak_price, t.stop) == (D("102"), D("101.49"))


def test_update_when_short_trailing_then_stop_above_the_lowest_low():
    r = rules()

    t = r.update(short_trade(r), candle("100", "100.2", "98", "98.5"))

    assert (t.trailing_active, t.peak_price, t.stop) == (True, D("98"), D("98.49"))


def test_update_when_trailing_disabled_then_only_peak_moves():
    r = rules(trailing=NO_TRAIL)

    t = r.update(long_trade(r), candle("100", "102", "100", "101.5"))

    assert (t.trailing_active, t.stop, t.peak_price) == (False, D("98"), D("102"))


# -------------------------------------------------------------------------------- condition exits

SECOND = 1000


def at(seconds: float) -> int:
    return T0 + int(seconds * SECOND)


@pytest.mark.parametrize(("held_s", "reason"), [(119, None), (120, ExitReason.REVERSE_SIGNAL), (121, ExitReason.REVERSE_SIGNAL)])
def test_condition_exit_when_reverse_signal_around_min_hold_then_only_after_it(held_s, reason):
    r = rules()

    decision = r.condition_exit(long_trade(r), candle(c="100.5"), D("100"), True, at(held_s))

    assert reason_of(decision) == reason


def test_condition_exit_when_reverse_signal_disabled_then_ignored():
    r = rules(exit_on_reverse_signal=False)

    assert r.condition_exit(long_trade(r), candle(c="100.5"), D("100"), True, at(300)) is None


@pytest.mark.parametrize(
    ("close", "volume", "reason"),
    [
        ("98", "29", ExitReason.EMERGENCY),  # loss 2 % exactly, volume 0.29x < 0.3x
        ("98", "30", None),  # volume exactly at the ratio: not "collapsed"
        ("98.01", "29", None),  # loss 1.99 %
        ("97", "10", ExitReason.EMERGENCY),
    ],
)
def test_condition_exit_when_loss_and_volume_around_emergency_thresholds_then_exits_even_inside_min_hold(close, volume, reason):
    r = rules()

    decision = r.condition_exit(long_trade(r, stop="96"), candle(c=close, v=volume), D("100"), False, at(10))

    assert reason_of(decision) == reason


def test_condition_exit_when_short_loses_with_dead_volume_then_emergency():
    r = rules()

    decision = r.condition_exit(short_trade(r, stop="104"), candle(c="102", v="5"), D("100"), False, at(10))

    assert decision.reason is ExitReason.EMERGENCY
    assert decision.detail == "loss 2.00% after fees ≥ 2.0% with volume 0.05x average < 0.3x"


def test_condition_exit_when_fees_push_loss_past_emergency_then_exits():
    # Close 98.05 is 1.95 % down before fees; fees 0.05 (entry) + 0.049025 (exit) make it 2.049025 %.
    r = rules(fee=FEES)

    decision = r.condition_exit(long_trade(r, stop="96"), candle(c="98.05", v="1"), D("100"), False, at(10))

    assert decision.reason is ExitReason.EMERGENCY


@pytest.mark.parametrize(
    ("held_s", "volume", "close", "reason"),
    [
        (599, "39", "101", None),  # held just short of 600 s
        (600, "39", "101", ExitReason.VOLUME_EXHAUSTION),
        (601, "39", "101", ExitReason.VOLUME_EXHAUSTION),
        (600, "40", "101", None),  # volume exactly at 0.4x: not exhausted
        (600, "39", "100", None),  # flat: not in profit
        (600, "39", "99.9", None),
    ],
)
def test_condition_exit_when_around_volume_exhaustion_thresholds_then_exits_only_past_all(held_s, volume, close, reason):
    r = rules(exit_on_reverse_signal=False)

    decision = r.condition_exit(long_trade(r), candle(c=close, v=volume), D("100"), False, at(held_s))

    assert reason_of(decision) == reason


def test_condition_exit_when_in_profit_before_fees_but_not_after_then_no_volume_exhaustion():
    r = rules(fee=FEES)

    assert r.condition_exit(long_trade(r), candle(c="100.05", v="1"), D("100"), False, at(900)) is None


@pytest.mark.parametrize(
    ("close", "slippage_bps", "reason"),
    [
        # no fees; a long from 100: the exit is expected to fill slippage_bps below the close
        ("100.05", "0", ExitReason.VOLUME_EXHAUSTION),  # +0.05 % and nothing to pay: in profit
        ("100.05", "4", ExitReason.VOLUME_EXHAUSTION),  # 100.05 × (1 − 0.0004) = 100.00998: still above 100
        ("100.05", "5", None),  # 100.05 × (1 − 0.0005) = 99.999975: the exit would lose
        ("100.05", "20", None),
        ("101", "20", ExitReason.VOLUME_EXHAUSTION),
    ],
)
def test_condition_exit_when_the_exit_slippage_eats_the_profit_then_no_volume_exhaustion(close, slippage_bps, reason):
    r = ExitRules(ExitSettings(exit_on_reverse_signal=False), NO_FEES, lambda qty, volume: D(slippage_bps))

    decision = r.condition_exit(long_trade(r), candle(c=close, v="1"), D("100"), False, at(900))

    assert reason_of(decision) == reason
    if decision is not None:
        assert f"{D(slippage_bps):.1f} bps expected slippage" in decision.detail


def test_condition_exit_when_volume_exhaustion_disabled_then_ignored():
    r = rules(volume_exhaustion_enabled=False)

    assert r.condition_exit(long_trade(r), candle(c="101", v="1"), D("100"), False, at(900)) is None


@pytest.mark.parametrize(("held_ms", "reason"), [(240 * 60_000 - 1, None), (240 * 60_000, ExitReason.TIME_LIMIT)])
def test_condition_exit_when_held_around_time_limit_then_closed_at_it(held_ms, reason):
    r = rules()

    decision = r.condition_exit(long_trade(r), candle(c="100.5"), D("100"), False, T0 + held_ms)

    assert fill_of(decision) == ((reason, D("100.5")) if reason else None)


def test_condition_exit_when_time_limit_and_emergency_both_hold_then_time_limit_first():
    r = rules()

    decision = r.condition_exit(long_trade(r, stop="90"), candle(c="95", v="1"), D("100"), True, at(240 * 60))

    assert decision.reason is ExitReason.TIME_LIMIT


def test_condition_exit_when_volume_average_unknown_then_no_volume_based_exit():
    r = rules()

    assert r.condition_exit(long_trade(r, stop="90"), candle(c="95", v="0"), D("0"), False, at(10)) is None


# -------------------------------------------------------------------------------------------- P&L


@pytest.mark.parametrize(
    ("side", "exit_price", "expected"),
    [
        # 2 × (110 − 100) = 20 gross; fees 2 × 100 × 0.0005 = 0.1 and 2 × 110 × 0.0002 = 0.044.
        (Side.LONG, "110", D("19.856")),
        # 2 × (100 − 90) = 20 gross; fees 0.1 and 2 × 90 × 0.0002 = 0.036.
        (Side.SHORT, "90", D("19.864")),
        (Side.SHORT, "110", D("-20.144")),
    ],
)
def test_net_pnl_when_fees_on_both_legs_then_gross_minus_fees(side, exit_price, expected):
    assert ExitRules.net_pnl(side, D("2"), D("100"), D(exit_price), D("0.0005"), D("0.0002")) == expected


# ------------------------------------------------------------------------------------- properties


@given(
    side=st.sampled_from(Side),
    moves=st.lists(st.tuples(st.integers(-300, 300), st.integers(0, 300), st.integers(0, 300)), min_size=1, max_size=30),
)
def test_update_when_any_candle_path_then_stop_never_loosens(side, moves):
    r = rules(fee=FEES)
    t = long_trade(r) if side is Side.LONG else short_trade(r)
    price = D("100")
    for drift, up, down in moves:
        close = price + D(drift) / 100
        c = candle(str(price), str(max(price, close) + D(up) / 100), str(min(price, close) - D(down) / 100), str(close))
        before = t.stop

        t = r.update(t, c)

        assert (t.stop >= before) if side is Side.LONG else (t.stop <= before)
        price = close
