"""The venue's clock against ours, and its symbol rules from exchangeInfo as ccxt parses them (offline:
the recorded exchangeInfo through the real ccxt parser)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from errors import ClockSkewError, NetworkError, OrderRejectedError
from venues.binance_clock import ServerClock
from venues.binance_rules import RulesCache, rules_from_markets

EXCHANGE_INFO = (Path(__file__).resolve().parents[3] / "shared/data/binance_api/nautilus/tests/integration_tests/"
                 "adapters/binance/resources/http_responses/http_futures_market_exchange_info.json")


class Wall:
    def __init__(self, now_ms: int, step_ms: int = 0):
        self.now, self.step = now_ms, step_ms

    def __call__(self) -> int:
        value = self.now
        self.now += self.step  # each reading a little later: a round trip takes time
        return value


class Exchange:
    options: dict = {}


@pytest.mark.parametrize("server_ahead_ms, window_ms, refused", [
    (0, 5000, False),
    (4990, 5000, False),  # + half the 20 ms round trip = 5000: still inside
    (4991, 5000, True),
    (-4990, 5000, False),
    (-6000, 5000, True),
    (59_000, 60_000, False),
])
def test_refuse_if_off_when_offset_against_recv_window_then_refused_beyond_it(server_ahead_ms, window_ms, refused):
    wall = Wall(1_700_000_000_000, step_ms=20)
    clock, exchange = ServerClock("binance-demo", window_ms, wall_ms=wall), Exchange()
    exchange.options = {}

    offset = clock.measure(lambda: 1_700_000_000_010 + server_ahead_ms, exchange)

    assert offset == server_ahead_ms
    assert exchange.options["timeDifference"] == -server_ahead_ms  # ccxt signs with the venue's time
    if refused:
        with pytest.raises(ClockSkewError, match=f"recvWindow allows {window_ms} ms"):
            clock.refuse_if_off()
    else:
        clock.refuse_if_off()


def test_refuse_if_off_when_never_measured_then_refused():
    with pytest.raises(ClockSkewError, match="never measured"):
        ServerClock("binance-demo", 5000).refuse_if_off()


def _recorded_markets() -> dict:
    if not EXCHANGE_INFO.is_file():
        pytest.skip(f"{EXCHANGE_INFO} (../shared/data) is absent")
    exchange = ccxt.binanceusdm()
    markets = [exchange.parse_market(entry) for entry in json.loads(EXCHANGE_INFO.read_text())["symbols"]]
    return {m["symbol"]: m for m in markets if m is not None}


def test_rules_from_markets_when_recorded_exchange_info_then_filters_as_the_venue_states_them():
    rules = rules_from_markets(_recorded_markets())

    btc = rules["BTC/USDT:USDT"]
    assert (btc.tick_size, btc.step_size, btc.min_notional, btc.exchange_id) == (
        Decimal("0.10"), Decimal("0.001"), Decimal("10"), "BTCUSDT")  # as recorded in 2022


def test_get_when_rules_older_than_the_interval_then_read_again_and_kept_when_the_refresh_fails():
    now = [0.0]
    answers: list = [_recorded_markets()]

    def load():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = RulesCache("binance-demo", load, refresh_s=60, monotonic=lambda: now[0])
    cache.load()
    tighter = {k: v for k, v in _recorded_markets().items()}
    tighter["BTC/USDT:USDT"] = json.loads(json.dumps(tighter["BTC/USDT:USDT"]))
    for f in tighter["BTC/USDT:USDT"]["info"]["filters"]:
        if f["filterType"] == "MIN_NOTIONAL":
            f["notional"] = "100"
    answers += [tighter, NetworkError("timed out")]

    now[0] = 59.0
    assert cache.get("BTC/USDT:USDT").min_notional == Decimal("10")  # fresh enough: not asked
    now[0] = 60.0
    assert cache.get("BTC/USDT:USDT").min_notional == Decimal("100")  # read again: the new limit
    now[0] = 120.0
    assert cache.get("BTC/USDT:USDT").min_notional == Decimal("100")  # refresh failed: last rules kept
    with pytest.raises(OrderRejectedError, match="no trading rules for DOGE/USDT:USDT"):
        cache.get("DOGE/USDT:USDT")
