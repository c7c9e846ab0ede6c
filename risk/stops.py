"""Structure-based stops: behind the market's own most recent turning point, not an arbitrary %.

For a long, the stop goes a small buffer below the most recent swing low that lies below the entry;
for a short, a buffer above the most recent swing high above the entry. The signal timeframe is
searched first (the last `swing_lookback` candles); if it has no such swing, the higher timeframe is.
A stop closer than `min_stop_pct` is widened to it (noise would take it out); one further than
`max_stop_pct` means the trade is not taken (the structure says the risk is too large), and no swing at
all means no trade either: a trade without a place to be wrong is not a trade.

A swing low is a candle whose low is not undercut by the PIVOT_WIDTH candles before it nor by up to
PIVOT_WIDTH candles after it; at the newest end the right side is clipped, because the low just made is
the structure that matters now (same rule as engine.indicators.swing_lows).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from models import Candle, Denial, Side
from settings import StopSettings

PIVOT_WIDTH = 2
_HUNDRED = Decimal(100)


def _is_swing(values: Sequence[Decimal], i: int, lower: bool) -> bool:
    if i < PIVOT_WIDTH:
        return False
    neighbours = list(values[i - PIVOT_WIDTH : i]) + list(values[i + 1 : i + 1 + PIVOT_WIDTH])
    return all(values[i] <= v for v in neighbours) if lower else all(values[i] >= v for v in neighbours)


def find_swing(side: Side, entry: Decimal, candles: Sequence[Candle], lookback: int) -> Decimal | None:
    """The most recent swing low below entry (long) / swing high above entry (short), or None."""
    if not candles:
        return None
    lower = side is Side.LONG
    values = [c.low if lower else c.high for c in candles]
    for i in range(len(values) - 1, max(-1, len(values) - 1 - lookback), -1):
        level = values[i]
        on_right_side = level < entry if lower else level > entry
        if on_right_side and _is_swing(values, i, lower):
            return level
    return None


def structure_stop(
    side: Side,
    entry: Decimal,
    candles: Sequence[Candle],
    higher_tf_candles: Sequence[Candle] | None,
    stops: StopSettings,
    max_stop_pct: Decimal,
) -> Decimal | Denial:
    """The stop price for a new position, or a Denial ("no_valid_stop" / "stop_too_far")."""
    swing = find_swing(side, entry, candles, stops.swing_lookback)
    where = "signal timeframe"
    if swing is None and higher_tf_candles:
        swing = find_swing(side, entry, higher_tf_candles, stops.swing_lookback)
        where = f"{stops.higher_timeframe} timeframe"
    if swing is None:
        kind = "low below" if side is Side.LONG else "high above"
        return Denial(
            "no_valid_stop",
            f"{side.value} at {entry}: no swing {kind} entry in the last {stops.swing_lookback} candles "
            f"of the signal or {stops.higher_timeframe} timeframe",
        )

    if side is Side.LONG:
        stop = swing * (1 - stops.buffer_below_low_pct / _HUNDRED)
    else:
        stop = swing * (1 + stops.buffer_above_high_pct / _HUNDRED)
    distance_pct = abs(entry - stop) / entry * _HUNDRED

    if distance_pct < stops.min_stop_pct:
        widened = entry * (1 - side.sign * stops.min_stop_pct / _HUNDRED)
        return widened
    if distance_pct > max_stop_pct:
        return Denial(
            "stop_too_far",
            f"{side.value} at {entry}: swing {'low' if side is Side.LONG else 'high'} {swing} on the {where} "
            f"puts the stop at {stop:.8g}, {distance_pct:.2f}% away > max {max_stop_pct}%",
        )
    return stop
