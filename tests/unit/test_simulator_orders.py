"""Submitting orders to the simulated exchange: fills, fees, slippage and Binance's rejections."""

from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from errors import InsufficientFundsError, OrderRejectedError
from models import Candle, Liquidity, MarginMode, OrderIntent, OrderSide, OrderStatus, OrderType, Side, TimeInForce
from simulator import SimConfig, SimExchange, SymbolRules
from simulator.symbols import BUILTIN_RULES

BTC = "BTC/USDT:USDT"
TEST = "TEST/USDT:USDT"
BUY, SELL = OrderSide.BUY, OrderSide.SELL
RULES = {
    **BUILTIN_RULES,
    # A symbol whose minimum quantity is not one step, to test both boundaries separately.
    TEST: SymbolRules(TEST, D("0.01"), D("0.001"), D("0.005"), D("100"), D("5"), D("0.001"), D("50"), "TESTUSDT"),
}


def make(mark: str | None = "100000", symbol: str = BTC, **config) -> SimExchange:
    ex = SimExchange(SimConfig(**{"leverage": 10, **config}), SimulatedClock(1_000), RULES)
    if mark is not None:
        price = D(mark)
        ex.on_candle(Candle(symbol, "1m", 0, price, price, price, price, D("100")))
    return ex


def order(cid: str, side: OrderSide, qty: str, order_type: OrderType = OrderType.MARKET, symbol: str = BTC,
          price: str | None = None, stop: str | None = None, reduce_only: bool = False,
          tif: TimeInForce = TimeInForce.GTC) -> OrderIntent:
    return OrderIntent(cid, symbol, side, D(qty), order_type, D(price) if price else None, D(stop) if stop else None,
                       reduce_only, tif)


def rejected(ex: SimExchange, intent: OrderIntent) -> OrderRejectedError:
    with pytest.raises(OrderRejectedError) as info:
        ex.submit(intent)
    return info.value


# ------------------------------------------------------------------------------ fees and slippage


@pytest.mark.parametrize(
    "side, fill_price, fee",
    [
        (BUY, "100020.0", "5.001"),  # 100000 * (1 + 2/10000); fee 0.1 * 100020 * 0.0005
        (SELL, "99980.0", "4.999"),  # 100000 * (1 - 2/10000); fee 0.1 * 99980 * 0.0005
    ],
)
def test_market_order_when_fixed_bps_then_fills_against_the_trader_with_taker_fee(side, fill_price, fee):
    ex = make()

    ex.submit(order("m1", side, "0.1"))
    [fill] = ex.take_fills()

    assert fill.price == D(fill_price)
    assert fill.fee == D(fee)
    assert fill.liquidity is Liquidity.TAKER
    assert fill.slippage_cost == D("2")  # |fill - 100000| * 0.1


@pytest.mark.parametrize("side, fill_price", [(BUY, "100020.4"), (SELL, "99980.2")])
def test_market_order_when_slipped_price_is_off_tick_then_rounded_against_the_trader(side, fill_price):
    ex = make(mark=None)
    ex.on_candle(Candle(BTC, "1m", 0, D("100000"), D("100100"), D("99900"), D("100000.3"), D("100")))
    # buy: 100020.30006 → up; sell: 99980.29994 → down, both well inside the candle

    ex.submit(order("m1", side, "0.1"))

    assert ex.take_fills()[0].price == D(fill_price)


@pytest.mark.parametrize("side, fill_price", [(BUY, "100020.3"), (SELL, "99980.3")])
def test_market_order_when_rounding_against_the_trader_would_leave_the_candle_range_then_rounded_towards(side, fill_price):
    # a flat candle at 100000.3: the band is 100000.3 ± 2 bps = [99980.29994, 100020.30006], and one tick
    # further against the trader (100020.4 / 99980.2) would be a price the market never had
    ex = make(mark="100000.3")

    ex.submit(order("m1", side, "0.1"))

    assert ex.take_fills()[0].price == D(fill_price)


def test_market_order_when_volume_model_then_bps_grow_with_order_size_over_candle_volume():
    # 100 bps at an order as large as the whole candle (100 BTC); 1 BTC is 1 % of it → 1 bp.
    ex = make(slippage_model="volume", volume_impact_bps=D("100"), starting_balance=D("100000"))

    ex.submit(order("m1", BUY, "1"))

    assert ex.take_fills()[0].price == D("100010.0")


