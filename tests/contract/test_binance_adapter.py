"""Our Binance adapter through the real ccxt client against the stand-in: what connect asks and sets, the
account, orders of every kind the bot sends (entries, limits, protective stops and take-profits as algo
orders, reduce-only closes, cancel-all), and what ccxt parsed compared with Binance's recorded payloads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from errors import OrderRejectedError, VenueUnavailableError
from models import ExitReason, MarginMode, OrderIntent, OrderSide, OrderStatus, OrderType, Side, TimeInForce
from order_ids import entry_order_id, exit_order_id, stop_order_id, take_profit_order_id
from tests.standin.binance_standin import SHARED_DATA
from tests.standin.fixtures import TEST_KEYS, make_futures_client
from venues.ccxt_parsing import order_from_ccxt

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
TRADE = "BTC1747699200L"
KEY, SECRET = next(iter(TEST_KEYS.items()))
RECORDED = SHARED_DATA / "binance_api/nautilus/crates/adapters/binance/test_data/futures/http_json"


def market(client_id: str, side: OrderSide, qty: str, *, reduce_only: bool = False, symbol: str = BTC) -> OrderIntent:
    return OrderIntent(client_order_id=client_id, symbol=symbol, side=side, qty=Decimal(qty),
                       order_type=OrderType.MARKET, reduce_only=reduce_only)


def protective(client_id: str, kind: OrderType, trigger: Decimal, qty: str = "0.01") -> OrderIntent:
    return OrderIntent(client_order_id=client_id, symbol=BTC, side=OrderSide.SELL, qty=Decimal(qty), order_type=kind,
                       stop_price=trigger, reduce_only=True)


def mark(standin) -> Decimal:
    return Decimal(standin.account.mark("BTCUSDT"))


def first_candle_below(standin, trigger: Decimal, within: int = 600) -> int:
    now = standin.market_ms()
    for i in range(1, within + 1):
        if standin.public.candle_at("BTCUSDT", now + 60_000 * i, BTC).low <= trigger:
            return i
    raise AssertionError(f"no recorded candle within {within} minutes goes below {trigger}")


# ------------------------------------------------------------------------------------------ start-up


def test_connect_when_the_venue_answers_then_its_rules_leverage_margin_type_and_clock_are_taken(standin, venue):
    btc = venue.symbol_rules(BTC)
    served = next(s for s in standin.public.exchange_info()["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in served["filters"]}

    assert (btc.tick_size, btc.step_size, btc.min_notional) == (
        Decimal(filters["PRICE_FILTER"]["tickSize"]), Decimal(filters["LOT_SIZE"]["stepSize"]),
        Decimal(filters["MIN_NOTIONAL"]["notional"]))
    assert btc.min_notional == Decimal("50")  # today's filter, not the 2022 recording's 10 the simulator ships with
    assert (standin.account.sim.leverage(BTC), standin.account.sim.margin_mode(ETH)) == (3, MarginMode.ISOLATED)
    assert abs(venue.server_clock.offset_ms) < 1000 and standin.count("/fapi/v1/time") == 1
    assert standin.count("/fapi/v1/positionSide/dual", "GET") == 1


def test_connect_when_margin_type_already_set_then_no_need_to_change_is_success(standin, make_adapter):
    make_adapter()

    again = make_adapter()  # -4046 "No need to change margin type." on both symbols

    assert again.symbol_rules(BTC).exchange_id == "BTCUSDT"
    assert standin.count("/fapi/v1/marginType", "POST") == 4


def test_connect_when_the_account_is_in_hedge_mode_then_refused_with_how_to_fix_it(standin, make_adapter):
    standin.account.dual_side = True

    with pytest.raises(VenueUnavailableError, match="hedge mode.*one-way"):
        make_adapter()


def test_connect_when_a_configured_symbol_is_not_listed_then_refused_naming_it(make_adapter):
    with pytest.raises(VenueUnavailableError, match="does not list DOGE/USDT:USDT"):
        make_adapter(symbols=(BTC, "DOGE/USDT:USDT"))


def test_connect_when_the_venue_is_down_then_venue_unavailable_naming_it(standin, make_adapter):
    url = standin.url
    standin.stop()

    with pytest.raises(VenueUnavailableError, match="binance-demo"):
        make_adapter(url=url, timeout_s=0.5)


# ------------------------------------------------------------------------------------------- account


def test_account_and_mark_price_when_fresh_then_the_venues_figures(standin, venue):
    account = venue.account()

    assert (account.wallet_balance, account.margin_used, account.available) == (
        Decimal("10000"), Decimal("0"), Decimal("10000"))
    assert venue.mark_price(BTC) == mark(standin)
    assert venue.positions() == [] and venue.open_orders() == []


def test_market_entry_when_filled_then_order_position_and_fill_under_our_client_id(standin, venue):
    order = venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))

    (position,) = venue.positions()
    (fill,) = venue.take_fills()
    sim = standin.account.sim.get_order(f"o{order.exchange_order_id}")
    assert (order.status, order.filled_qty, order.client_order_id) == (OrderStatus.FILLED, Decimal("0.01"), f"{TRADE}-en")
    assert (position.symbol, position.side, position.qty, position.margin_mode) == (BTC, Side.LONG, Decimal("0.01"),
                                                                                  MarginMode.ISOLATED)
    assert (fill.client_order_id, fill.qty, fill.price, fill.fee) == (f"{TRADE}-en", Decimal("0.01"),
                                                                      sim.avg_fill_price, sim.fee_paid)
    assert venue.take_fills() == []  # read once


def test_limit_order_when_resting_then_listed_fetched_and_cancelled(standin, venue):
    intent = OrderIntent(client_order_id="BTC1lim-en", symbol=BTC, side=OrderSide.BUY, qty=Decimal("0.01"),
                         order_type=OrderType.LIMIT, price=Decimal("90000"), time_in_force=TimeInForce.GTC)

    placed = venue.submit(intent)

    assert (placed.status, placed.price) == (OrderStatus.NEW, Decimal("90000"))
    assert [o.client_order_id for o in venue.open_orders(BTC)] == ["BTC1lim-en"]
    assert venue.fetch_order(BTC, "BTC1lim-en").order_type is OrderType.LIMIT
    cancelled = venue.cancel(BTC, "BTC1lim-en")
    assert cancelled.status is OrderStatus.CANCELED and venue.open_orders() == []
    assert venue.fetch_order(BTC, "never-sent-en") is None


def test_protective_stop_and_take_profit_when_placed_then_algo_orders_listed_with_regular_ones(standin, venue):
    venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))
    price = mark(standin)

    stop = venue.submit(protective(stop_order_id(TRADE), OrderType.STOP_MARKET, (price * Decimal("0.9")).quantize(Decimal("0.1"))))
    target = venue.submit(protective(take_profit_order_id(TRADE), OrderType.TAKE_PROFIT_MARKET,
                                     (price * Decimal("1.1")).quantize(Decimal("0.1"))))

    assert standin.count("/fapi/v1/algoOrder", "POST") == 2 and standin.count("/fapi/v1/order", "POST") == 1
    listed = {o.client_order_id: o for o in venue.open_orders(BTC)}
    assert set(listed) == {f"{TRADE}-sl0", f"{TRADE}-tp"}
    assert listed[f"{TRADE}-sl0"].order_type is OrderType.STOP_MARKET and listed[f"{TRADE}-sl0"].reduce_only
    assert listed[f"{TRADE}-tp"].order_type is OrderType.TAKE_PROFIT_MARKET
    assert (stop.status, target.status) == (OrderStatus.NEW, OrderStatus.NEW)
    request = next(r for r in standin.requests if r.path == "/fapi/v1/algoOrder" and r.method == "POST")
    assert (request.params["clientAlgoId"], request.params["workingType"], request.params["reduceOnly"]) == (
        f"{TRADE}-sl0", "CONTRACT_PRICE", "true")


def test_protective_stop_when_cancelled_after_a_restart_then_found_as_an_algo_order_by_its_id(standin, venue,
                                                                                                  make_adapter):
    venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))
    venue.submit(protective(stop_order_id(TRADE), OrderType.STOP_MARKET, (mark(standin) * Decimal("0.9")).quantize(Decimal("0.1"))))
    restarted = make_adapter()  # remembers nothing this process sent

    assert restarted.fetch_order(BTC, f"{TRADE}-sl0").order_type is OrderType.STOP_MARKET
    cancelled = restarted.cancel(BTC, f"{TRADE}-sl0")

    assert cancelled.status is OrderStatus.CANCELED and restarted.open_orders(BTC) == []


def test_protective_stop_when_triggered_then_its_fill_is_booked_under_the_stops_client_id(standin, venue, make_adapter):
    venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))
    venue.take_fills()
    trigger = mark(standin) - Decimal("1.0")
    venue.submit(protective(stop_order_id(TRADE), OrderType.STOP_MARKET, trigger))
    restarted = make_adapter()

    standin.advance(first_candle_below(standin, trigger))

    (fill,) = venue.take_fills()
    assert (fill.client_order_id, fill.side, fill.qty) == (f"{TRADE}-sl0", OrderSide.SELL, Decimal("0.01"))
    assert venue.positions() == [] and venue.open_orders() == []
    stop = restarted.fetch_order(BTC, f"{TRADE}-sl0")  # triggered: read through its actualOrderId
    assert (stop.status, stop.filled_qty) == (OrderStatus.FILLED, Decimal("0.01"))


def test_reduce_only_close_when_long_then_flat_and_when_flat_then_refused_with_2022(venue):
    venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))

    close = venue.submit(market(exit_order_id(TRADE, ExitReason.KILL_SWITCH), OrderSide.SELL, "0.01", reduce_only=True))

    assert close.filled_qty == Decimal("0.01") and venue.positions() == []
    with pytest.raises(OrderRejectedError) as refused:
        venue.submit(market(exit_order_id(TRADE, ExitReason.KILL_SWITCH, 1), OrderSide.SELL, "0.01", reduce_only=True))
    assert refused.value.code == -2022


def test_cancel_all_when_regular_and_algo_orders_rest_then_none_left_of_either(standin, venue):
    venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))
    venue.submit(OrderIntent(client_order_id="BTC2lim-en", symbol=BTC, side=OrderSide.BUY, qty=Decimal("0.01"),
                             order_type=OrderType.LIMIT, price=Decimal("90000")))
    venue.submit(protective(stop_order_id(TRADE), OrderType.STOP_MARKET, (mark(standin) * Decimal("0.9")).quantize(Decimal("0.1"))))

    cancelled = venue.cancel_all()

    assert {o.client_order_id for o in cancelled} == {"BTC2lim-en", f"{TRADE}-sl0"}
    assert venue.open_orders() == []
    assert standin.account.open_algos() == [] and standin.account.open_orders() == []


def test_order_when_it_breaks_the_venues_minimum_notional_then_refused_with_its_code_and_nothing_held(venue):
    with pytest.raises(OrderRejectedError) as refused:
        venue.submit(market("ETH1tiny-en", OrderSide.BUY, "0.001", symbol=ETH))

    assert refused.value.code == -4164
    assert venue.positions() == []


# ------------------------------------------------------------------------------ parsed vs recorded


def test_recorded_open_algo_order_when_parsed_then_the_same_order_as_one_listed_by_the_stand_in(standin, venue):
    venue.submit(market(entry_order_id(TRADE), OrderSide.BUY, "0.01"))
    venue.submit(protective(stop_order_id(TRADE), OrderType.STOP_MARKET, (mark(standin) * Decimal("0.9")).quantize(Decimal("0.1"))))
    recorded = json.loads((RECORDED / "open_algo_orders.json").read_text())[0]
    parser = make_futures_client(standin.url, KEY, SECRET)
    parser.load_markets()
    (listed,) = venue.open_orders(BTC)

    ours = order_from_ccxt(parser.parse_order(recorded))

    assert (ours.order_type, ours.status, ours.stop_price, ours.client_order_id, ours.reduce_only) == (
        OrderType.STOP_MARKET, OrderStatus.NEW, Decimal("45000"), "test-algo-order-1", False)
    assert (listed.order_type, listed.status, listed.side, listed.reduce_only) == (
        ours.order_type, ours.status, OrderSide.SELL, True)
    filled_in = {f for f in ("stop_price", "qty", "exchange_order_id", "created_ms") if getattr(ours, f)}
    assert filled_in == {f for f in filled_in if getattr(listed, f)}


# ------------------------------------------------------------------------------------------ mainnet


@pytest.mark.parametrize("rights, refused", [
    ({"enableWithdrawals": False, "enableFutures": True}, None),
    ({"enableWithdrawals": True, "enableFutures": True}, "may withdraw funds"),
    ({"enableWithdrawals": False, "enableFutures": False}, "may not trade futures"),
])
def test_connect_when_binance_live_then_the_keys_rights_are_checked(make_adapter, rights, refused):
    from clock import SystemClock
    from tests.standin.binance_standin import DEFAULT_NOW_MS, BinanceStandin

    with BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, market_start_ms=DEFAULT_NOW_MS, venue="mainnet",
                        permissions=rights) as mainnet:
        if refused is None:
            venue = make_adapter(url=mainnet.url, venue="binance-live")
            assert venue.symbol_rules(BTC).exchange_id == "BTCUSDT"
        else:
            with pytest.raises(VenueUnavailableError, match=f"BINANCE_API_KEY {refused}"):
                make_adapter(url=mainnet.url, venue="binance-live")
        assert mainnet.count("/sapi/v1/account/apiRestrictions") == 1


# ------------------------------------------------------------------ the supervisor's closing-only connection

def test_closing_only_connection_when_an_entry_is_submitted_then_refused_and_nothing_reaches_the_venue(standin, make_adapter):
    closer = make_adapter(closing_only=True)

    with pytest.raises(OrderRejectedError, match="only closes"):
        closer.submit(market("BTC3mkt-en", OrderSide.BUY, "0.01"))

    assert standin.count("/fapi/v1/order", "POST") == 0
    assert closer.positions() == []


def test_closing_only_connection_when_it_closes_a_position_then_flat_and_no_setting_of_the_account_changed(standin, make_adapter):
    trader = make_adapter()
    trader.submit(market("BTC4mkt-en", OrderSide.BUY, "0.01"))
    settings_posts = standin.count("/fapi/v1/leverage", "POST") + standin.count("/fapi/v1/marginType", "POST")

    closer = make_adapter(closing_only=True)
    closed = closer.submit(market(exit_order_id("BTC4", ExitReason.KILL_SWITCH, 90), OrderSide.SELL, "0.01",
                                  reduce_only=True))

    assert closed.status is OrderStatus.FILLED
    assert closer.positions() == []
    # the trader's connect set leverage and margin type; the closer's connect set nothing
    assert standin.count("/fapi/v1/leverage", "POST") + standin.count("/fapi/v1/marginType", "POST") == settings_posts
