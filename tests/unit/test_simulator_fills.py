"""Where taker fills land: triggered stops and take-profits are market orders that pay slippage from where
the market was, every fill stays in its candle's range widened by the slippage model, prices finer than
the symbol's tick are refused instead of filled at 0, and the ghost executor prices all of it identically."""

from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from errors import OrderRejectedError
from exchange_client import PriceModel
from executors.ghost import GhostExecutor
from models import Candle, EntryPlan, OrderIntent, OrderSide, OrderType, Side, TradeState
from risk.exits import ExitRules
from settings import load_settings
from simulator import SimConfig, SimExchange
from simulator.pricing import band
from simulator.symbols import BUILTIN_RULES
from simulator.validation import PRICE_FILTER

BTC, DOGE = "BTC/USDT:USDT", "DOGE/USDT:USDT"
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MINUTE = 60_000
BPS = D("2")


def candle(o: str, h: str, low: str, c: str, t: int = MINUTE, symbol: str = BTC, volume: str = "100") -> Candle:
    return Candle(symbol, "1m", t, D(o), D(h), D(low), D(c), D(volume))


def config() -> SimConfig:
    return SimConfig(leverage=10, slippage_bps=BPS)


def exchange(first: Candle) -> SimExchange:
    ex = SimExchange(config(), SimulatedClock(0), BUILTIN_RULES)
    ex.on_candle(first)
    return ex


def submit(ex: SimExchange, cid: str, side: OrderSide, qty: str, order_type: OrderType = OrderType.MARKET,
           stop: str | None = None, reduce_only: bool = False, symbol: str = BTC):
    return ex.submit(OrderIntent(cid, symbol, side, D(qty), order_type, None, D(stop) if stop else None, reduce_only))


def bracketed(side: OrderSide, stop: str, take: str) -> SimExchange:
    """A 0.1 BTC position opened at 100000 (flat first candle) with its stop and take-profit resting."""
    ex = exchange(candle("100000", "100000", "100000", "100000", t=0))
    exit_side = SELL if side is BUY else BUY
    submit(ex, "entry", side, "0.1")
    submit(ex, "sl", exit_side, "0.1", OrderType.STOP_MARKET, stop=stop, reduce_only=True)
    submit(ex, "tp", exit_side, "0.1", OrderType.TAKE_PROFIT_MARKET, stop=take, reduce_only=True)
    ex.take_fills()
    return ex


# ------------------------------------------------------------------ stops and take-profits slip


@pytest.mark.parametrize(
    "o, h, low, fills_at, slippage_cost",
    [
        # touches the stop exactly: the stop, less 2 bps (99000 × 0.9998)
        ("100000", "100000", "99000", "98980.2", "1.98"),
        # a −35 % wick through the stop: still from the stop, not from the wick's low
        ("100000", "100000", "65000", "98980.2", "1.98"),
        # opens beyond the stop: from the open (98000 × 0.9998); the gap is a cost too
        ("98000", "98500", "97000", "97980.4", "101.96"),
    ],
)
def test_long_stop_when_triggered_then_fills_at_the_worse_of_stop_and_open_less_slippage(o, h, low, fills_at, slippage_cost):
    ex = bracketed(BUY, stop="99000", take="101000")

    [fill] = ex.on_candle(candle(o, h, low, low))

    assert (fill.client_order_id, fill.price, fill.slippage_cost) == ("sl", D(fills_at), D(slippage_cost))


@pytest.mark.parametrize(
    "o, h, fills_at, slippage_cost",
    [
        ("100000", "101000", "100979.8", "2.02"),  # touches the target: 101000 × 0.9998
        ("102000", "102500", "101979.6", "2.04"),  # opens past it: from the open; a gain past the target is no cost
    ],
)
def test_long_take_profit_when_triggered_then_pays_slippage_like_a_market_order(o, h, fills_at, slippage_cost):
    ex = bracketed(BUY, stop="99000", take="101000")

    [fill] = ex.on_candle(candle(o, h, o, h))

    assert (fill.client_order_id, fill.price, fill.slippage_cost) == ("tp", D(fills_at), D(slippage_cost))


