"""The contract every market data source keeps, and the one place that picks a source.

The engine codes against `MarketDataSource` only, so a backtest on replayed CSVs, a demo on synthetic
candles and a live run on Binance differ in one setting (`market_data.source`), not in code.

Time domains: `Candle.open_time_ms` is *market* time (for replay, May 2025; for synthetic, it runs
`timeframe / candle_seconds` times faster than the clock). `Ticker.ts_ms` is the *clock's* time at which
the price became current, so a stale-feed check (`staleness.FeedWatch`) compares like with like in every
source.

A gap is a run of candles the feed should have had but did not: `{"symbol", "from_ms", "to_ms",
"missing"}` where `from_ms` and `to_ms` are the open times of the first and the last missing candle
(inclusive) and `missing` is how many there are. Gaps are reported, never filled with invented prices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from errors import MarketDataError
from models import Candle, Ticker
from models import timeframe_ms as _timeframe_ms

if TYPE_CHECKING:  # settings-types only: marketdata never needs settings at import time
    from clock import Clock
    from settings import Settings

def timeframe_ms(tf: str) -> int:
    """models.timeframe_ms, failing as a MarketDataError (a bad timeframe in a feed or a file)."""
    try:
        return _timeframe_ms(tf)
    except ValueError as exc:
        raise MarketDataError(str(exc)) from None


def align_down(ts_ms: int, tf_ms: int) -> int:
    """The open time of the candle that contains `ts_ms` (candles are aligned to the epoch, like Binance)."""
    return ts_ms - ts_ms % tf_ms


@runtime_checkable
class MarketDataSource(Protocol):
    name: str  # "binance" | "replay" | "synthetic"
    symbols: tuple[str, ...]
    timeframe: str

    def backfill(self, limit: int) -> dict[str, list[Candle]]:
        """Up to `limit` closed candles per symbol, oldest first, so indicators start warm."""
        ...

    def poll(self) -> list[Candle]:
        """New closed candles since the last poll/backfill, all symbols, in time order; [] if none yet."""
        ...

    def tickers(self) -> dict[str, Ticker]:
        """The latest price of every symbol, fetched in one call."""
        ...

    def gaps(self) -> list[dict]:
        """Gaps seen so far (see the module docstring for the shape)."""
        ...

    def exhausted(self) -> bool:
        """True once a non-looping replay has delivered its last candle; always False elsewhere."""
        ...

    def close(self) -> None: ...


def open_market_data(settings: "Settings", clock: "Clock") -> MarketDataSource:
    """The source named by `settings.market_data.source`, with "auto" resolved.

    "auto" probes Binance for `auto_probe_seconds`; when it cannot be reached the synthetic source is
    returned with `fallback_reason = "binance unreachable"` and `fallback_detail` = the error, so the
    caller can say so loudly (Redis `data_source=synthetic (auto: binance unreachable)`, a banner).
    Every source has `fallback_reason` (None unless it is a fallback).
    An explicit "binance" that cannot be reached raises `MarketDataError`: never a silent fallback.
    """
    from marketdata.factory import open_source  # late: the factory imports every source

    return open_source(settings, clock)
