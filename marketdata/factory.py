"""Resolves `market_data.source` into a running source; "auto" probes Binance first.

Why a short probe and not simply trying: the real client's timeout is generous (10 s) for a trading
loop, but start-up should not hang when there is no internet; `auto_probe_seconds` bounds that wait.
"""

from __future__ import annotations

from clock import Clock
from errors import MarketDataError
from marketdata.base import MarketDataSource
from marketdata.binance import BinanceSource
from marketdata.ccxt_binance import make_exchange, translated
from marketdata.replay import ReplaySource
from marketdata.synthetic import SyntheticSource


def probe_binance(api_url: str | None, timeout_s: float) -> str | None:
    """None when Binance's public API answers /fapi/v1/time within the timeout, else why not."""
    exchange = make_exchange(api_url, timeout_s)
    try:
        with translated("read the server time", exchange):
            exchange.fetch_time()
        return None
    except MarketDataError as exc:
        return str(exc)
    finally:
        exchange.session.close()


def _synthetic(settings, clock: Clock) -> SyntheticSource:
    return SyntheticSource.from_settings(settings, clock)


def _binance(settings, clock: Clock) -> BinanceSource:
    return BinanceSource(settings.bot.symbols, settings.bot.timeframe, clock, api_url=settings.market_data.binance_url or None)


def open_source(settings, clock: Clock) -> MarketDataSource:
    md = settings.market_data
    if md.source == "synthetic":
        return _synthetic(settings, clock)
    if md.source == "replay":
        return ReplaySource.from_settings(settings, clock)
    if md.source == "binance":
        return _binance(settings, clock)
    problem = probe_binance(md.binance_url or None, md.auto_probe_seconds)
    if problem is None:
        try:
            return _binance(settings, clock)
        except MarketDataError as exc:
            problem = str(exc)
    source = _synthetic(settings, clock)
    source.fallback_reason = "binance unreachable"  # the caller shows "synthetic (auto: binance unreachable)"
    source.fallback_detail = problem
    return source
