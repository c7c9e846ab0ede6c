"""Protective stops on the stand-in go through Binance's Algo Order API as ccxt ≥ 4.5.23 sends them: placed,
listed and cancelled with params={'trigger': True}, and triggered by a recorded candle into a real MARKET
order whose id is the algo order's actualOrderId."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.standin.binance_standin import SHARED_DATA
from tests.standin.fixtures import TEST_KEYS, make_futures_client

KEY, SECRET = next(iter(TEST_KEYS.items()))
BTC = "BTC/USDT:USDT"
RECORDED_ALGO = SHARED_DATA / "binance_api/nautilus/crates/adapters/binance/test_data/futures/http_json/open_algo_orders.json"
TRIGGER = {"trigger": True}


@pytest.fixture
def standin(binance_futures_standin):
    return binance_futures_standin


@pytest.fixture
def exchange(standin):
    ex = make_futures_client(standin.url, KEY, SECRET)
    ex.load_markets()
    ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "entry-1"})
    return ex


def stop_below_the_next_lows(standin, within: int = 600) -> tuple[Decimal, int]:
    """A sell stop ten ticks below the mark and how many recorded candles until the first one that crosses it."""
    trigger = Decimal(standin.account.mark("BTCUSDT")) - Decimal("1.0")
    now = standin.market_ms()
    for i in range(1, within + 1):
        if standin.public.candle_at("BTCUSDT", now + 60_000 * i, BTC).low <= trigger:
            return trigger, i
    raise AssertionError(f"no recorded candle within {within} minutes goes below {trigger}")


def place_stop(exchange, trigger, client_id="stop-1"):
    return exchange.create_order(BTC, "market", "sell", 0.01, None,
                                 {"stopLossPrice": float(trigger), "reduceOnly": True, "clientOrderId": client_id})


def test_stop_when_placed_then_an_algo_order_listed_only_with_trigger(standin, exchange):
    trigger, _ = stop_below_the_next_lows(standin)

    stop = place_stop(exchange, trigger)

    assert standin.count("/fapi/v1/algoOrder", "POST") == 1 and standin.count("/fapi/v1/order", "POST") == 1
    assert (stop["clientOrderId"], stop["status"], stop["triggerPrice"]) == ("stop-1", "open", float(trigger))
    assert exchange.fetch_open_orders(BTC) == []
    (listed,) = exchange.fetch_open_orders(BTC, params=TRIGGER)
    assert listed["id"] == stop["id"] and listed["reduceOnly"] is True
    request = next(r for r in standin.requests if r.path == "/fapi/v1/algoOrder")
    assert request.params["algoType"] == "CONDITIONAL" and request.params["type"] == "STOP_MARKET"


def test_algo_order_when_listed_then_parsed_like_the_recorded_open_algo_order(standin, exchange):
    recorded = json.loads(RECORDED_ALGO.read_text())[0]
    place_stop(exchange, stop_below_the_next_lows(standin)[0])

    (listed,) = exchange.fetch_open_orders(BTC, params=TRIGGER)
    parsed_recorded = exchange.parse_order(recorded)

    shared = {k for k, v in parsed_recorded.items() if v is not None and k != "info"}
    assert shared <= {k for k, v in listed.items() if v is not None}
    assert listed["info"].keys() >= recorded.keys() - {"type"}  # Binance's REST says orderType; ccxt reads both


def test_stop_when_cancelled_then_gone_from_the_list_and_fetched_as_canceled(standin, exchange):
    place_stop(exchange, stop_below_the_next_lows(standin)[0])

    exchange.cancel_order(None, BTC, {"clientOrderId": "stop-1", **TRIGGER})

    assert exchange.fetch_open_orders(BTC, params=TRIGGER) == []
    assert exchange.fetch_order(None, BTC, {"clientOrderId": "stop-1", **TRIGGER})["status"] == "canceled"


def test_stop_when_a_candle_crosses_it_then_finished_with_the_actual_order_filled(standin, exchange):
    trigger, after = stop_below_the_next_lows(standin)
    place_stop(exchange, trigger)
    standin.advance(after - 1)
    assert exchange.fetch_order(None, BTC, {"clientOrderId": "stop-1", **TRIGGER})["status"] == "open"

    standin.advance()

    algo = exchange.fetch_order(None, BTC, {"clientOrderId": "stop-1", **TRIGGER})
    actual_id = algo["info"]["actualOrderId"]
    actual = exchange.fetch_order(actual_id, BTC)
    trades = [t for t in exchange.fetch_my_trades(BTC) if t["order"] == actual_id]
    assert algo["status"] == "closed" and algo["info"]["algoStatus"] == "FINISHED"
    assert actual["status"] == "closed" and actual["filled"] == 0.01 and actual["clientOrderId"] != "stop-1"
    assert len(trades) == 1 and trades[0]["price"] <= float(trigger)  # a sell stop fills at or below its trigger
    assert exchange.fetch_positions() == [] and exchange.fetch_open_orders(BTC, params=TRIGGER) == []


def test_stop_when_the_position_is_closed_first_then_the_reduce_only_stop_expires(standin, exchange):
    place_stop(exchange, stop_below_the_next_lows(standin)[0])

    exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})

    algo = exchange.fetch_order(None, BTC, {"clientOrderId": "stop-1", **TRIGGER})
    assert algo["info"]["algoStatus"] == "EXPIRED" and algo["info"]["actualOrderId"] == ""


def test_stop_when_its_trigger_is_already_crossed_then_2021_and_nothing_rests(standin, exchange):
    mark = Decimal(standin.account.mark("BTCUSDT"))

    with pytest.raises(Exception, match="-2021"):
        place_stop(exchange, mark + 100)

    assert exchange.fetch_open_orders(BTC, params=TRIGGER) == []


def test_close_position_stop_when_triggered_then_closes_whatever_is_held(standin, exchange):
    trigger, after = stop_below_the_next_lows(standin)
    exchange.create_order(BTC, "market", "buy", 0.02, None)  # 0.03 held now
    exchange.fapiPrivatePostAlgoOrder({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                                       "algoType": "CONDITIONAL", "triggerPrice": str(trigger),
                                       "closePosition": "true", "clientAlgoId": "close-all"})

    standin.advance(after)

    assert exchange.fetch_positions() == []
    algo = exchange.fetch_order(None, BTC, {"clientOrderId": "close-all", **TRIGGER})
    assert exchange.fetch_order(algo["info"]["actualOrderId"], BTC)["filled"] == 0.03


@pytest.mark.parametrize("param, offset, binance_type", [
    ("stopLossPrice", Decimal("-100"), "STOP_MARKET"),
    ("takeProfitPrice", Decimal("100"), "TAKE_PROFIT_MARKET"),
])
def test_protective_order_when_ccxt_routes_it_then_the_algo_type_binance_expects(standin, exchange, param, offset,
                                                                                  binance_type):
    trigger = Decimal(standin.account.mark("BTCUSDT")) + offset

    exchange.create_order(BTC, "market", "sell", 0.01, None, {param: float(trigger), "reduceOnly": True})

    (listed,) = exchange.fetch_open_orders(BTC, params=TRIGGER)
    assert listed["info"]["orderType"] == binance_type and listed["triggerPrice"] == float(trigger)


@pytest.mark.parametrize("kind", ["STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"])
def test_algo_order_when_of_a_type_the_standin_does_not_fill_then_refused_by_name(standin, exchange, kind):
    with pytest.raises(Exception, match=f"-1116.*{kind}"):
        exchange.fapiPrivatePostAlgoOrder({"symbol": "BTCUSDT", "side": "SELL", "type": kind, "algoType": "CONDITIONAL",
                                           "quantity": "0.01", "triggerPrice": "90000", "price": "89000"})

    assert exchange.fetch_open_orders(BTC, params=TRIGGER) == []
