"""What a candle does to the simulated book: stops, take-profits, limits, liquidation, funding."""

from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from models import Candle, MarginMode, OrderIntent, OrderSide, OrderStatus, OrderType, Side
from simulator import SimConfig, SimExchange
from simulator.symbols import BUILTIN_RULES

BTC = "BTC/USDT:USDT"
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MINUTE = 60_000
HOUR = 60 * MINUTE


def candle(o: str, h: str, low: str, c: str, t: int = MINUTE, volume: str = "100", tf: str = "1m") -> Candle:
    return Candle(BTC, tf, t, D(o), D(h), D(low), D(c), D(volume))


def make(**config) -> SimExchange:
    """10x, no slippage (so entries are exactly at the mark), a first candle at 100000."""
    ex = SimExchange(SimConfig(**{"leverage": 10, "slippage_bps": D("0"), **config}), SimulatedClock(0), BUILTIN_RULES)
    ex.on_candle(candle("100000", "100000", "100000", "100000", t=0))
    return ex


def submit(ex: SimExchange, cid: str, side: OrderSide, qty: str, order_type: OrderType = OrderType.MARKET,
           price: str | None = None, stop: str | None = None, reduce_only: bool = False):
    return ex.submit(OrderIntent(cid, BTC, side, D(qty), order_type, D(price) if price else None,
                                 D(stop) if stop else None, reduce_only))


def long_with_brackets(ex: SimExchange, stop: str = "99000", take: str = "101000") -> None:
    submit(ex, "entry", BUY, "0.1")
    submit(ex, "sl", SELL, "0.1", OrderType.STOP_MARKET, stop=stop, reduce_only=True)
    submit(ex, "tp", SELL, "0.1", OrderType.TAKE_PROFIT_MARKET, stop=take, reduce_only=True)
    ex.take_fills()


# ------------------------------------------------------------------------------ stops and targets


@pytest.mark.parametrize(
    "o, h, low, fills_at",
    [
        ("100000", "100000", "99000.1", None),  # one tick above the stop: nothing
        ("100000", "100000", "99000", "99000"),  # touches the stop: fills at the stop
        ("98000", "98500", "97000", "98000"),  # gaps through it: fills at the open, worse than the stop
    ],
)
def test_long_stop_when_low_reaches_it_then_fills_at_min_of_open_and_stop(o, h, low, fills_at):
    ex = make()
    long_with_brackets(ex)

    fills = ex.on_candle(candle(o, h, low, low))

    assert [f.price for f in fills] == ([D(fills_at)] if fills_at else [])


def test_long_stop_when_gapped_through_then_slippage_cost_measured_from_the_stop():
    ex = make()
    long_with_brackets(ex)

    [fill] = ex.on_candle(candle("98000", "98500", "97000", "98000"))

    assert fill.slippage_cost == D("100")  # (99000 - 98000) * 0.1
    assert fill.fee == D("4.9")  # taker: 0.1 * 98000 * 0.0005


@pytest.mark.parametrize(
    "o, h, fills_at",
    [("100000", "100999.9", None), ("100000", "101000", "101000"), ("102000", "102500", "102000")],
)
def test_long_take_profit_when_high_reaches_it_then_fills_at_max_of_open_and_target(o, h, fills_at):
    ex = make()
    long_with_brackets(ex)

    fills = ex.on_candle(candle(o, h, o, o))

    assert [f.price for f in fills] == ([D(fills_at)] if fills_at else [])


def test_stop_and_take_profit_when_both_reachable_in_one_candle_then_stop_wins():
    ex = make()
    long_with_brackets(ex)

    fills = ex.on_candle(candle("100000", "101500", "98500", "100000"))

    assert [(f.client_order_id, f.price) for f in fills] == [("sl", D("99000"))]
    assert ex.get_order("tp").status is OrderStatus.CANCELED
    assert ex.positions() == []


@pytest.mark.parametrize(
    "order_type, o, h, low, fills_at",
    [
        (OrderType.STOP_MARKET, "100000", "101000", "100000", "101000"),  # short's stop: high reaches it
        (OrderType.STOP_MARKET, "102000", "102000", "102000", "102000"),  # gap up through it: the open
        (OrderType.TAKE_PROFIT_MARKET, "100000", "100000", "99000", "99000"),  # short's target: low reaches it
        (OrderType.TAKE_PROFIT_MARKET, "98000", "98000", "98000", "98000"),  # gap down through it: the open
    ],
)
def test_short_brackets_when_triggered_then_mirror_of_the_long(order_type, o, h, low, fills_at):
    ex = make()
    submit(ex, "entry", SELL, "0.1")
    stop = "101000" if order_type is OrderType.STOP_MARKET else "99000"
    submit(ex, "exit", BUY, "0.1", order_type, stop=stop, reduce_only=True)

    fills = ex.on_candle(candle(o, h, low, o))

    assert [(f.side, f.price) for f in fills] == [(BUY, D(fills_at))]