@pytest.mark.parametrize(
    "o, h, low, fills_at",
    [
        ("100000", "101000", "100000", "101020.2"),  # touches the stop: 101000 × 1.0002
        ("100000", "135000", "100000", "101020.2"),  # a +35 % wick through it
        ("102000", "102500", "101500", "102020.4"),  # opens beyond it: from the open
    ],
)
def test_short_stop_when_triggered_then_fills_at_the_worse_of_stop_and_open_plus_slippage(o, h, low, fills_at):
    ex = bracketed(SELL, stop="101000", take="99000")

    [fill] = ex.on_candle(candle(o, h, low, h))

    assert (fill.client_order_id, fill.price) == ("sl", D(fills_at))


# ------------------------------------------------------------------------- fills stay in range


def test_market_order_when_prices_are_finer_than_btc_tick_then_refused_with_the_reason_and_nothing_changes():
    # micro prices on BTC's rules (tick 0.10): a buy used to fill at 0.10, a sell at 0.00
    ex = exchange(candle("0.00001234", "0.00001300", "0.00001200", "0.00001250", symbol=BTC))
    before = ex.ledger()

    for side in (BUY, SELL):
        with pytest.raises(OrderRejectedError) as info:
            submit(ex, f"m-{side.value}", side, "1000")
        assert info.value.code == PRICE_FILTER
        assert "tick 0.10 lies within the market's range 0.00001200-0.00001300" in str(info.value)

    assert ex.ledger() == before and ex.positions() == [] and ex.open_orders() == [] and ex.take_fills() == []


@pytest.mark.parametrize(
    "o, h, low, c, side, fills_at",
    [
        # the candle's band holds one tick: rounding a buy up (0.00014) would leave it, so 0.00013
        ("0.00012", "0.00013", "0.00012", "0.00013", BUY, "0.00013"),
        # and a sell down (0.00011) likewise: 0.00012
        ("0.00013", "0.00013", "0.00012", "0.00012", SELL, "0.00012"),
        # a wide candle: rounded against the trader as always (0.00150 × 1.0002 = 0.0015003 → 0.00151)
        ("0.00150", "0.00160", "0.00140", "0.00150", BUY, "0.00151"),
    ],
)
def test_market_order_when_the_tick_is_coarse_next_to_price_then_the_fill_stays_in_the_candle_band(o, h, low, c, side, fills_at):
    ex = exchange(candle(o, h, low, c, symbol=DOGE))

    submit(ex, "m", side, "50000", symbol=DOGE)

    [fill] = ex.take_fills()
    lowest, highest = band(D(low), D(h), BPS)
    assert fill.price == D(fills_at) and lowest <= fill.price <= highest


@pytest.mark.parametrize("o, h, low, c", [
    ("0.000123", "0.000125", "0.000121", "0.000124"),  # no multiple of 0.00001 between 0.000121 and 0.000125
    ("0.000004", "0.000006", "0.000004", "0.000005"),  # below one tick: would round to 0
])
def test_market_entry_when_no_doge_tick_lies_in_the_candle_then_refused(o, h, low, c):
    ex = exchange(candle(o, h, low, c, symbol=DOGE))

    with pytest.raises(OrderRejectedError) as info:
        submit(ex, "m", BUY, "5000000", symbol=DOGE)

    assert info.value.code == PRICE_FILTER and ex.positions() == []


def test_long_stop_when_the_market_gaps_below_one_tick_then_fills_in_the_candle_never_at_zero():
    ex = exchange(candle("0.00100", "0.00100", "0.00100", "0.00100", t=0, symbol=DOGE))
    submit(ex, "entry", BUY, "10000", symbol=DOGE)
    submit(ex, "sl", SELL, "10000", OrderType.STOP_MARKET, stop="0.00090", reduce_only=True, symbol=DOGE)
    ex.take_fills()

    [fill] = ex.on_candle(candle("0.000005", "0.000006", "0.000004", "0.000005", symbol=DOGE))

    assert fill.price == D("0.000005") * (1 - BPS / 10000)  # off the tick: the tick cannot say where it was
    lowest, highest = band(D("0.000004"), D("0.000006"), BPS)
    assert lowest <= fill.price <= highest and ex.positions() == []


