"""The simulated exchange keeps its position views and account between changes (they are asked many
times a candle): every change a trader would see — a new mark, a fill, funding, a leverage or margin
mode change, an order resting — shows at once, as a view built afresh from the book shows it."""

from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from errors import InsufficientFundsError
from models import Candle, MarginMode, OrderIntent, OrderSide, OrderType, Position
from simulator import SimConfig, SimExchange
from simulator.symbols import BUILTIN_RULES

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
HOUR = 3_600_000


def candle(symbol: str, close: str, open_ms: int = 0) -> Candle:
    price = D(close)
    return Candle(symbol, "1m", open_ms, price, price, price, price, D("100"))


def make(margin_mode: MarginMode = MarginMode.ISOLATED, **config) -> tuple[SimExchange, SimulatedClock]:
    clock = SimulatedClock(60_000)
    ex = SimExchange(SimConfig(**{"leverage": 10, "slippage_bps": D("0"), "margin_mode": margin_mode, **config}),
                     clock, BUILTIN_RULES)
    ex.on_candle(candle(BTC, "100000"))
    ex.on_candle(candle(ETH, "3000"))
    return ex, clock


def fresh(ex: SimExchange) -> tuple[list[Position], tuple[D, D, D, D]]:
    """What the views must say, built from the book itself (what they were before they were kept)."""
    positions = [ex._position_view(p) for p in sorted(ex._positions.values(), key=lambda p: p.symbol) if p.qty]
    unrealized = sum((ex._unrealized(p) for p in ex._open_positions()), D(0))
    return positions, (ex._wallet, unrealized, ex._margin_used(), ex._available())


def seen(ex: SimExchange) -> tuple[list[Position], tuple[D, D, D, D]]:
    account = ex.account()
    return ex.positions(), (account.wallet_balance, account.unrealized_pnl, account.margin_used, account.available)


def buy(cid: str, qty: str, symbol: str = BTC, **kw) -> OrderIntent:
    return OrderIntent(cid, symbol, OrderSide.BUY, D(qty), kw.pop("order_type", OrderType.MARKET), **kw)


@pytest.mark.parametrize("margin_mode", [MarginMode.ISOLATED, MarginMode.CROSS])
def test_views_when_the_mark_moves_then_positions_and_account_show_the_new_mark(margin_mode):
    ex, _ = make(margin_mode)
    ex.submit(buy("a-en", "0.1"))
    ex.submit(buy("b-en", "1", ETH))
    before = seen(ex)

    ex.on_candle(candle(BTC, "95000", 60_000))

    assert seen(ex) == fresh(ex) != before
    assert ex.positions()[0].mark_price == D("95000") and ex.positions()[0].unrealized_pnl == D("-500.00000000")


def test_views_when_an_order_fills_in_the_same_millisecond_then_they_show_the_fill():
    ex, _ = make()
    assert seen(ex) == ([], fresh(ex)[1])

    ex.submit(buy("a-en", "0.1"))  # the clock has not moved: the views must not be those of before the fill

    assert seen(ex) == fresh(ex)
    assert [p.qty for p in ex.positions()] == [D("0.1")]


def test_views_when_a_limit_order_rests_then_the_account_reserves_its_margin():
    ex, _ = make()
    available = ex.account().available

    ex.submit(buy("a-en", "0.1", order_type=OrderType.LIMIT, price=D("90000")))

    assert seen(ex) == fresh(ex)
    assert ex.account().available == available - D("900")  # 0.1 × 90000 / 10x


def test_views_when_the_leverage_changes_then_the_liquidation_price_follows():
    ex, _ = make()
    ex.submit(buy("a-en", "0.1"))
    before = ex.positions()[0].liquidation_price

    ex.set_leverage(BTC, 5)

    assert seen(ex) == fresh(ex)
    assert ex.positions()[0].liquidation_price < before and ex.positions()[0].leverage == 5


def test_views_when_a_leverage_change_is_refused_then_they_are_those_of_before():
    ex, _ = make(starting_balance=D("1100"))
    ex.submit(buy("a-en", "0.1"))  # 1000 of margin at 10x, 100 left
    before = seen(ex)

    with pytest.raises(InsufficientFundsError):
        ex.set_leverage(BTC, 1)

    assert seen(ex) == fresh(ex) == before


def test_views_when_funding_is_settled_then_the_wallet_and_the_isolated_margin_show_it():
    ex, clock = make(funding_rate=D("0.0001"))
    ex.submit(buy("a-en", "0.1"))
    before = seen(ex)

    clock.set(8 * HOUR)
    ex.on_candle(candle(BTC, "100000", 8 * HOUR - 60_000))  # closes at 08:00: the funding time

    assert seen(ex) == fresh(ex) != before
    assert ex.account().wallet_balance == before[1][0] - D("1.00000000")


def test_liquidation_price_when_funding_eats_the_isolated_margin_then_it_moves_closer():
    ex, clock = make(funding_rate=D("0.01"))
    ex.submit(buy("a-en", "0.1"))
    before = ex.positions()[0].liquidation_price

    clock.set(8 * HOUR)
    ex.on_candle(candle(BTC, "100000", 8 * HOUR - 60_000))  # pays 100 of its 1000 isolated margin

    assert seen(ex) == fresh(ex)
    assert ex.positions()[0].liquidation_price > before