@pytest.mark.parametrize(
    "side, limit, low, high, fill_price, fee",
    [
        (BUY, "99000", "98900", "100000", "99000", "1.98"),  # 0.1 * 99000 * 0.0002
        (SELL, "101000", "100000", "101100", "101000", "2.02"),  # 0.1 * 101000 * 0.0002
    ],
)
def test_resting_limit_when_price_trades_through_then_maker_fill_at_limit(side, limit, low, high, fill_price, fee):
    ex = make()
    ex.submit(order("l1", side, "0.1", OrderType.LIMIT, price=limit))

    fills = ex.on_candle(Candle(BTC, "1m", 60_000, D("100000"), D(high), D(low), D("100000"), D("100")))

    assert [(f.price, f.fee, f.liquidity) for f in fills] == [(D(fill_price), D(fee), Liquidity.MAKER)]


def test_limit_buy_when_submitted_above_mark_then_fills_at_once_as_taker():
    ex = make()

    placed = ex.submit(order("l1", BUY, "0.1", OrderType.LIMIT, price="100100"))

    assert placed.status is OrderStatus.FILLED
    assert ex.take_fills()[0].liquidity is Liquidity.TAKER


def test_limit_ioc_when_not_marketable_then_expires_without_fill():
    ex = make()

    placed = ex.submit(order("l1", BUY, "0.1", OrderType.LIMIT, price="99000", tif=TimeInForce.IOC))

    assert placed.status is OrderStatus.EXPIRED
    assert ex.take_fills() == []


# ------------------------------------------------------------------------------------ rejections


@pytest.mark.parametrize(
    "qty, outcome",
    [
        ("0.0015", -1111),  # not a multiple of the 0.001 step
        ("0.004", -4004),  # a multiple of the step, below the 0.005 minimum
        ("0.005", None),  # at the minimum
        ("0.006", None),
        ("50", None),  # at the market maximum
        ("50.001", -4005),
        ("0", -4003),
    ],
)
def test_submit_when_quantity_at_step_and_min_boundaries_then_binance_codes(qty, outcome):
    ex = make(mark="10000", symbol=TEST, starting_balance=D("1000000"))
    intent = order("q1", BUY, qty, symbol=TEST)

    if outcome is None:
        assert ex.submit(intent).status is OrderStatus.FILLED
    else:
        assert rejected(ex, intent).code == outcome


@pytest.mark.parametrize(
    "price, accepted",
    [("9999.9", False), ("10000.0", True), ("10000.1", True)],  # 0.001 BTC; min notional 10
)
def test_submit_when_notional_around_min_notional_then_rejected_only_below(price, accepted):
    ex = make()
    intent = order("n1", BUY, "0.001", OrderType.LIMIT, price=price)

    if accepted:
        assert ex.submit(intent).status is OrderStatus.NEW
    else:
        error = rejected(ex, intent)
        assert error.code == -4164
        assert str(error) == "Order's notional must be no smaller than 10 (unless you choose reduce only)."


def test_submit_when_reduce_only_below_min_notional_then_accepted():
    ex = make()
    ex.submit(order("open", BUY, "0.1"))

    closing = ex.submit(order("rc", SELL, "0.001", OrderType.LIMIT, price="9999.9", reduce_only=True))

    assert closing.status is OrderStatus.FILLED  # 9999.9 is far below the mark: it takes at once


@pytest.mark.parametrize(
    "intent, code",
    [
        (order("x", BUY, "0.1", symbol="NOTLISTED/USDT:USDT"), -1121),
        (order("x", BUY, "0.1", OrderType.LIMIT, price="99000.05"), -4014),
        (order("x", BUY, "0.1", OrderType.LIMIT), -1102),
        (order("x", SELL, "0.1", OrderType.STOP_MARKET), -1102),
        (order("x", BUY, "0.1", OrderType.LIMIT, price="100000", tif=TimeInForce.GTX), -5022),
        (order("x", SELL, "0.1", OrderType.LIMIT, price="100000", tif=TimeInForce.GTX), -5022),
        (order("x", SELL, "0.1", OrderType.STOP_MARKET, stop="100000"), -2021),
        (order("x", BUY, "0.1", OrderType.TAKE_PROFIT_MARKET, stop="100100"), -2021),
        (order("x", SELL, "0.1", reduce_only=True), -2022),
    ],
    ids=["unknown-symbol", "off-tick", "no-price", "no-stop", "gtx-buy-cross", "gtx-sell-cross",
         "stop-would-trigger", "tp-would-trigger", "reduce-only-flat"],
)
def test_submit_when_binance_would_refuse_then_order_rejected_with_its_code(intent, code):
    ex = make()

    assert rejected(ex, intent).code == code
    assert ex.get_order("x") is None
    assert ex.ledger().fees == 0


