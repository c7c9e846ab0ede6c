"""Funding times and candle durations.

Binance settles USDⓈ-M funding every 8 hours at 00:00, 08:00 and 16:00 UTC. Epoch 0 is a UTC midnight, so
"multiples of the interval since the epoch" are exactly those times for any interval dividing 24 h.
"""

from __future__ import annotations

HOUR_MS = 3_600_000

_UNIT_MS = {"s": 1000, "m": 60_000, "h": HOUR_MS, "d": 24 * HOUR_MS, "w": 7 * 24 * HOUR_MS}


def timeframe_ms(timeframe: str) -> int:
    """"1m" → 60000. An unknown unit is a programming error, not a market condition."""
    try:
        return int(timeframe[:-1]) * _UNIT_MS[timeframe[-1]]
    except (KeyError, ValueError):
        raise ValueError(f"unknown timeframe {timeframe!r}") from None


def funding_times_between(after_ms: int, until_ms: int, interval_hours: int) -> list[int]:
    """Funding times t with after_ms < t <= until_ms: a candle closing exactly on 08:00 pays 08:00's funding."""
    interval = interval_hours * HOUR_MS
    first = after_ms // interval + 1
    last = until_ms // interval
    return [k * interval for k in range(first, last + 1)]
