"""Market data: candles and prices from Binance, recorded CSVs or a seeded generator, behind one
protocol (`base.MarketDataSource`). Imports only models, errors, clock, settings types, ccxt, pandas, numpy.
"""

from marketdata.base import MarketDataSource, align_down, open_market_data, timeframe_ms
from marketdata.staleness import FeedWatch

__all__ = ["FeedWatch", "MarketDataSource", "align_down", "open_market_data", "timeframe_ms"]
