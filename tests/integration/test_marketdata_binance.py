"""The Binance source with the real ccxt client against the local Binance stand-in, and "auto"."""

import functools
import socket
import time
from decimal import Decimal

import pandas as pd
import pytest

from clock import SimulatedClock
from errors import MarketDataError
from marketdata.base import MarketDataSource, open_market_data
from marketdata.binance import BinanceSource
from marketdata.synthetic import SyntheticSource
from settings import Settings
from tests.standin.binance_standin import KLINES_DIR
from tests.standin.fixtures import make_ccxt_client

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
MIN = 60_000


@functools.lru_cache(maxsize=None)
def _recorded(market_id: str) -> pd.DataFrame:
    path = next(KLINES_DIR.glob(f"binance_usdm_{market_id}_1m_*.csv"))
    frame = pd.read_csv(path, dtype=str)
    return frame.set_index(frame.timestamp_ms.astype("int64"))


def csv_rows(market_id: str, first_ms: int, last_ms: int) -> dict[int, tuple[Decimal, ...]]:
    """open time -> (open, high, low, close, volume) as recorded, for open times first..last."""
    frame = _recorded(market_id).loc[first_ms:last_ms]
    return {int(t): tuple(Decimal(v) for v in r[1:]) for t, r in zip(frame.index, frame.itertuples(index=False))}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def source(binance_standin):
    binance_standin.clock.advance(5_000)  # 00:00:05: the 23:59 candle has closed
    src = BinanceSource(SYMBOLS, "1m", binance_standin.clock, exchange=make_ccxt_client(binance_standin.url))
    yield src
    src.close()


def test_source_when_built_then_keeps_the_protocol(source):
    assert isinstance(source, MarketDataSource) and source.name == "binance" and not source.exhausted()


def test_backfill_when_300_then_equals_the_recorded_csv_rows(source, binance_standin):
    now = binance_standin.clock.now_ms()

    candles = source.backfill(300)

    for symbol in SYMBOLS:
        got = candles[symbol]
        expected = csv_rows(symbol.split("/")[0] + "USDT", got[0].open_time_ms, got[-1].open_time_ms)
        assert len(expected) == 300
        assert len(got) == 300
        assert got[-1].open_time_ms == now - now % MIN - MIN
        assert [(c.open, c.high, c.low, c.close, c.volume) for c in got] == [expected[c.open_time_ms] for c in got]
    assert source.gaps() == []


def test_backfill_when_more_than_a_page_then_paginated_without_overlap(source, binance_standin):
    binance_standin.reset_counts()

    candles = source.backfill(1500)["BTC/USDT:USDT"]

    times = [c.open_time_ms for c in candles]
    assert len(times) == 1500 and times == list(range(times[0], times[0] + 1500 * MIN, MIN))
    assert binance_standin.request_counts["/fapi/v1/klines"] == 2 * len(SYMBOLS)


def test_poll_when_no_candle_has_closed_then_no_request(source, binance_standin):
    source.backfill(50)
    binance_standin.reset_counts()
    binance_standin.clock.advance(50_000)

    assert source.poll() == []
    assert binance_standin.request_counts["/fapi/v1/klines"] == 0


def test_poll_when_three_minutes_pass_then_three_closed_candles_per_symbol_in_time_order(source, binance_standin):
    last = source.backfill(50)["BTC/USDT:USDT"][-1].open_time_ms
    binance_standin.reset_counts()
    binance_standin.clock.advance(3 * MIN)

    candles = source.poll()

    assert [(c.open_time_ms, c.symbol) for c in candles] == [
        (last + m * MIN, s) for m in (1, 2, 3) for s in SYMBOLS]
    assert binance_standin.request_counts["/fapi/v1/klines"] == len(SYMBOLS)
    assert source.poll() == []


def test_tickers_when_three_symbols_then_exactly_one_http_request(source, binance_standin):
    binance_standin.reset_counts()

    tickers = source.tickers()

    assert sum(binance_standin.request_counts.values()) == 1
    assert binance_standin.request_counts["/fapi/v2/ticker/price"] == 1
    now = binance_standin.clock.now_ms()
    btc_close = csv_rows("BTCUSDT", now - now % MIN, now - now % MIN)[now - now % MIN][3]
    assert set(tickers) == set(SYMBOLS)
    assert tickers["BTC/USDT:USDT"].price == btc_close and tickers["BTC/USDT:USDT"].ts_ms == now


def test_backfill_when_the_exchange_has_a_hole_then_gap_reported(binance_standin, tmp_path):
    now = binance_standin.clock.now_ms()
    start = now - 20 * MIN
    lines = [f"{start + i * MIN},10,11,9,10.5,1" for i in range(20) if i not in (5, 6)]
    path = tmp_path / "hole.csv"
    path.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    binance_standin.add_klines("BTCUSDT", "1m", path)
    binance_standin.clock.advance(5_000)
    source = BinanceSource(["BTC/USDT:USDT"], "1m", binance_standin.clock, exchange=make_ccxt_client(binance_standin.url))

    candles = source.backfill(20)["BTC/USDT:USDT"]

    assert len(candles) == 18
    assert source.gaps() == [{"symbol": "BTC/USDT:USDT", "from_ms": start + 5 * MIN, "to_ms": start + 6 * MIN, "missing": 2}]


def test_build_when_symbol_unknown_then_error_names_it(binance_standin):
    with pytest.raises(MarketDataError, match="no market DOGE/USDT:USDT"):
        BinanceSource(["DOGE/USDT:USDT"], "1m", binance_standin.clock, exchange=make_ccxt_client(binance_standin.url))


@pytest.mark.parametrize("status", [418, 429, 500, 503])
def test_backfill_when_binance_answers_an_error_then_market_data_error(source, binance_standin, status):
    binance_standin.fail("/fapi/v1/klines", status=status)

    with pytest.raises(MarketDataError, match="candles of BTC/USDT:USDT"):
        source.backfill(10)


def test_tickers_when_connection_lost_then_market_data_error(source, binance_standin):
    binance_standin.stop()

    with pytest.raises(MarketDataError, match="unreachable at http://127.0.0.1"):
        source.tickers()


# --------------------------------------------------------------------------------------- open_market_data


def settings_for(source: str, url: str, probe_s: float = 0.5) -> Settings:
    return Settings.model_validate({"market_data": {"source": source, "binance_url": url, "auto_probe_seconds": probe_s}})


def test_open_when_auto_and_binance_unreachable_then_synthetic_with_reason():
    started = time.perf_counter()

    source = open_market_data(settings_for("auto", f"http://127.0.0.1:{closed_port()}"), SimulatedClock(1_750_000_000_000))

    assert isinstance(source, SyntheticSource)
    assert source.fallback_reason == "binance unreachable"
    assert "unreachable" in source.fallback_detail
    assert time.perf_counter() - started < 3


def test_open_when_auto_and_binance_reachable_then_binance(binance_standin):
    source = open_market_data(settings_for("auto", binance_standin.url), binance_standin.clock)

    assert isinstance(source, BinanceSource) and source.fallback_reason is None
    source.close()


def test_open_when_binance_explicit_and_unreachable_then_error_not_fallback():
    url = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(MarketDataError, match=f"binance market data unreachable at {url}"):
        open_market_data(settings_for("binance", url), SimulatedClock(1_750_000_000_000))


@pytest.mark.parametrize("name, kind", [("synthetic", SyntheticSource)])
def test_open_when_source_named_then_that_source(name, kind):
    source = open_market_data(settings_for(name, ""), SimulatedClock(1_750_000_000_000))

    assert isinstance(source, kind) and source.fallback_reason is None
