"""Structure stops: the swing found, the buffer, the min/max distance bounds and the higher timeframe."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import Candle, Denial, Side
from risk.stops import find_swing, structure_stop
from settings import StopSettings

D = Decimal
ENTRY = D("100")
MAX_STOP = D("3")
NO_BUFFER = StopSettings(buffer_below_low_pct=D("0"), buffer_above_high_pct=D("0"))


def lows(*values, tf="1m") -> list[Candle]:
    """Candles with the given lows (highs 1 above), all other prices in between."""
    return [Candle("X", tf, i * 60_000, D(v) + D("0.5"), D(v) + 1, D(v), D(v) + D("0.5"), D(1)) for i, v in enumerate(map(str, values))]


def highs(*values, tf="1m") -> list[Candle]:
    return [Candle("X", tf, i * 60_000, D(v) - D("0.5"), D(v), D(v) - 1, D(v) - D("0.5"), D(1)) for i, v in enumerate(map(str, values))]


def test_structure_stop_when_swing_low_below_entry_then_buffer_below_it():
    # 98 × (1 − 0.2 %) = 97.804, 2.196 % away: inside 0.5 .. 3 %.
    stop = structure_stop(Side.LONG, ENTRY, lows(100, 100, 98, 100, 100, 100), None, StopSettings(), MAX_STOP)

    assert stop == D("97.804")


def test_structure_stop_when_swing_high_above_entry_then_buffer_above_it():
    # 102 × (1 + 0.3 %) = 102.306.
    stop = structure_stop(Side.SHORT, ENTRY, highs(100, 100, 102, 100, 100, 100), None, StopSettings(), MAX_STOP)

    assert stop == D("102.306")


def test_structure_stop_when_several_swings_then_most_recent_one():
    stop = structure_stop(Side.LONG, ENTRY, lows(100, 100, 98, 100, 100, 99, 100, 100), None, NO_BUFFER, MAX_STOP)

    assert stop == D("99")


def test_structure_stop_when_recent_swing_is_above_entry_then_older_one_below_entry():
    # Price fell through the 101 low: it is no place for a long's stop at 100.
    stop = structure_stop(Side.LONG, ENTRY, lows(100, 100, 98, 100, 102, 101, 102, 102), None, NO_BUFFER, MAX_STOP)

    assert stop == D("98")


def test_structure_stop_when_newest_candle_made_the_low_then_it_counts():
    stop = structure_stop(Side.LONG, ENTRY, lows(100, 100, 100, 100, 98), None, NO_BUFFER, MAX_STOP)

    assert stop == D("98")


@pytest.mark.parametrize(
    ("swing", "expected"),
    [
        ("99.51", D("99.5")),  # 0.49 % away: widened to min_stop_pct 0.5 %
        ("99.5", D("99.5")),  # exactly 0.5 %
        ("99.49", D("99.49")),  # 0.51 %: kept
        ("97.01", D("97.01")),  # 2.99 %
        ("97", D("97")),  # exactly max 3 %: still allowed
        ("96.99", None),  # 3.01 %: too far, no trade
    ],
)
def test_structure_stop_when_distance_around_min_and_max_then_widened_kept_or_denied(swing, expected):
    stop = structure_stop(Side.LONG, ENTRY, lows(100, 100, swing, 100, 100), None, NO_BUFFER, MAX_STOP)

    if expected is None:
        assert isinstance(stop, Denial) and stop.reason_code == "stop_too_far"
        assert "3.01% away > max 3%" in stop.detail
    else:
        assert stop == expected


@pytest.mark.parametrize(("swing", "expected"), [("100.49", D("100.5")), ("103", D("103")), ("103.01", None)])
def test_structure_stop_when_short_distance_around_bounds_then_mirrored(swing, expected):
    stop = structure_stop(Side.SHORT, ENTRY, highs(100, 100, swing, 100, 100), None, NO_BUFFER, MAX_STOP)

    assert (stop.reason_code == "stop_too_far") if expected is None else stop == expected


def test_structure_stop_when_no_swing_on_signal_timeframe_then_higher_timeframe():
    signal_tf = lows(100, 100, 100, 100, 100)
    higher_tf = lows(100, 100, 98.5, 100, 100, tf="15m")

    stop = structure_stop(Side.LONG, ENTRY, signal_tf, higher_tf, NO_BUFFER, MAX_STOP)

    assert stop == D("98.5")


def test_structure_stop_when_no_swing_anywhere_then_no_valid_stop():
    stop = structure_stop(Side.LONG, ENTRY, lows(101, 102, 103), lows(101, 101, 101, tf="15m"), StopSettings(), MAX_STOP)

    assert isinstance(stop, Denial) and stop.reason_code == "no_valid_stop"
    assert "last 20 candles" in stop.detail


@pytest.mark.parametrize(("lookback", "found"), [(3, None), (4, D("98"))])
def test_find_swing_when_swing_just_outside_or_inside_lookback_then_ignored_or_found(lookback, found):
    # The swing is the 4th candle from the end.
    candles = lows(100, 100, 98, 100, 100, 100)

    assert find_swing(Side.LONG, ENTRY, candles, lookback) == found