# ------------------------------------------------------------------------ ghost prices the same


def ghost() -> GhostExecutor:
    s = load_settings(environ={"TB_BOT__SYMBOLS": f"[{BTC}]"})
    return GhostExecutor(store=None, rules=ExitRules(s.exits, config().taker_fee_rate),
                         prices=PriceModel(config(), BUILTIN_RULES), clock=SimulatedClock(0),
                         starting_balance=config().starting_balance, leverage=10)


def plan(side: Side, qty: str, price: str, stop: str, take: str, symbol: str = BTC) -> EntryPlan:
    return EntryPlan("t1", symbol, side, D(qty), D(price), D(stop), D(take), "test", "test")


@pytest.mark.parametrize(
    "side, o, h, low",
    [
        (Side.LONG, "100000", "100000", "99000"),  # stop touched
        (Side.LONG, "100000", "100000", "65000"),  # stop wicked through
        (Side.LONG, "98000", "98500", "97000"),  # gap through the stop
        (Side.LONG, "100000", "101000", "100000"),  # take-profit touched
        (Side.LONG, "102000", "102500", "101500"),  # gap past the take-profit
        (Side.SHORT, "100000", "135000", "100000"),  # a short's stop wicked through
        (Side.SHORT, "98000", "98500", "97000"),  # gap past a short's take-profit
    ],
)
def test_ghost_exit_when_a_candle_triggers_stop_or_take_profit_then_priced_as_the_simulator_fills_it(side, o, h, low):
    first = candle("100000", "100000", "100000", "100000", t=0)
    stop, take = ("99000", "101000") if side is Side.LONG else ("101000", "99000")
    ex = bracketed(BUY if side is Side.LONG else SELL, stop=stop, take=take)
    g = ghost()
    g.on_candle(first)
    g.submit(plan(side, "0.1", "100000", stop, take))
    trigger = candle(o, h, low, o)

    [fill] = ex.on_candle(trigger)
    [trade] = g.on_candle(trigger)

    assert (trade.exit_price, trade.fees - g_entry_fee(trade), trade.slippage - D("2")) == (fill.price, fill.fee, fill.slippage_cost)


def g_entry_fee(trade) -> D:
    return config().taker_fee_rate * trade.qty * trade.entry_price


def test_ghost_entry_when_prices_are_finer_than_the_tick_then_refused_instead_of_opened_at_zero():
    g = ghost()
    g.on_candle(candle("0.00001234", "0.00001300", "0.00001200", "0.00001250"))

    with pytest.raises(OrderRejectedError) as info:
        g.submit(plan(Side.SHORT, "1000", "0.00001250", "0.1", "0.0"))

    assert info.value.code == PRICE_FILTER and g.trade_states() == {}


def test_ghost_entry_when_quantity_rounded_to_zero_then_refused_with_the_reason():
    g = ghost()
    g.on_candle(candle("100000", "100000", "100000", "100000"))

    with pytest.raises(OrderRejectedError, match="Quantity less than or equal to zero"):
        g.submit(plan(Side.LONG, "0", "100000", "99000", "101000"))

    assert g.trade_states() == {}


def test_exit_rules_when_a_stored_trade_has_a_zero_entry_price_then_no_invalid_operation():
    s = load_settings(environ={"TB_BOT__SYMBOLS": f"[{BTC}]"})
    rules = ExitRules(s.exits, D("0.0005"))
    state = TradeState(symbol=BTC, side=Side.LONG, qty=D("1"), entry_price=D("0"), entry_ms=0, stop=D("0"),
                       take_profit=D("0.1"), initial_stop=D("0"), peak_price=D("0"))
    c = candle("0.00001", "0.00002", "0.00001", "0.00002")

    updated = rules.update(state, c)
    decision = rules.condition_exit(updated, c, D("100"), False, 10 * 60 * 60_000)

    assert rules.pnl_pct(Side.LONG, D("0"), D("1")) == 0
    assert decision is None or decision.price == c.close
