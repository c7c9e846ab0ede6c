"""For every sequence of orders, candles and funding times, the simulator's books balance exactly."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from clock import SimulatedClock
from errors import OrderRejectedError
from models import Candle, MarginMode, OrderIntent, OrderSide, OrderType
from simulator import SimConfig, SimExchange
from simulator.symbols import BUILTIN_RULES

BTC = "BTC/USDT:USDT"
HOUR = 3_600_000

prices = st.integers(min_value=600_000, max_value=1_400_000).map(lambda ticks: D(ticks) / 10)  # 60000..140000
quantities = st.integers(min_value=1, max_value=400).map(lambda steps: D(steps) / 1000)  # 0.001..0.4

orders = st.builds(
    lambda side, qty, limit, offset, reduce_only: ("order", side, qty, limit, offset, reduce_only),
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    quantities,
    st.booleans(),
    st.integers(min_value=-30, max_value=30),  # limit price offset from the mark, in tenths of a percent
    st.booleans(),
)
candles = st.builds(
    lambda close, wick_up, wick_down, hours, volume: ("candle", close, wick_up, wick_down, hours, volume),
    prices,
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=1, max_value=9),  # hours to the next candle: many cross a funding time
    st.integers(min_value=0, max_value=20),
)
leverage_changes = st.builds(lambda lev: ("leverage", lev), st.sampled_from([1, 5, 20, 50]))
actions = st.lists(st.one_of(orders, orders, orders, candles, candles, leverage_changes), min_size=1, max_size=40)


def _signed_position(ex: SimExchange) -> D:
    return sum((p.qty * p.side.sign for p in ex.positions()), D(0))


def _apply(ex: SimExchange, action: tuple, state: dict) -> None:
    kind = action[0]
    if kind == "candle":
        _, close, up, down, hours, volume = action
        state["t"] += hours * HOUR
        previous = ex.mark_price(BTC) or close
        high = max(previous, close) + D(up)
        low = max(min(previous, close) - D(down), D("1"))
        ex.on_candle(Candle(BTC, "1h", state["t"], previous, high, low, close, D(volume)))
        return
    before = ex.snapshot()
    try:
        if kind == "leverage":
            ex.set_leverage(BTC, action[1])
            return
        _, side, qty, limit, offset, reduce_only = action
        state["n"] += 1
        mark = ex.mark_price(BTC)
        price = (mark * (1 + D(offset) / 1000)).quantize(D("0.1")) if limit else None
        held = _signed_position(ex)
        ex.submit(OrderIntent(f"o{state['n']}", BTC, side, qty, OrderType.LIMIT if limit else OrderType.MARKET,
                              price, None, reduce_only))
        if reduce_only:  # it may shrink the position, never grow or flip it
            now = _signed_position(ex)
            assert abs(now) <= abs(held) and now * held >= 0
    except OrderRejectedError:
        assert ex.snapshot() == before  # a rejection changes nothing at all


@settings(max_examples=200, deadline=None)
@given(actions=actions, cross=st.booleans())
def test_ledger_when_any_sequence_of_orders_candles_and_funding_then_it_balances_exactly(actions, cross):
    ex = SimExchange(SimConfig(leverage=10, margin_mode=MarginMode.CROSS if cross else MarginMode.ISOLATED),
                     SimulatedClock(0), BUILTIN_RULES)
    ex.on_candle(Candle(BTC, "1h", 0, D("100000"), D("100000"), D("100000"), D("100000"), D("10")))
    state = {"t": 0, "n": 0}
    fills = []

    for action in actions:
        _apply(ex, action, state)
        fills += ex.take_fills()

        ledger = ex.ledger()
        account = ex.account()
        positions = ex.positions()
        assert ledger.wallet_balance == ledger.starting_balance + ledger.realized_pnl - ledger.fees - ledger.funding
        assert account.wallet_balance == ledger.wallet_balance
        assert account.unrealized_pnl == sum((p.unrealized_pnl for p in positions), D(0))
        assert account.equity == ledger.wallet_balance + sum((p.unrealized_pnl for p in positions), D(0))
        assert ledger.realized_pnl == sum((f.realized_pnl for f in fills), D(0))
        assert ledger.fees == sum((f.fee for f in fills), D(0))
        assert all(p.qty > 0 for p in positions)
