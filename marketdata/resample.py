"""Build longer candles from shorter ones (1m files -> 5m, 15m, 1h), so one set of recorded 1m files
serves every timeframe the bot can be configured with.

Buckets are aligned to the epoch like Binance's. A bucket that is incomplete at either end of the file
is dropped (it would be a candle Binance never published); a bucket missing rows in the middle keeps
what it has, and the missing rows already show as a gap at the finer timeframe.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from errors import MarketDataError
from marketdata.csvfile import CandleTable


def _exact(values: np.ndarray) -> np.ndarray:
    """Floats back to the shortest decimal strings that round-trip: exact for values that came from
    decimal strings of up to 15 significant digits, which every exchange price is."""
    return np.array([repr(float(v)) for v in values], dtype=object)


def resample(table: CandleTable, tf_ms: int) -> CandleTable:
    native = table.interval_ms()
    if native is None or native == tf_ms:
        return table
    if tf_ms < native or tf_ms % native:
        raise MarketDataError(
            f"{table.path}: holds {native // 60_000}m candles, which cannot make {tf_ms // 60_000}m candles"
        )
    buckets = table.ts - table.ts % tf_ms
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(buckets)]
    per_bucket = tf_ms // native
    keep = np.ones(len(starts), dtype=bool)
    if ends[0] - starts[0] < per_bucket or table.ts[0] != buckets[0]:
        keep[0] = False
    if ends[-1] - starts[-1] < per_bucket:
        keep[-1] = False
    highs = np.maximum.reduceat(table.high.astype("float64"), starts)[keep]
    lows = np.minimum.reduceat(table.low.astype("float64"), starts)[keep]
    starts, ends = starts[keep], ends[keep]
    volumes = np.array(
        [str(sum((Decimal(v) for v in table.volume[a:b]), Decimal(0))) for a, b in zip(starts, ends)],
        dtype=object,
    )
    return CandleTable(
        table.path,
        buckets[starts],
        table.open[starts],
        _exact(highs),
        _exact(lows),
        table.close[ends - 1],
        volumes,
    )
