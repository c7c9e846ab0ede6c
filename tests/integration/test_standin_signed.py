"""The signed half of the Binance stand-in answers like Binance, through the real ccxt client (binanceusdm,
demo trading, re-pointed at the stand-in): what ccxt parses from the stand-in is what it parses from the
recorded Binance bodies, and orders fill through the simulator."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from decimal import Decimal
from urllib.parse import urlencode

import ccxt
import pytest

from clock import SystemClock
from tests.standin.binance_standin import DEFAULT_NOW_MS, SHARED_DATA, BinanceStandin
from tests.standin.fixtures import TEST_KEYS, make_futures_client
from tests.standin.signing import sign

KEY, SECRET = next(iter(TEST_KEYS.items()))
BTC = "BTC/USDT:USDT"
RESPONSES = SHARED_DATA / "binance_api/ccxt_static/response_binance.subset_spot_linear.httpResponse_only.json"
NAUTILUS = SHARED_DATA / "binance_api/nautilus/crates/adapters/binance/test_data/futures/http_json"


@pytest.fixture
def standin(binance_futures_standin):
    return binance_futures_standin


@pytest.fixture
def exchange(standin):
    ex = make_futures_client(standin.url, KEY, SECRET)
    ex.load_markets()
    return ex


def recorded(method: str, description_part: str):
    cases = json.loads(RESPONSES.read_text())["methods"][method]
    return next(c["httpResponse"] for c in cases if description_part in c["description"])


def parsed_fields(value: dict) -> set[str]:
    """The unified fields ccxt filled in (not None), without the raw `info`."""
    return {k for k, v in value.items() if v is not None and k != "info"}


def raw(standin, method: str, path: str, params: dict | None = None, *, key: str | None = KEY,
        secret: str = SECRET, signed: bool = True):
    """A request as Binance's documentation builds one (query for GET/DELETE, form body for POST)."""
    params = dict(params or {})
    if signed:
        params.setdefault("timestamp", standin.server_ms())
        query = urlencode(params)
        query += "&signature=" + sign(secret, query)
    else:
        query = urlencode(params)
    url, data = standin.url + path, None
    if method in ("GET", "DELETE"):
        url += "?" + query
    else:
        data = query.encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"X-MBX-APIKEY": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def buy(exchange, qty=0.01, client_id="entry-1", **params):
    return exchange.create_order(BTC, "market", "buy", qty, None, {"clientOrderId": client_id, **params})


# ------------------------------------------------------------------------------------------- markets


def test_load_markets_when_signed_client_connects_then_current_filters_are_served(standin, exchange):
    btc, eth = exchange.market(BTC), exchange.market("ETH/USDT:USDT")

    assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 50
    assert eth["limits"]["cost"]["min"] == 20
    assert standin.request_counts["/fapi/v1/exchangeInfo"] == 1


def test_ticker_mark_and_klines_when_the_market_advances_then_they_move_together(standin, exchange):
    before = exchange.fetch_mark_price(BTC)["markPrice"]
    next_close = float(standin.public.candle_at("BTCUSDT", standin.market_ms() + 60_000, BTC).close)

    standin.advance()

    assert exchange.fetch_mark_price(BTC)["markPrice"] == next_close != before
    assert exchange.fetch_ticker(BTC)["last"] == next_close
    assert exchange.fetch_ohlcv(BTC, "1m", limit=2)[-1][4] == next_close
    book = exchange.fetch_bids_asks([BTC])[BTC]
    assert book["bid"] < next_close < book["ask"]


def test_fetch_time_when_asked_then_the_server_clock_not_the_market(standin, exchange):
    assert abs(exchange.fetch_time() - SystemClock().now_ms()) < 5_000
    assert standin.market_ms() == DEFAULT_NOW_MS


# ------------------------------------------------------------------------------------------- account


