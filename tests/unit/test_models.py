import dataclasses
from decimal import Decimal

import pytest

from models import (
    Account, Command, CommandType, ExitReason, Mode, Order, OrderSide, OrderStatus, OrderType, Position, Side,
    Trade, TradeLedger, TradeState, evolve, from_json, from_record, to_json, to_record,
)


@pytest.mark.parametrize(
    "obj",
    [
        Position("BTC/USDT:USDT", Side.SHORT, Decimal("0.012"), Decimal("95000.1"), leverage=5, liquidation_price=None),
        Order("c1", "ETH/USDT:USDT", OrderSide.BUY, OrderType.LIMIT, Decimal("1.5"), OrderStatus.NEW, price=Decimal("1800.00")),
        Trade("t1", "SOL/USDT:USDT", Side.LONG, Decimal("3"), Decimal("140"), Decimal("141.5"), 1, 2,
              Decimal("4.5"), Decimal("0.2115"), Decimal("4.2885"), ExitReason.TAKE_PROFIT, Mode.PAPER),
        Command("id1", CommandType.OPEN, 5, "cli", {"symbol": "BTC/USDT:USDT", "notional": "100"}),
    ],
)
def test_record_round_trip_when_stored_then_restored_exactly(obj):
    assert from_record(type(obj), to_record(obj)) == obj
    assert from_json(type(obj), to_json(obj)) == obj


def test_decimal_when_stored_then_no_float_rounding():
    account = Account(Decimal("10000.123456789012345"), Decimal("-0.000000001"), Decimal("0"), Decimal("1"))
    restored = from_record(Account, to_record(account))
    assert restored.wallet_balance == Decimal("10000.123456789012345")
    assert restored.equity == Decimal("10000.123456788012345")


@pytest.mark.parametrize(("mode", "venue", "key"), [
    ("paper", "sim", "paper:sim"),
    (Mode.PAPER, "sim", "paper:sim"),
    ("ghost", "sim", "ghost"),          # ghost has no venue
    ("live", None, "live"),
    ("paper", "none", "paper"),
    ("paper", True, "paper:True"),      # not the cached "1" of an equal key
    ("paper", 1, "paper:1"),
])
def test_book_of_when_asked_twice_then_the_same_book_as_built_anew(mode, venue, key):
    from models import Book

    assert Book.of(mode, venue).key == key
    assert Book.of(mode, venue).key == key  # the second from the cache


def test_book_of_when_the_mode_is_unknown_then_value_error_each_time():
    from models import Book

    for _ in range(2):
        with pytest.raises(ValueError):
            Book.of("backtest", "sim")


@pytest.mark.parametrize("value, changes", [
    (Order("c-1", "BTC/USDT:USDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.01"), OrderStatus.NEW),
     {"status": OrderStatus.FILLED, "filled_qty": Decimal("0.01"), "updated_ms": 5}),
    (TradeLedger(), {"stop_gen": 2, "fills": ("k",)}),
    (TradeState("BTC/USDT:USDT", Side.LONG, Decimal(1), Decimal(100), 0, Decimal(90), Decimal(120), Decimal(90),
                Decimal(100)), {"stop": Decimal(95), "breakeven_moved": True}),
])
def test_evolve_when_fields_change_then_a_new_object_as_replace_makes_it_and_the_old_one_unchanged(value, changes):
    before = dataclasses.replace(value)

    changed = evolve(value, **changes)

    assert changed == dataclasses.replace(value, **changes) and changed is not value
    assert value == before
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(changed, next(iter(changes)), None)
    with pytest.raises(TypeError, match="no field nope"):
        evolve(value, nope=1)