def test_post_only_when_it_would_rest_then_accepted():
    ex = make()

    placed = ex.submit(order("g", BUY, "0.1", OrderType.LIMIT, price="99999.9", tif=TimeInForce.GTX))

    assert placed.status is OrderStatus.NEW


def test_market_order_when_no_candle_seen_yet_then_rejected():
    ex = make(mark=None)

    assert rejected(ex, order("m", BUY, "0.1")).code == -1003


# ------------------------------------------------------------------------------- margin and leverage


@pytest.mark.parametrize(
    "balance, accepted",
    [
        # 1 BTC limit at 50000, 10x: initial margin 5000 + maker fee 10 = 5010 required.
        ("5009.99999999", False),
        ("5010", True),
    ],
)
def test_submit_when_margin_just_below_or_at_requirement_then_rejected_or_accepted(balance, accepted):
    ex = make(starting_balance=D(balance))
    intent = order("big", BUY, "1", OrderType.LIMIT, price="50000")

    if accepted:
        assert ex.submit(intent).status is OrderStatus.NEW
        assert ex.account().available == D("10")  # the fee is charged when it fills
    else:
        with pytest.raises(InsufficientFundsError) as info:
            ex.submit(intent)
        assert info.value.code == -2019
        assert str(info.value) == "Margin is insufficient."


def test_set_leverage_when_lowering_would_leave_margin_short_then_refused_and_unchanged():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.5"))  # 50000 notional, 5000 isolated margin at 10x
    before = (ex.positions(), ex.account())

    with pytest.raises(InsufficientFundsError):
        ex.set_leverage(BTC, 1)  # would need 50000 of margin

    assert (ex.positions(), ex.account()) == before
    assert ex.leverage(BTC) == 10


def test_set_leverage_when_raising_with_a_position_then_accepted_and_used_for_new_orders():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.1"))

    ex.set_leverage(BTC, 20)
    ex.submit(order("add", BUY, "0.1"))

    assert ex.positions()[0].leverage == 20
    assert ex.positions()[0].isolated_margin == D("1000") + D("500")


@pytest.mark.parametrize("leverage", [0, 126])
def test_set_leverage_when_out_of_range_then_rejected(leverage):
    with pytest.raises(OrderRejectedError) as info:
        make().set_leverage(BTC, leverage)

    assert info.value.code == -4028


def test_set_margin_mode_when_position_open_then_refused_like_binance():
    ex = make()
    ex.submit(order("open", BUY, "0.1"))

    with pytest.raises(OrderRejectedError) as info:
        ex.set_margin_mode(BTC, MarginMode.CROSS)

    assert info.value.code == -4048
    assert ex.margin_mode(BTC) is MarginMode.ISOLATED


def test_set_margin_mode_when_flat_then_changed():
    ex = make()

    ex.set_margin_mode(BTC, MarginMode.CROSS)

    assert ex.margin_mode(BTC) is MarginMode.CROSS


# --------------------------------------------------------------------------- one-way positions


def test_reduce_only_when_larger_than_position_then_capped_and_flat():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.1"))

    closing = ex.submit(order("close", SELL, "0.5", reduce_only=True))

    assert closing.filled_qty == D("0.1")
    assert closing.status is OrderStatus.FILLED
    assert ex.positions() == []


def test_reduce_only_limit_when_crossing_and_larger_than_position_then_capped_not_flipped():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.1"))

    closing = ex.submit(order("close", SELL, "0.5", OrderType.LIMIT, price="99000", reduce_only=True))

    assert (closing.qty, closing.filled_qty, closing.status) == (D("0.1"), D("0.1"), OrderStatus.FILLED)
    assert ex.positions() == []


