"""A snapshot carries everything: a restored exchange carries on exactly where the old one stopped."""

import json
from decimal import Decimal as D

import pytest

from clock import SimulatedClock
from models import Candle, MarginMode, OrderIntent, OrderSide, OrderType
from simulator import SimConfig, SimExchange
from simulator.symbols import BUILTIN_RULES

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MINUTE = 60_000


def busy_exchange() -> SimExchange:
    """Positions on two symbols in both margin modes, resting orders, a partial fill, funding paid, and
    fills not yet taken."""
    ex = SimExchange(SimConfig(leverage=10, starting_balance=D("100000")), SimulatedClock(0), BUILTIN_RULES)
    ex.set_margin_mode(ETH, MarginMode.CROSS)
    ex.on_candle(Candle(BTC, "1m", 0, D("100000"), D("100000"), D("100000"), D("100000"), D("10")))
    ex.on_candle(Candle(ETH, "1m", 0, D("3000"), D("3000"), D("3000"), D("3000"), D("100")))
    ex.submit(OrderIntent("b1", BTC, OrderSide.BUY, D("0.1")))
    ex.submit(OrderIntent("b-sl", BTC, OrderSide.SELL, D("0.1"), OrderType.STOP_MARKET, stop_price=D("95000"),
                          reduce_only=True))
    ex.submit(OrderIntent("b-add", BTC, OrderSide.BUY, D("1.5"), OrderType.LIMIT, price=D("99000")))
    ex.submit(OrderIntent("e1", ETH, OrderSide.SELL, D("2")))
    ex.take_fills()
    ex.on_candle(Candle(BTC, "1m", 8 * 3_600_000 - MINUTE, D("100000"), D("100000"), D("98000"), D("98500"),
                        D("10")))
    return ex


def test_snapshot_when_busy_exchange_then_json_able_with_decimals_as_strings():
    snapshot = busy_exchange().snapshot()

    text = json.dumps(snapshot)

    assert json.loads(text) == snapshot
    assert snapshot["wallet"] == format(D(snapshot["wallet"]), "f")


def test_restore_when_from_snapshot_then_every_view_is_equal():
    ex = busy_exchange()
    assert ex.get_order("b-add").status.value == "partially_filled"
    assert ex.ledger().funding != 0

    again = SimExchange.restore(json.loads(json.dumps(ex.snapshot())), ex.config, ex.clock, BUILTIN_RULES)

    assert again.positions() == ex.positions()
    assert again.open_orders() == ex.open_orders()
    assert again.account() == ex.account()
    assert again.ledger() == ex.ledger()
    assert again.get_order("b1") == ex.get_order("b1")
    assert again.margin_mode(ETH) is MarginMode.CROSS
    assert again.take_fills() == ex.take_fills() != []


def test_restore_when_carrying_on_then_same_result_as_never_stopping():
    ex = busy_exchange()
    again = SimExchange.restore(ex.snapshot(), ex.config, ex.clock, BUILTIN_RULES)
    nxt = Candle(BTC, "1m", 8 * 3_600_000, D("98500"), D("98600"), D("94000"), D("94500"), D("10"))

    assert again.on_candle(nxt) == ex.on_candle(nxt)
    assert again.snapshot() == ex.snapshot()


def test_restore_when_submitting_a_known_client_id_then_still_idempotent():
    ex = busy_exchange()
    again = SimExchange.restore(ex.snapshot(), ex.config, ex.clock, BUILTIN_RULES)

    repeat = again.submit(OrderIntent("b1", BTC, OrderSide.BUY, D("0.1")))

    assert repeat == ex.get_order("b1")
    assert again.positions() == ex.positions()


def test_restore_when_unknown_format_then_refused():
    with pytest.raises(ValueError, match="format"):
        SimExchange.restore({"format": 99}, SimConfig(), SimulatedClock(0), BUILTIN_RULES)


def test_snapshot_json_when_orders_change_after_a_snapshot_then_it_still_equals_the_snapshot():
    ex = busy_exchange()
    assert json.loads(ex.snapshot_json()) == ex.snapshot()  # caches every order's JSON

    ex.cancel(BTC, "b-add")
    ex.submit(OrderIntent("b2", BTC, OrderSide.BUY, D("0.2")))

    assert json.loads(ex.snapshot_json()) == ex.snapshot()
    assert {o["client_order_id"]: o["status"] for o in json.loads(ex.snapshot_json())["orders"]}["b-add"] == "canceled"
    again = SimExchange.restore(json.loads(ex.snapshot_json()), ex.config, ex.clock, BUILTIN_RULES)
    assert again.snapshot_json() == ex.snapshot_json()
