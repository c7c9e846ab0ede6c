"""Indicators against their textbook formulas, computed here step by step on short series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.indicators import atr, bollinger, ema, rolling_mean, rsi, swing_highs, swing_lows, true_range

CLOSES = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08,
          45.89, 46.03, 45.61, 46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64]


def _direct_ema(values: list[float], span: int) -> list[float]:
    alpha = 2 / (span + 1)
    out = [values[0]]
    for v in values[1:]:
        out.append(alpha * v + (1 - alpha) * out[-1])
    return out


def _direct_wilder(values: list[float], period: int) -> list[float]:
    avg = sum(values[:period]) / period
    out = [avg]
    for v in values[period:]:
        avg = (avg * (period - 1) + v) / period
        out.append(avg)
    return out


def test_ema_when_computed_then_matches_recursive_formula():
    # Arrange
    s = pd.Series(CLOSES)

    # Act
    got = ema(s, 5)

    # Assert
    assert got.tolist() == pytest.approx(_direct_ema(CLOSES, 5), rel=1e-12)


def test_rsi_when_computed_then_matches_wilders_definition():
    # Arrange: Wilder seeds with the mean gain / loss over the first `period` changes, then smooths.
    period = 14
    changes = [b - a for a, b in zip(CLOSES, CLOSES[1:])]
    gains = _direct_wilder([max(c, 0.0) for c in changes], period)
    losses = _direct_wilder([max(-c, 0.0) for c in changes], period)
    expected = [100 - 100 / (1 + g / l) for g, l in zip(gains, losses)]

    # Act
    got = rsi(pd.Series(CLOSES), period)

    # Assert: NaN until `period` changes exist (index 14), then the formula.
    assert got.iloc[:period].isna().all()
    assert got.iloc[period:].tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("closes", "expected"),
    [
        ([1, 2, 3, 4, 5], 100.0),  # only gains
        ([5, 4, 3, 2, 1], 0.0),  # only losses
        ([3, 3, 3, 3, 3], 50.0),  # nothing moved
    ],
)
def test_rsi_when_one_sided_or_flat_then_extreme_or_neutral(closes, expected):
    got = rsi(pd.Series(closes, dtype=float), 3)

    assert got.iloc[-1] == expected


def test_atr_when_computed_then_matches_wilder_smoothed_true_range():
    # Arrange
    closes = np.array(CLOSES)
    frame = pd.DataFrame({"high": closes + 0.3, "low": closes - 0.25, "close": closes})
    tr = [frame["high"][0] - frame["low"][0]]
    for i in range(1, len(closes)):
        h, lo, pc = frame["high"][i], frame["low"][i], closes[i - 1]
        tr.append(max(h - lo, abs(h - pc), abs(lo - pc)))
    period = 5

    # Act
    got = atr(frame, period)

    # Assert
    assert true_range(frame).tolist() == pytest.approx(tr, rel=1e-12)
    assert got.iloc[: period - 1].isna().all()
    assert got.iloc[period - 1 :].tolist() == pytest.approx(_direct_wilder(tr, period), rel=1e-12)


def test_bollinger_when_computed_then_mid_is_sma_and_bands_use_population_std():
    # Arrange
    period, k = 5, 2.0
    window = CLOSES[-period:]
    mean = sum(window) / period
    std = math.sqrt(sum((x - mean) ** 2 for x in window) / period)

    # Act
    mid, upper, lower = bollinger(pd.Series(CLOSES), period, k)

    # Assert
    assert mid.iloc[: period - 1].isna().all()
    assert mid.iloc[-1] == pytest.approx(mean, rel=1e-12)
    assert upper.iloc[-1] == pytest.approx(mean + k * std, rel=1e-12)
    assert lower.iloc[-1] == pytest.approx(mean - k * std, rel=1e-12)


def test_rolling_mean_when_window_not_full_then_nan_else_average():
    got = rolling_mean(pd.Series([1.0, 2.0, 3.0, 4.0]), 3)

    assert got.iloc[:2].isna().all()
    assert got.iloc[2:].tolist() == [2.0, 3.0]


def test_swing_lows_when_marked_then_lowest_within_lookback_each_side():
    # Arrange: index 3 (low 1) is a confirmed pivot; index 6 (low 2) is the newest low, right side clipped.
    lows = pd.Series([5.0, 4.0, 3.0, 1.0, 3.0, 4.0, 2.0])

    # Act
    got = swing_lows(lows, 2)

    # Assert
    assert got.tolist() == [False, False, False, True, False, False, True]


def test_swing_highs_when_marked_then_mirror_of_swing_lows():
    highs = pd.Series([1.0, 2.0, 3.0, 9.0, 3.0, 2.0, 8.0])

    got = swing_highs(highs, 2)

    assert got.tolist() == [False, False, False, True, False, False, True]


def test_swing_lows_when_left_side_incomplete_then_not_a_swing():
    got = swing_lows(pd.Series([1.0, 2.0, 3.0]), 2)

    assert not got.iloc[0] and not got.iloc[1]
