"""Funding times and candle durations.

Binance settles USDⓈ-M funding every 8 hours at 00:00, 08:00 and 16:00 UTC. Epoch 0 is a UTC midnight, so
"multiples of the interval since the epoch" are exactly those times for any interval dividing 24 h.
"""

from __future__ import annotations

from models import timeframe_ms  # noqa: F401  (re-exported for the simulator's callers)

HOUR_MS = 3_600_000



def funding_times_between(after_ms: int, until_ms: int, interval_hours: int) -> list[int]:
    """Funding times t with after_ms < t <= until_ms: a candle closing exactly on 08:00 pays 08:00's funding."""
    interval = interval_hours * HOUR_MS
    first = after_ms // interval + 1
    last = until_ms // interval
    return [k * interval for k in range(first, last + 1)]