# ------------------------------------------------------------------------------------- limits


def test_limit_buy_when_low_only_touches_the_price_then_no_fill():
    ex = make()
    submit(ex, "l", BUY, "0.1", OrderType.LIMIT, price="99000")

    assert ex.on_candle(candle("100000", "100000", "99000", "99500")) == []


def test_limit_buy_when_market_gaps_below_it_then_fills_at_the_better_open():
    ex = make()
    submit(ex, "l", BUY, "0.1", OrderType.LIMIT, price="99000")

    [fill] = ex.on_candle(candle("98500", "98800", "98000", "98600"))

    assert fill.price == D("98500")


@pytest.mark.parametrize(
    "qty, filled_first, status",
    [
        ("1.000", "1.000", OrderStatus.FILLED),  # exactly 10 % of the candle's 10 BTC
        ("1.001", "1.000", OrderStatus.PARTIALLY_FILLED),  # one step above the cap
    ],
)
def test_limit_when_at_or_above_participation_cap_then_full_or_partial_fill(qty, filled_first, status):
    ex = make(starting_balance=D("100000"))
    submit(ex, "l", BUY, qty, OrderType.LIMIT, price="99000")

    [fill] = ex.on_candle(candle("100000", "100000", "98000", "99000", volume="10"))

    assert fill.qty == D(filled_first)
    assert ex.get_order("l").status is status


def test_limit_when_partially_filled_then_rest_fills_on_the_next_candle():
    ex = make(starting_balance=D("100000"))
    submit(ex, "l", BUY, "1.5", OrderType.LIMIT, price="99000")
    ex.on_candle(candle("100000", "100000", "98000", "99000", t=MINUTE, volume="10"))

    [fill] = ex.on_candle(candle("99000", "99000", "98000", "98500", t=2 * MINUTE, volume="10"))

    assert fill.qty == D("0.5")
    assert ex.get_order("l").status is OrderStatus.FILLED
    assert ex.positions()[0].qty == D("1.5")


def test_limit_when_same_candle_delivered_twice_then_participation_not_counted_twice():
    ex = make(starting_balance=D("100000"))
    submit(ex, "l", BUY, "1.5", OrderType.LIMIT, price="99000")
    bar = candle("100000", "100000", "98000", "99000", volume="10")

    ex.on_candle(bar)
    again = ex.on_candle(bar)

    assert again == []
    assert ex.get_order("l").filled_qty == D("1")


def test_candle_when_older_than_the_last_one_then_ignored():
    ex = make()
    ex.on_candle(candle("100000", "100000", "100000", "100500", t=2 * MINUTE))

    ex.on_candle(candle("90000", "90000", "90000", "90000", t=MINUTE))

    assert ex.mark_price(BTC) == D("100500")


# ----------------------------------------------------------------------------------- liquidation


def test_isolated_long_when_opened_then_position_reports_binance_liquidation_price():
    ex = make()

    submit(ex, "entry", BUY, "0.1")

    # WB = 1000 (10000 notional at 10x). LP = -9000 / -0.0996 = 90361.4457…, rounded up to the 0.1 tick.
    [position] = ex.positions()
    assert position.isolated_margin == D("1000")
    assert position.liquidation_price == D("90361.5")


def test_isolated_short_when_opened_then_position_reports_binance_liquidation_price():
    ex = make()

    submit(ex, "entry", SELL, "0.1")

    # LP = 11000 / 0.1004 = 109561.7529…, rounded down to the tick.
    assert ex.positions()[0].liquidation_price == D("109561.7")


@pytest.mark.parametrize("close, liquidated", [("90361.6", False), ("90361.5", True), ("85000", True)])
def test_isolated_long_when_mark_reaches_liquidation_price_then_closed_there_and_margin_lost(close, liquidated):
    ex = make()
    submit(ex, "entry", BUY, "0.1")  # taker fee 5
    ex.take_fills()

    fills = ex.on_candle(candle("95000", "95000", close, close))

    if not liquidated:
        assert fills == [] and ex.positions()
        return
    [fill] = fills
    assert fill.client_order_id.startswith("liq-BTCUSDT-")
    assert fill.price == D("90361.5")
    assert fill.realized_pnl == D("-963.85")  # 0.1 * (90361.5 - 100000)
    assert fill.fee == D("36.15")  # what was left of the 1000 isolated margin
    assert ex.positions() == []
    assert ex.ledger().wallet_balance == D("10000") - D("5") - D("1000")


