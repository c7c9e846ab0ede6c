"""The stand-in's fault switches fail the way Binance fails, seen through the real ccxt client: timeouts before
and after an order is accepted, 429 with Retry-After then a 418 ban for a client that keeps sending, -1021,
503 "unknown", partial fills — armed from the test, from another process over HTTP, or in a process of its own."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import ccxt
import pytest

from clock import SystemClock
from tests.standin.binance_standin import DEFAULT_NOW_MS, BinanceStandin
from tests.standin.faults import UNKNOWN_MSG
from tests.standin.fixtures import TEST_KEYS, make_futures_client

KEY, SECRET = next(iter(TEST_KEYS.items()))
BTC = "BTC/USDT:USDT"
ORDER = "/fapi/v1/order"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class FakeMonotonic:
    """The stand-in's rate-limit windows on a clock the test moves: no sleeping."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def standin(binance_futures_standin):
    binance_futures_standin.faults.monotonic = FakeMonotonic()
    return binance_futures_standin


@pytest.fixture
def exchange(standin):
    ex = make_futures_client(standin.url, KEY, SECRET, timeout_ms=700)
    ex.load_markets()
    return ex


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def post_json(url: str, body: dict):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def buy(exchange, client_id="entry-1", qty=0.01):
    return exchange.create_order(BTC, "market", "buy", qty, None, {"clientOrderId": client_id})


def test_timeout_before_accept_when_an_order_is_sent_then_the_client_times_out_and_nothing_is_placed(standin, exchange):
    standin.timeout_before(ORDER, "POST")

    with pytest.raises(ccxt.RequestTimeout):
        buy(exchange)

    assert standin.account.orders == {} and exchange.fetch_positions() == []
    assert buy(exchange)["status"] == "closed"  # used up: the next one goes through


def test_timeout_after_accept_when_an_order_is_sent_then_it_exists_exactly_once(standin, exchange):
    standin.timeout_after(ORDER, "POST")

    with pytest.raises(ccxt.RequestTimeout):
        buy(exchange)

    found = exchange.fetch_order(None, BTC, {"clientOrderId": "entry-1"})
    assert found["status"] == "closed" and found["filled"] == 0.01
    assert len(standin.account.orders) == 1


def test_rate_limit_when_armed_then_429_with_retry_after_and_the_call_after_the_wait_succeeds(standin, exchange):
    standin.rate_limit("/fapi/v3/account", retry_after_s=2)

    with pytest.raises(ccxt.DDoSProtection, match="429"):
        exchange.fetch_balance()
    standin.faults.monotonic.now += 2  # the client waited Retry-After

    assert exchange.fetch_balance()["USDT"]["total"] == 10000.0
    assert standin.faults.banned_count == 0


def test_rate_limit_when_the_client_keeps_sending_inside_the_window_then_418_for_every_path(standin):
    standin.rate_limit("/fapi/v1/ticker/price", retry_after_s=3, ban_s=60)

    first = get(standin.url + "/fapi/v1/ticker/price?symbol=BTCUSDT")
    hammer = get(standin.url + "/fapi/v1/ticker/price?symbol=BTCUSDT")
    other_path = get(standin.url + "/fapi/v1/time")
    standin.faults.monotonic.now += 61
    after_ban = get(standin.url + "/fapi/v1/time")

    assert (first[0], first[1]["Retry-After"], first[2]["code"]) == (429, "3", -1003)
    assert hammer[0] == 418 and "banned until" in hammer[2]["msg"] and int(hammer[1]["Retry-After"]) == 60
    assert other_path[0] == 418 and after_ban[0] == 200
    assert standin.faults.banned_count == 2


@pytest.mark.parametrize("ban_after, statuses", [(0, [429, 418]), (1, [429, 429, 418])])
def test_rate_limit_when_tolerating_some_requests_in_the_window_then_the_ban_comes_after_them(standin, ban_after,
                                                                                               statuses):
    standin.rate_limit("/fapi/v1/time", ban_after=ban_after)

    got = [get(standin.url + "/fapi/v1/time")[0] for _ in statuses]

    assert got == statuses