def test_fetch_balance_when_fresh_then_parsed_like_the_recorded_account(exchange):
    balance = exchange.fetch_balance()
    recorded_balance = exchange.parse_balance_custom(recorded("fetchBalance", "Linear swap"), "linear")

    assert balance["USDT"] == {"free": 10000.0, "used": 0.0, "total": 10000.0}
    assert balance["info"].keys() >= recorded("fetchBalance", "Linear swap").keys() - {
        "feeTier", "canTrade", "canDeposit", "canWithdraw", "tradeGroupId", "updateTime", "multiAssetsMargin"}
    assert parsed_fields(balance["USDT"]) == parsed_fields(recorded_balance["USDT"])


def test_fetch_positions_when_long_then_parsed_like_the_recorded_position_risk(exchange):
    exchange.set_margin_mode("cross", BTC)  # as the recorded account, and big enough to have a liquidation price
    buy(exchange, 0.25)

    (position,) = exchange.fetch_positions()
    recorded_position = exchange.parse_position_risk(recorded("fetchPositions", "with symbols")[0])

    assert (position["symbol"], position["side"], position["contracts"]) == (BTC, "long", 0.25)
    assert position["info"].keys() == recorded("fetchPositions", "with symbols")[0].keys()
    assert parsed_fields(position) == parsed_fields(recorded_position)


def test_account_positions_when_long_then_the_recorded_v3_account_shape(exchange):
    body = recorded("fetchPositions", "account endnpoint")
    buy(exchange, 0.01)

    (position,) = exchange.fetch_positions(None, {"method": "account"})
    account = exchange.fapiPrivateV3GetAccount()

    assert (position["symbol"], position["side"], position["contracts"]) == (BTC, "long", 0.01)
    assert account.keys() == body.keys() and account["assets"][0].keys() >= body["assets"][0].keys()
    assert account["positions"][0].keys() == body["positions"][0].keys()


def test_leverage_and_margin_type_when_set_then_the_simulator_holds_them(standin, exchange):
    exchange.set_leverage(7, BTC)
    exchange.set_margin_mode("cross", BTC)

    assert standin.account.sim.leverage(BTC) == 7
    assert standin.account.sim.margin_mode(BTC).value == "cross"
    with pytest.raises(ccxt.MarginModeAlreadySet):
        exchange.set_margin_mode("cross", BTC, {"throwMarginModeAlreadySet": True})  # -4046, as Binance
    with pytest.raises(ccxt.BadRequest):
        exchange.set_leverage(0, BTC)


def test_position_mode_when_checked_then_one_way_and_dual_refuses_orders(standin, exchange):
    assert exchange.fetch_position_mode(BTC)["hedged"] is False

    exchange.set_position_mode(True)

    assert exchange.fetch_position_mode(BTC)["hedged"] is True
    with pytest.raises(ccxt.ExchangeError, match="-4061"):
        buy(exchange)


# -------------------------------------------------------------------------------------------- orders


def test_market_order_when_sent_then_filled_by_the_simulator_with_its_fee(standin, exchange):
    order = buy(exchange, 0.01)

    (trade,) = exchange.fetch_my_trades(BTC)
    sim_order = standin.account.sim.get_order(f"o{order['id']}")
    assert order["status"] == "closed" and order["filled"] == 0.01 and order["clientOrderId"] == "entry-1"
    assert Decimal(str(trade["price"])) == sim_order.avg_fill_price
    assert Decimal(trade["info"]["commission"]) == sim_order.fee_paid
    assert trade["info"].keys() == recorded("fetchMyTrades", "Swap private trade")[0].keys()


def test_limit_order_when_resting_then_listed_fetched_and_parsed_like_the_recorded_order(exchange):
    recorded_order = json.loads((NAUTILUS / "order_response.json").read_text())

    placed = exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "lim-1"})

    listed = exchange.fetch_open_orders(BTC)
    fetched = exchange.fetch_order(None, BTC, {"clientOrderId": "lim-1"})
    assert placed["status"] == "open" and [o["clientOrderId"] for o in listed] == ["lim-1"]
    assert fetched["id"] == placed["id"] and fetched["price"] == 90_000
    assert fetched["info"].keys() >= recorded_order.keys()
    assert parsed_fields(fetched) == parsed_fields(exchange.parse_order(recorded_order))


