"""Metrics checked against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from analytics.metrics import YEAR_MS, breakdown, compute_metrics, to_jsonable
from models import ExitReason, Mode, Side, Trade

D = Decimal
T = 1_746_057_600_000  # 2025-05-01 00:00 UTC
MIN = 60_000


def trade(i, symbol, entry_min, exit_min, pnl, fees, reason, t0=T) -> Trade:
    return Trade(
        trade_id=f"t{i}", symbol=symbol, side=Side.LONG, qty=D("1"), entry_price=D("100"),
        exit_price=D("100"), entry_ms=t0 + entry_min * MIN, exit_ms=t0 + exit_min * MIN, gross_pnl=D(pnl) + D(fees),
        fees=D(fees), pnl=D(pnl), exit_reason=reason, mode=Mode.GHOST, strategy="s",
    )


# W, L, L, W, flat — in exit order.
TRADES = [
    trade(1, "BTC", 0, 10, "30", "2", ExitReason.TAKE_PROFIT),
    trade(2, "ETH", 20, 30, "-10", "1", ExitReason.STOP_LOSS),
    trade(3, "BTC", 40, 60, "-20", "1", ExitReason.STOP_LOSS),
    trade(4, "SOL", 70, 80, "50", "3", ExitReason.TAKE_PROFIT),
    trade(5, "BTC", 90, 100, "0", "1", ExitReason.TIME_LIMIT),
]


def test_compute_metrics_when_fixed_trade_list_then_hand_computed_trade_figures():
    m = compute_metrics(TRADES, starting_equity=D("1000"), buy_and_hold_return_pct=D("2"))

    assert (m["trades"], m["wins"], m["losses"]) == (5, 2, 2)  # the 0 trade is neither
    assert m["win_rate"] == 0.4  # 2 / 5
    assert m["avg_win"] == D("40")  # (30 + 50) / 2
    assert m["avg_loss"] == D("-15")  # (−10 − 20) / 2
    assert m["payoff_ratio"] == pytest.approx(40 / 15)
    assert m["profit_factor"] == pytest.approx(80 / 30)  # gross profit 80 / gross loss 30
    assert m["total_pnl"] == D("50")  # 30 − 10 − 20 + 50 + 0
    assert m["expectancy"] == D("10")  # 50 / 5
    assert m["total_fees"] == D("8")  # 2 + 1 + 1 + 3 + 1
    assert (m["max_consecutive_wins"], m["max_consecutive_losses"]) == (1, 2)  # W L L W 0
    assert (m["best_trade"], m["worst_trade"]) == (D("50"), D("-20"))
    assert m["avg_hold_ms"] == 12 * MIN  # (10 + 10 + 20 + 10 + 10) / 5 minutes


def test_compute_metrics_when_no_equity_curve_then_derived_from_trades_and_starting_equity():
    # Curve: 1000 @0, 1030 @10, 1020 @30, 1000 @60, 1050 @80, 1050 @100 (minutes).
    m = compute_metrics(TRADES, starting_equity=D("1000"), buy_and_hold_return_pct=D("2"))

    assert m["max_drawdown"] == D("30")  # peak 1030 → trough 1000
    assert m["max_drawdown_pct"] == pytest.approx(30 / 1030 * 100)  # 2.9126 %
    assert m["longest_drawdown_ms"] == 70 * MIN  # from the 1030 peak @10 to 1050 @80
    assert m["return_pct"] == 5.0  # 50 / 1000
    assert m["vs_buy_and_hold_pct"] == 3.0  # 5 − 2
    assert m["exposure_pct"] == 60.0  # 60 minutes in a trade / 100 minutes


def test_compute_metrics_when_equity_curve_given_then_sharpe_sortino_calmar_by_hand():
    # Arrange: four points a third of a year apart: returns +10 %, −10 %, +10 %.
    third = YEAR_MS // 3
    equity = [(0, D("100")), (third, D("110")), (2 * third, D("99")), (3 * third, D("108.9"))]

    # Act: the minimum data lifted, so four points can be computed by hand
    m = compute_metrics([], equity, min_ratio_returns=3, min_calmar_span_ms=0)

    # Assert
    # mean r = 0.1 / 3 = 0.0333…; sample std = sqrt((0.0667² + 0.1333² + 0.0667²) / 2) = 0.11547;
    # 3 periods a year (inferred from the spacing): Sharpe = 0.0333 / 0.11547 × √3 = 0.5.
    assert m["sharpe"] == pytest.approx(0.5)
    # downside deviation = sqrt((0 + 0.01 + 0) / 3) = 0.057735: Sortino = 0.0333 / 0.057735 × √3 = 1.0.
    assert m["sortino"] == pytest.approx(1.0)
    # Peak 110 → 99: 11, 10 %; never recovered, so it lasts from 1/3 to 3/3 of the year.
    assert (m["max_drawdown"], m["max_drawdown_pct"]) == (D("11"), pytest.approx(10.0))
    assert m["longest_drawdown_ms"] == 2 * third
    # Exactly one year: compound annual return = 108.9 / 100 − 1 = 8.9 %; Calmar = 8.9 / 10.
    assert m["return_pct"] == pytest.approx(8.9)
    assert m["calmar"] == pytest.approx(0.89)


def test_compute_metrics_when_periods_per_year_given_then_used_instead_of_inferred():
    equity = [(0, D("100")), (1, D("110")), (2, D("99")), (3, D("108.9"))]

    m = compute_metrics([], equity, periods_per_year=12, min_ratio_span_ms=0, min_ratio_returns=3)

    assert m["sharpe"] == pytest.approx((0.1 / 3) / 0.1154700538 * 12**0.5)


def test_compute_metrics_when_no_trades_then_counts_zero_and_ratios_none():
    m = compute_metrics([])

    assert (m["trades"], m["total_pnl"], m["max_drawdown"]) == (0, D("0"), D("0"))
    assert all(m[k] is None for k in ("win_rate", "expectancy", "profit_factor", "sharpe", "return_pct", "exposure_pct"))


def test_compute_metrics_when_no_losses_then_profit_factor_and_payoff_none():
    m = compute_metrics(TRADES[:1])

    assert (m["profit_factor"], m["payoff_ratio"], m["max_consecutive_losses"]) == (None, None, 0)


def test_compute_metrics_when_single_equity_point_then_no_ratios_and_no_drawdown():
    m = compute_metrics([], [(T, D("1000"))])

    assert (m["sharpe"], m["sortino"], m["calmar"]) == (None, None, None)
    assert (m["max_drawdown"], m["longest_drawdown_ms"], m["return_pct"]) == (D("0"), 0, 0.0)


def test_compute_metrics_when_flat_equity_then_sharpe_none_not_division_error():
    m = compute_metrics([], [(0, D("100")), (1, D("100")), (2, D("100"))])

    assert (m["sharpe"], m["sortino"]) == (None, None)


def test_compute_metrics_when_trades_overlap_then_time_in_market_counted_once():
    overlapping = [
        trade(1, "BTC", 0, 30, "1", "0", ExitReason.TAKE_PROFIT),
        trade(2, "ETH", 10, 40, "1", "0", ExitReason.TAKE_PROFIT),  # 0..40 covered
        trade(3, "SOL", 60, 80, "1", "0", ExitReason.TAKE_PROFIT),  # + 20
    ]

    m = compute_metrics(overlapping, [(T, D("100")), (T + 100 * MIN, D("103"))])

    assert m["exposure_pct"] == 60.0  # 60 of 100 minutes


def test_to_jsonable_when_metrics_dumped_then_valid_json_with_exact_decimals():
    m = compute_metrics(TRADES, starting_equity=D("1000"))

    text = json.dumps(to_jsonable(m), allow_nan=False)

    assert json.loads(text)["total_pnl"] == "50"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("symbol", {"BTC": (3, D("10")), "ETH": (1, D("-10")), "SOL": (1, D("50"))}),
        ("exit_reason", {"stop_loss": (2, D("-30")), "take_profit": (2, D("80")), "time_limit": (1, D("0"))}),
    ],
)
def test_breakdown_when_grouped_then_trade_counts_and_pnl_per_group(key, expected):
    groups = breakdown(TRADES, key)

    assert {k: (v["trades"], v["total_pnl"]) for k, v in groups.items()} == expected


def test_breakdown_when_by_month_then_utc_month_of_exit():
    june = 1_748_736_000_000  # 2025-06-01 00:00 UTC
    trades = [TRADES[0], trade(9, "BTC", -5, 5, "7", "1", ExitReason.TAKE_PROFIT, t0=june)]

    groups = breakdown(trades, "month")

    assert list(groups) == ["2025-05", "2025-06"]
    assert groups["2025-06"]["total_pnl"] == D("7") and groups["2025-06"]["win_rate"] == 1.0


def test_breakdown_when_unknown_key_then_value_error():
    with pytest.raises(ValueError):
        breakdown(TRADES, "colour")


# ------------------------------------------------------------------------------- enough data for ratios

HOUR = 3_600_000
DAY = 24 * HOUR


def _hourly_path(hours: int, start=T) -> list[tuple[int, Decimal]]:
    """A deterministic zig-zag with drift: +0.3 %, −0.2 % alternately, one point an hour."""
    value, out = D("10000"), [(start, D("10000"))]
    for h in range(1, hours + 1):
        value = (value * (D("1.003") if h % 2 else D("0.998"))).quantize(D("0.00000001"))
        out.append((start + h * HOUR, value))
    return out


@pytest.mark.parametrize("span_ms, expect_ratios", [
    (5 * MIN, False),  # a few minutes: Sharpe −39 / +34 on the old code
    (6 * DAY, False),
    (7 * DAY, True),   # RATIO_MIN_SPAN_MS
    (10 * DAY, True),
])
def test_compute_metrics_when_equity_spans_span_then_ratios_shown_only_with_enough_data(span_ms, expect_ratios):
    # Arrange: ten-second snapshots over the span, the zig-zag's hourly values in between
    path = _hourly_path(span_ms // HOUR + 1)
    points = [(ts, next(v for t, v in reversed(path) if t <= ts)) for ts in range(T, T + span_ms + 1, 10_000)]
    if span_ms < HOUR:  # within the first hour the path has not moved: give it some noise of its own
        points = [(ts, D("10000") + (D("3") if i % 2 else D("-2"))) for i, (ts, _) in enumerate(points)]

    # Act
    m = compute_metrics([], points, starting_equity=D("10000"))

    # Assert
    assert (m["sharpe"] is not None, m["sortino"] is not None) == (expect_ratios, expect_ratios)
    if not expect_ratios:
        assert "need 7 days" in m["ratios_note"]


@pytest.mark.parametrize("span_days, expect_calmar", [(1, False), (27, False), (28, True)])
def test_compute_metrics_when_equity_spans_days_then_calmar_only_from_four_weeks(span_days, expect_calmar):
    path = _hourly_path(span_days * 24)
    path.insert(len(path) // 2, (path[len(path) // 2][0] - 1, path[len(path) // 2][1] * D("0.9")))  # a drawdown

    m = compute_metrics([], path)

    assert (m["calmar"] is not None) is expect_calmar
    assert ("Calmar needs 28 days" in m["ratios_note"]) is not expect_calmar


def test_compute_metrics_when_snapshots_unevenly_spaced_then_annualised_by_the_sampling_grid():
    # Arrange: an hourly path over 10 days; for the first two days a point every minute as well (a live run
    # snapshotting often, then a replay snapshotting hours of market at a time), carrying the same values
    hourly = _hourly_path(240)
    dense = list(hourly)
    for ts, value in hourly[:48]:
        dense += [(ts + k * MIN, value) for k in range(1, 60)]

    # Act
    m_hourly = compute_metrics([], hourly)
    m_dense = compute_metrics([], dense)

    # Assert: the same equity gives the same Sharpe, annualised by √(8760 hours a year); the old code took
    # the median spacing (a minute) and inflated it by √60
    assert m_dense["sharpe"] == pytest.approx(m_hourly["sharpe"])
    returns = [float(b / a - 1) for (_, a), (_, b) in zip(hourly, hourly[1:])]
    import statistics
    by_hand = statistics.fmean(returns) / statistics.stdev(returns) * (365 * 24) ** 0.5
    assert m_hourly["sharpe"] == pytest.approx(by_hand)
