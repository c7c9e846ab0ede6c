"""The Binance stand-in answers like Binance, so that what passes against it means something."""

import json
import urllib.error
import urllib.request

import pytest

from tests.standin.fixtures import make_ccxt_client

MIN = 60_000


def get(standin, path: str):
    try:
        with urllib.request.urlopen(standin.url + path, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_load_markets_when_ccxt_connects_then_only_exchange_info_is_asked_and_sol_exists(binance_standin):
    exchange = make_ccxt_client(binance_standin.url)

    exchange.load_markets()

    assert dict(binance_standin.request_counts) == {"/fapi/v1/exchangeInfo": 1}
    sol = exchange.market("SOL/USDT:USDT")
    assert sol["id"] == "SOLUSDT" and sol["precision"]["price"] == 0.01 and sol["limits"]["amount"]["min"] == 1
    assert exchange.market("BTC/USDT:USDT")["precision"]["price"] == 0.1


@pytest.mark.parametrize(
    "query, expected_count, first_offset_min",
    [
        ("limit=5", 5, -4),  # the latest candles up to "now", the one open at now included
        ("limit=1500", 1500, -1499),
        ("startTime={start}&limit=3", 3, -10),
        ("startTime={start}&endTime={end}&limit=100", 6, -10),  # endTime bounds open times, inclusive
        ("endTime={end}&limit=2", 2, -6),
        ("startTime={future}&limit=10", 0, None),  # nothing has opened after now
    ],
)
def test_klines_when_queried_then_binance_window_rules(binance_standin, query, expected_count, first_offset_min):
    now = binance_standin.clock.now_ms()
    q = query.format(start=now - 10 * MIN, end=now - 5 * MIN, future=now + MIN)

    status, body = get(binance_standin, f"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&{q}")

    assert status == 200 and len(body) == expected_count
    if body:
        assert body[0][0] == now + first_offset_min * MIN
        assert body[0][6] == body[0][0] + MIN - 1 and isinstance(body[0][1], str)


@pytest.mark.parametrize(
    "query, code",
    [
        ("symbol=BTCUSDT&interval=1m&limit=1501", -1130),
        ("symbol=BTCUSDT&interval=1m&limit=0", -1130),
        ("symbol=NOPEUSDT&interval=1m", -1121),
        ("symbol=BTCUSDT&interval=7m", -1120),
        ("interval=1m", -1102),
    ],
)
def test_klines_when_request_is_invalid_then_binance_error_code(binance_standin, query, code):
    status, body = get(binance_standin, f"/fapi/v1/klines?{query}")

    assert status == 400 and body["code"] == code


def test_request_when_path_unknown_then_404_and_counted(binance_standin):
    status, _ = get(binance_standin, "/api/v3/ticker/price")

    assert status == 404 and binance_standin.request_counts["/api/v3/ticker/price"] == 1


def test_tickers_and_funding_when_asked_through_ccxt_then_parsed(binance_standin):
    exchange = make_ccxt_client(binance_standin.url)
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]

    tickers = exchange.fetch_tickers(symbols)
    funding = exchange.fetch_funding_rate("ETH/USDT:USDT")
    last = exchange.fetch_last_prices(symbols)

    assert set(tickers) == set(symbols) and all(tickers[s]["last"] == last[s]["price"] for s in symbols)
    assert funding["fundingRate"] == 0.0001 and funding["markPrice"] == last["ETH/USDT:USDT"]["price"]
    assert binance_standin.request_counts["/fapi/v1/ticker/24hr"] == 1


def test_fail_when_armed_then_next_request_fails_once(binance_standin):
    binance_standin.fail("/fapi/v1/time", status=503)

    assert get(binance_standin, "/fapi/v1/time")[0] == 503
    assert get(binance_standin, "/fapi/v1/time") == (200, {"serverTime": binance_standin.clock.now_ms()})