def test_clock_skew_when_armed_then_ccxt_sees_1021_and_the_next_call_works(standin, exchange):
    standin.clock_skew("/fapi/v3/account")

    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        exchange.fetch_balance()

    assert exchange.fetch_balance()["USDT"]["total"] == 10000.0


@pytest.mark.parametrize("applied, orders", [(False, 0), (True, 1)])
def test_unknown_503_when_an_order_is_sent_then_its_fate_is_only_known_by_looking(standin, exchange, applied, orders):
    standin.unknown_503(ORDER, "POST", applied=applied)

    with pytest.raises(ccxt.OperationFailed, match=UNKNOWN_MSG):  # ccxt: -1000, HTTP 503
        buy(exchange)

    assert len(standin.account.orders) == orders


def test_partial_fill_when_a_market_order_is_sent_then_half_fills_and_the_rest_expires(standin, exchange):
    standin.partial_fill("0.5", symbol="BTCUSDT")

    order = buy(exchange, qty=0.02)

    assert (order["status"], order["filled"], order["amount"]) == ("expired", 0.01, 0.02)
    (position,) = exchange.fetch_positions()
    assert position["contracts"] == 0.01
    assert buy(exchange, "entry-2", qty=0.02)["filled"] == 0.02  # used up


def test_partial_fill_when_an_ioc_limit_crosses_then_only_the_fraction_fills(standin, exchange):
    standin.partial_fill("0.25")
    mark = float(standin.account.mark("BTCUSDT"))

    order = exchange.create_order(BTC, "limit", "buy", 0.04, mark + 50, {"timeInForce": "IOC"})

    assert (order["status"], order["filled"]) == ("expired", 0.01)


def test_control_endpoint_when_another_process_arms_a_fault_then_it_fires_and_requests_are_listed(standin, exchange):
    status, _ = post_json(standin.url + "/_standin/fault", {"kind": "clock_skew", "path": "/fapi/v3/account"})

    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()
    _, _, listed = get(standin.url + "/_standin/requests")
    bad = post_json(standin.url + "/_standin/fault", {"kind": "meteor", "path": ORDER})
    moved = post_json(standin.url + "/_standin/advance", {"candles": 2})

    assert status == 200 and listed["counts"]["/fapi/v3/account"] == 1
    assert all("signature" not in params for _, _, params in listed["requests"])
    assert bad[0] == 400 and "meteor" in bad[1]["error"]
    assert moved == (200, {"market_ms": standin.market_ms()}) and "/_standin/requests" not in standin.request_counts


def test_standin_process_when_started_with_a_keys_file_then_it_serves_signed_requests(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"proc-key": "proc-secret"}))
    process = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0", "--keys-file", str(keys)],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)  # the one line it prints once it listens
        line = process.stdout.readline() if ready else ""
        assert "listening on " in line, f"the stand-in did not start: {line!r} {process.poll()}"
        url = line.split("listening on ")[1].split()[0]
        exchange = make_futures_client(url, "proc-key", "proc-secret")

        balance = exchange.fetch_balance()
        with pytest.raises(ccxt.AuthenticationError):
            make_futures_client(url, "proc-key", "wrong").fetch_balance()

        assert balance["USDT"]["total"] == 10000.0
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_market_on_a_timer_when_left_alone_then_it_moves_candle_by_candle():
    with BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=DEFAULT_NOW_MS,
                        advance_every_s=0.05) as standin:
        deadline = time.monotonic() + 10
        while standin.market_ms() < DEFAULT_NOW_MS + 3 * 60_000 and time.monotonic() < deadline:
            time.sleep(0.02)

        moved_to = standin.market_ms()
        assert moved_to >= DEFAULT_NOW_MS + 3 * 60_000 and (moved_to - DEFAULT_NOW_MS) % 60_000 == 0
        assert standin.account.sim.market_time_ms() >= DEFAULT_NOW_MS + 3 * 60_000  # the simulator saw each


@pytest.mark.parametrize("content", [None, "not json", '["a list"]', '{"key": 1}'])
def test_standin_process_when_the_keys_file_is_missing_or_wrong_then_one_line_and_exit_2(tmp_path, content):
    keys = tmp_path / "keys.json"
    if content is not None:
        keys.write_text(content)

    done = subprocess.run([sys.executable, "-m", "tests.standin", "--keys-file", str(keys)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot read keys" in done.stderr