def test_isolated_short_when_mark_crosses_liquidation_price_then_liquidated():
    ex = make()
    submit(ex, "entry", SELL, "0.1")
    submit(ex, "sl", BUY, "0.1", OrderType.STOP_MARKET, stop="120000", reduce_only=True)

    [fill] = ex.on_candle(candle("105000", "109600", "105000", "109561.7"))

    assert (fill.side, fill.price) == (BUY, D("109561.7"))
    assert ex.get_order("sl").status is OrderStatus.CANCELED  # Binance cancels the symbol's orders first
    assert ex.ledger().wallet_balance == D("10000") - D("5") - D("1000")


def test_cross_long_when_mark_crosses_liquidation_price_then_liquidated_with_whole_wallet_at_risk():
    ex = make(margin_mode=MarginMode.CROSS, starting_balance=D("1100"))
    submit(ex, "entry", BUY, "0.1")
    lp = ex.positions()[0].liquidation_price

    # Cross: WB is the whole wallet (1100 - 5 fee = 1095), not the 1000 of initial margin:
    # LP = (1095 - 0.1 * 100000) / (0.1 * 0.004 - 0.1) = -8905 / -0.0996 = 89407.63… → up to the tick
    assert lp == D("89407.7")
    [fill] = ex.on_candle(candle("95000", "95000", "90000", str(lp)))
    assert fill.client_order_id.startswith("liq-")
    assert ex.positions() == []


# --------------------------------------------------------------------------------------- funding


EIGHT = 8 * HOUR


@pytest.mark.parametrize(
    "open_time, funded",
    [
        (EIGHT - 2 * MINUTE, False),  # closes at 07:59
        (EIGHT - MINUTE, True),  # closes at 08:00 exactly: 08:00's funding is due
        (EIGHT, False),  # the 08:00 funding was settled by the previous candle
    ],
)
def test_funding_when_candle_closes_before_at_or_after_8h_boundary_then_paid_once(open_time, funded):
    ex = make()
    submit(ex, "entry", BUY, "0.1")
    ex.on_candle(candle("100000", "100000", "100000", "100000", t=open_time - MINUTE))
    before = ex.ledger().funding

    ex.on_candle(candle("100000", "100000", "100000", "100000", t=open_time))

    assert ex.ledger().funding - before == (D("1") if funded else D("0"))  # 0.1 * 100000 * 0.0001


@pytest.mark.parametrize("side, paid", [(BUY, D("1.01")), (SELL, D("-1.01"))])
def test_funding_when_rate_positive_then_longs_pay_and_shorts_receive_at_the_mark(side, paid):
    ex = make()
    submit(ex, "entry", side, "0.1")
    ex.on_candle(candle("100000", "100000", "100000", "100000", t=EIGHT - 2 * MINUTE))
    margin_before = ex.positions()[0].isolated_margin

    ex.on_candle(candle("100000", "101000", "100000", "101000", t=EIGHT - MINUTE))

    ledger = ex.ledger()
    assert ledger.funding == paid  # 0.1 * 101000 (the mark at funding time) * 0.0001
    assert ledger.wallet_balance == D("10000") - D("5") - paid
    assert ex.positions()[0].isolated_margin == margin_before - paid


def test_funding_when_candle_closes_at_4h_then_nothing_due():
    ex = make()
    submit(ex, "entry", BUY, "0.1")

    ex.on_candle(candle("100000", "100000", "100000", "100000", t=4 * HOUR - MINUTE))

    assert ex.ledger().funding == 0


def test_funding_when_a_gap_spans_two_funding_times_then_both_are_settled():
    ex = make()
    submit(ex, "entry", BUY, "0.1")

    ex.on_candle(candle("100000", "100000", "100000", "100000", t=16 * HOUR, tf="1h"))

    assert ex.ledger().funding == D("2")


def test_funding_when_no_position_then_nothing_changes():
    ex = make()

    ex.on_candle(candle("100000", "100000", "100000", "100000", t=EIGHT, tf="1h"))

    assert ex.ledger().wallet_balance == D("10000")


def test_positions_when_marked_then_unrealized_pnl_from_the_close():
    ex = make()
    submit(ex, "entry", SELL, "0.2")

    ex.on_candle(candle("100000", "100000", "99000", "99500"))

    [position] = ex.positions()
    assert (position.side, position.mark_price, position.unrealized_pnl) == (Side.SHORT, D("99500"), D("100"))
    assert ex.account().equity == ex.ledger().wallet_balance + D("100")
