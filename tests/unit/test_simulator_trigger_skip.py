"""The simulator skips a candle's trigger pass when the candle reaches none of the symbol's resting stops and
take-profits (s6-bt: an index of open orders by symbol and per-symbol trigger bounds). Whatever the sequence
(gaps through a trigger, a low or high exactly at it, several orders on a symbol, orders cancelled and placed
again at another price, orders on a symbol without a position, a restart from a snapshot between candles), no
stop or take-profit that a candle reached is still resting after it."""

from __future__ import annotations

import json
import random
from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from errors import ExchangeError
from models import Candle, MarginMode, OrderIntent, OrderSide, OrderType
from simulator import SimConfig, SimExchange
from simulator.symbols import BUILTIN_RULES

SYMBOLS = {"BTC/USDT:USDT": (D("100000"), D("0.1"), D("1")), "ETH/USDT:USDT": (D("3000"), D("0.01"), D("30"))}
HOUR = 3_600_000


def on_tick(price: D, tick: D) -> D:
    return (price / tick).quantize(D(1)) * tick


def reached(order, candle: Candle) -> bool:
    falls = (order.order_type is OrderType.STOP_MARKET) == (order.side is OrderSide.SELL)
    return candle.low <= order.stop_price if falls else candle.high >= order.stop_price


def run(seed: int, check_liquidation: bool = False) -> int:
    rnd = random.Random(seed)
    clock = SimulatedClock(HOUR)
    config = SimConfig(leverage=rnd.choice([5, 20, 100]), funding_rate=D("0.001"),
                       margin_mode=rnd.choice([MarginMode.CROSS, MarginMode.ISOLATED]))
    ex = SimExchange(config, clock, BUILTIN_RULES)
    for symbol, (price, _, _) in SYMBOLS.items():
        ex.on_candle(Candle(symbol, "1h", 0, price, price, price, price, D(10)))
    t, n, triggered, liquidations = 0, 0, 0, 0
    for _ in range(250):
        symbol = rnd.choice(list(SYMBOLS))
        _, tick, size = SYMBOLS[symbol]
        mark = ex.mark_price(symbol)
        k = rnd.random()
        try:
            if k < 0.4:
                t += HOUR
                clock.set(t + HOUR)
                open_ = on_tick(mark * (1 + D(rnd.randint(-80, 80)) / 1000), tick) if rnd.random() < 0.3 else mark
                close = on_tick(mark * (1 + D(rnd.randint(-50, 50)) / 1000), tick)
                high = on_tick(max(open_, close) * (1 + D(rnd.randint(0, 20)) / 1000), tick)
                low = on_tick(min(open_, close) * (1 - D(rnd.randint(0, 20)) / 1000), tick)
                triggers = [o.stop_price for o in ex.open_orders(symbol) if o.stop_price is not None]
                if triggers and rnd.random() < 0.4:  # a low or a high exactly at a resting trigger
                    at = rnd.choice(triggers)
                    low, high = (min(low, at), high) if rnd.random() < 0.5 else (low, max(high, at))
                candle = Candle(symbol, "1h", t, open_, max(high, open_, close), min(low, open_, close), close, D(20))
                resting = [o for o in ex.open_orders(symbol) if o.stop_price is not None]
                ex.on_candle(candle)
                still = {o.client_order_id for o in ex.open_orders(symbol)}
                for order in resting:
                    if reached(order, candle):
                        triggered += 1
                        assert order.client_order_id not in still, (seed, order, candle)
            elif k < 0.55:
                n += 1
                limit = rnd.random() < 0.5
                ex.submit(OrderIntent(f"o{n}", symbol, rnd.choice(list(OrderSide)), D(rnd.randint(1, 300)) / 1000 * size,
                                      OrderType.LIMIT if limit else OrderType.MARKET,
                                      on_tick(mark * (1 + D(rnd.randint(-30, 30)) / 1000), tick) if limit else None,
                                      None, rnd.random() < 0.3))
            elif k < 0.82:
                n += 1
                ex.submit(OrderIntent(f"o{n}", symbol, rnd.choice(list(OrderSide)), D(rnd.randint(1, 300)) / 1000 * size,
                                      rnd.choice([OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET]), None,
                                      on_tick(mark * (1 + D(rnd.randint(-50, 50)) / 1000), tick), rnd.random() < 0.8))
            elif k < 0.92:
                open_orders = ex.open_orders(symbol)
                if open_orders:
                    old = rnd.choice(open_orders)
                    ex.cancel(symbol, old.client_order_id)
                    if old.stop_price is not None:  # placed again at another price
                        n += 1
                        ex.submit(OrderIntent(f"o{n}", symbol, old.side, old.remaining_qty, old.order_type, None,
                                              on_tick(mark * (1 + D(rnd.randint(-50, 50)) / 1000), tick),
                                              old.reduce_only))
            else:  # a restart: the venue read back from its snapshot
                ex = SimExchange.restore(json.loads(json.dumps(ex.snapshot())), config, clock, BUILTIN_RULES)
        except ExchangeError:
            pass
        if check_liquidation:
            fresh = SimExchange.restore(json.loads(json.dumps(ex.snapshot())), config, clock, BUILTIN_RULES)
            cached = [(p.symbol, p.liquidation_price) for p in ex.positions()]
            assert cached == [(p.symbol, p.liquidation_price) for p in fresh.positions()], seed
            liquidations += sum(1 for o in ex.orders_by_id() if o.startswith("liq-"))
    assert triggered > 0
    return liquidations


@pytest.mark.parametrize("seed", range(40))
def test_candle_when_it_reaches_a_resting_trigger_then_that_order_is_no_longer_resting(seed):
    run(seed)


@pytest.mark.parametrize("seed", range(10))
def test_liquidation_price_when_kept_between_candles_then_as_a_fresh_copy_works_it_out(seed):
    """The cached cross and isolated liquidation prices (s6-bt) after every step, funding, fees and fills on
    the other symbol included, equal those of a copy restored from the snapshot (which has no cache)."""
    run(seed, check_liquidation=True)