def test_resting_reduce_only_limit_when_position_shrank_then_fills_only_what_is_left():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.2"))
    ex.submit(order("tp", SELL, "0.2", OrderType.LIMIT, price="101000", reduce_only=True))
    ex.submit(order("part", SELL, "0.15", reduce_only=True))

    fills = ex.on_candle(Candle(BTC, "1m", 60_000, D("100000"), D("101100"), D("100000"), D("101000"), D("100")))

    assert [f.qty for f in fills] == [D("0.05")]
    assert ex.positions() == []


def test_reduce_only_when_it_would_increase_then_rejected():
    ex = make()
    ex.submit(order("open", BUY, "0.1"))

    assert rejected(ex, order("more", BUY, "0.1", reduce_only=True)).code == -2022


def test_market_order_when_larger_than_opposite_position_then_flips():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.1"))

    ex.submit(order("flip", SELL, "0.3"))

    [position] = ex.positions()
    assert (position.side, position.qty, position.entry_price) == (Side.SHORT, D("0.2"), D("100000"))
    assert position.isolated_margin == D("2000")


def test_position_when_closed_then_its_reduce_only_orders_are_cancelled():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.1"))
    ex.submit(order("sl", SELL, "0.1", OrderType.STOP_MARKET, stop="99000", reduce_only=True))
    ex.submit(order("tp", SELL, "0.1", OrderType.TAKE_PROFIT_MARKET, stop="101000", reduce_only=True))

    ex.submit(order("close", SELL, "0.1", reduce_only=True))

    assert ex.open_orders() == []
    assert ex.get_order("sl").status is OrderStatus.CANCELED
    assert ex.get_order("tp").status is OrderStatus.CANCELED


def test_close_when_price_moved_then_realized_pnl_is_gross_and_fees_separate():
    ex = make(slippage_bps=D("0"))
    ex.submit(order("open", BUY, "0.1"))
    ex.on_candle(Candle(BTC, "1m", 60_000, D("100000"), D("101000"), D("100000"), D("101000"), D("100")))

    ex.submit(order("close", SELL, "0.1", reduce_only=True))

    close_fill = ex.take_fills()[-1]
    assert close_fill.realized_pnl == D("100")  # 0.1 * (101000 - 100000)
    ledger = ex.ledger()
    assert ledger.fees == D("5") + D("5.05")
    assert ledger.wallet_balance == D("10000") + D("100") - D("10.05")


# ------------------------------------------------------------------------------ idempotency, cancel


def test_submit_when_same_client_id_twice_then_one_order_and_one_fill():
    ex = make()

    first = ex.submit(order("dup", BUY, "0.1"))
    second = ex.submit(order("dup", BUY, "0.1"))

    assert second == first
    assert len(ex.take_fills()) == 1
    assert ex.positions()[0].qty == D("0.1")


def test_submit_when_same_client_id_for_a_resting_order_then_current_status_returned():
    ex = make()
    ex.submit(order("l1", BUY, "0.1", OrderType.LIMIT, price="99000"))
    ex.cancel(BTC, "l1")

    again = ex.submit(order("l1", BUY, "0.1", OrderType.LIMIT, price="99000"))

    assert again.status is OrderStatus.CANCELED


def test_cancel_when_unknown_id_then_binance_unknown_order():
    with pytest.raises(OrderRejectedError) as info:
        make().cancel(BTC, "nope")

    assert (info.value.code, str(info.value)) == (-2011, "Unknown order sent.")


def test_cancel_all_when_orders_on_two_symbols_then_only_the_asked_symbol():
    ex = make()
    ex.on_candle(Candle("ETH/USDT:USDT", "1m", 0, D("3000"), D("3000"), D("3000"), D("3000"), D("100")))
    ex.submit(order("b", BUY, "0.1", OrderType.LIMIT, price="99000"))
    ex.submit(order("e", BUY, "1", OrderType.LIMIT, symbol="ETH/USDT:USDT", price="2900"))

    cancelled = ex.cancel_all(BTC)

    assert [o.client_order_id for o in cancelled] == ["b"]
    assert [o.client_order_id for o in ex.open_orders()] == ["e"]


def test_recent_orders_when_more_than_kept_then_oldest_forgotten():
    ex = make(recent_orders_kept=3)
    for i in range(5):
        ex.submit(order(f"o{i}", BUY if i % 2 == 0 else SELL, "0.001"))

    assert ex.get_order("o0") is None
    assert ex.get_order("o4") is not None