def test_cancel_order_when_resting_then_canceled_and_unknown_the_second_time(exchange):
    exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "lim-1"})

    cancelled = exchange.cancel_order(None, BTC, {"clientOrderId": "lim-1"})

    assert cancelled["status"] == "canceled" and exchange.fetch_open_orders(BTC) == []
    with pytest.raises(ccxt.OrderNotFound):  # -2011
        exchange.cancel_order(None, BTC, {"clientOrderId": "lim-1"})
    with pytest.raises(ccxt.OrderNotFound):  # -2013
        exchange.fetch_order(None, BTC, {"clientOrderId": "never-sent"})


def test_client_order_id_when_reused_while_open_then_4116_and_free_again_once_closed(exchange):
    exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "same"})
    with pytest.raises(ccxt.ExchangeError, match="-4116"):
        exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "same"})

    exchange.cancel_order(None, BTC, {"clientOrderId": "same"})
    again = exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "same"})

    assert again["status"] == "open"


def test_reduce_only_close_when_long_then_flat_and_when_flat_then_2022(exchange):
    buy(exchange, 0.01)

    close = exchange.create_order(BTC, "market", "sell", 0.05, None, {"reduceOnly": True, "clientOrderId": "close-1"})

    assert close["filled"] == 0.01  # capped at the position, as Binance does
    assert exchange.fetch_positions() == []
    with pytest.raises(ccxt.ExchangeError, match="-2022"):
        exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})


@pytest.mark.parametrize("symbol, qty, code", [("ETH/USDT:USDT", 0.001, "-4164"), (BTC, 100, "-2019")])
def test_market_order_when_it_breaks_a_rule_then_binance_code_and_nothing_held(exchange, symbol, qty, code):
    with pytest.raises(ccxt.ExchangeError, match=code):
        exchange.create_order(symbol, "market", "buy", qty)

    assert exchange.fetch_positions() == [] and exchange.fetch_my_trades(symbol) == []


@pytest.mark.parametrize("quantity, code", [("0.0005", -1111), ("0", -4003), ("abc", -1100)])
def test_order_when_quantity_is_off_the_lot_then_binance_code(standin, quantity, code):
    status, body = raw(standin, "POST", "/fapi/v1/order",
                       {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": quantity})

    assert (status, body["code"]) == (400, code)


def test_conditional_order_when_sent_to_the_order_endpoint_then_4120(standin):
    status, body = raw(standin, "POST", "/fapi/v1/order", {
        "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01", "stopPrice": "90000"})

    assert (status, body["code"]) == (400, -4120) and "Algo Order API" in body["msg"]
    assert standin.account.orders == {}


def test_cancel_all_when_orders_rest_then_regular_ones_go_and_algo_ones_stay(exchange):
    buy(exchange, 0.01)
    exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "lim-1"})
    exchange.create_order(BTC, "market", "sell", 0.01, None, {"stopLossPrice": 90_000, "reduceOnly": True,
                                                              "clientOrderId": "stop-1"})

    exchange.cancel_all_orders(BTC)

    assert exchange.fetch_open_orders(BTC) == []
    assert [o["clientOrderId"] for o in exchange.fetch_open_orders(BTC, params={"trigger": True})] == ["stop-1"]
    exchange.cancel_all_orders(BTC, {"trigger": True})
    assert exchange.fetch_open_orders(BTC, params={"trigger": True}) == []


# -------------------------------------------------------------------------------------------- income


def test_funding_history_when_a_position_crosses_a_funding_time_then_one_funding_fee():
    start = DEFAULT_NOW_MS + 8 * 3_600_000 - 2 * 60_000  # two minutes before 08:00 UTC
    with BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=start) as standin:
        exchange = make_futures_client(standin.url, KEY, SECRET)
        buy(exchange, 0.01)

        standin.advance(3)

        (funding,) = exchange.fetch_funding_history(BTC)
        paid = standin.account.sim.ledger().funding
        assert funding["amount"] == float(-paid) and paid > 0  # a long pays a positive rate
        assert funding["info"].keys() == recorded("fetchFundingHistory", "funding history")[0].keys()


# ----------------------------------------------------------------------------------- signing and keys


@pytest.mark.parametrize(
    "change, status, code",
    [
        ({}, 200, None),
        ({"secret": "wrong"}, 400, -1022),
        ({"key": "unknown"}, 401, -2015),
        ({"key": None}, 401, -2014),
        ({"timestamp": -5_001}, 400, -1021),  # older than the default recvWindow of 5000
        ({"timestamp": -4_000}, 200, None),
        ({"timestamp": +1_500}, 400, -1021),  # more than 1 s ahead of the server
        ({"recvWindow": 60_001}, 400, -1131),
        ({"recvWindow": 60_000, "timestamp": -59_000}, 200, None),
    ],
)
def test_signed_request_when_signature_key_or_time_is_off_then_binance_answer(standin, change, status, code):
    params = {"timestamp": standin.server_ms() + change.get("timestamp", 0)}
    if "recvWindow" in change:
        params["recvWindow"] = change["recvWindow"]

    got_status, body = raw(standin, "GET", "/fapi/v2/balance", params, key=change.get("key", KEY),
                           secret=change.get("secret", SECRET))

    assert got_status == status
    assert (body["code"] if code else None) == code


def test_ccxt_when_the_secret_is_wrong_or_the_clock_is_skewed_then_its_errors(standin):
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        make_futures_client(standin.url, KEY, "wrong").fetch_balance()

    standin.skew_ms = -30_000  # the server runs 30 s behind the client: its timestamps are ahead

    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        make_futures_client(standin.url, KEY, SECRET).fetch_balance()


def test_request_log_when_signed_then_params_recorded_without_the_signature(standin, exchange):
    exchange.fetch_balance()

    (request,) = [r for r in standin.requests if r.path == "/fapi/v3/account"]
    assert request.method == "GET" and "signature" not in request.params and "timestamp" in request.params
    assert standin.count("/fapi/v3/account", "GET") == 1


def test_request_log_when_orders_are_posted_then_neither_the_secret_nor_a_signature_is_kept(standin, exchange):
    buy(exchange, 0.01)
    exchange.fetch_my_trades(BTC)

    logged = repr(list(standin.requests))
    assert SECRET not in logged and "signature" not in logged and KEY not in logged
    assert next(r for r in standin.requests if r.method == "POST").params["newClientOrderId"] == "entry-1"


# ------------------------------------------------------------------------------------------- venues


def test_api_restrictions_when_demo_then_404_and_when_mainnet_then_the_configured_permissions():
    permissions = {"enableWithdrawals": True, "ipRestrict": False}
    with BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=DEFAULT_NOW_MS) as demo:
        assert raw(demo, "GET", "/sapi/v1/account/apiRestrictions")[0] == 404
    with BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=DEFAULT_NOW_MS, venue="mainnet",
                        permissions=permissions) as mainnet:
        exchange = make_futures_client(mainnet.url, KEY, SECRET, demo=False)

        answer = exchange.sapi_get_account_apirestrictions()

        assert answer["enableWithdrawals"] is True and answer["enableFutures"] is True
        assert answer["ipRestrict"] is False


# ---------------------------------------------------------------------------------------- countdown


@pytest.mark.parametrize("cancels_algo, algo_left", [(False, ["stop-1"]), (True, [])])
def test_countdown_when_it_runs_out_then_regular_orders_cancelled_and_algo_as_configured(cancels_algo, algo_left):
    with BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=DEFAULT_NOW_MS,
                        countdown_cancels_algo=cancels_algo) as standin:
        exchange = make_futures_client(standin.url, KEY, SECRET)
        buy(exchange, 0.01)
        exchange.create_order(BTC, "limit", "buy", 0.01, 90_000, {"clientOrderId": "lim-1"})
        exchange.create_order(BTC, "market", "sell", 0.01, None, {"stopLossPrice": 90_000, "reduceOnly": True,
                                                                  "clientOrderId": "stop-1"})

        answer = exchange.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 200})

        assert answer == {"symbol": "BTCUSDT", "countdownTime": "200"}
        deadline = time.monotonic() + 10
        while exchange.fetch_open_orders(BTC) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exchange.fetch_open_orders(BTC) == []
        assert [o["clientOrderId"] for o in exchange.fetch_open_orders(BTC, params={"trigger": True})] == algo_left
