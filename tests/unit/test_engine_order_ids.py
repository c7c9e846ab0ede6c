"""Client order ids (order_ids.py) say what each order was for, and executors.base.exit_reason_of reads
the exit reason back from a fill's id — also after a restart or when the supervisor made the fill."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest

from models import TradeState
from executors.base import exit_reason_of
from models import ExitReason, Side
from order_ids import entry_order_id, exit_order_id, is_entry, make_trade_id, stop_order_id, take_profit_order_id

BINANCE_ID = re.compile(r"^[A-Za-z0-9.:/_-]{1,36}$")  # newClientOrderId
# the longest symbol code order_ids keeps (8 characters) and a timestamp far in the future
LONGEST_TRADE_ID = make_trade_id("1000SATSX/USDT:USDT", 9_999_999_999_999, Side.SHORT)


def state(**flags) -> TradeState:
    return replace(
        TradeState(symbol="BTC/USDT:USDT", side=Side.LONG, qty=Decimal("0.01"), entry_price=Decimal("100000"),
                   entry_ms=0, stop=Decimal("99000"), take_profit=Decimal("102000"), initial_stop=Decimal("99000"),
                   peak_price=Decimal("100000"), trade_id="BTC1746000060L"),
        **flags,
    )


@pytest.mark.parametrize("reason", list(ExitReason))
@pytest.mark.parametrize("attempt", [0, 1, 9, 42])
def test_exit_reason_of_when_the_exit_id_encodes_a_reason_then_it_reads_it_back(reason: ExitReason, attempt: int):
    # Arrange
    client_order_id = exit_order_id("BTC1746000060L", reason, attempt)

    # Act
    read = exit_reason_of(client_order_id, state())

    # Assert
    assert read is reason


@pytest.mark.parametrize("reason", list(ExitReason))
def test_exit_order_id_when_the_trade_id_is_the_longest_then_it_fits_binances_36_characters(reason: ExitReason):
    for client_order_id in (
        exit_order_id(LONGEST_TRADE_ID, reason, 99), entry_order_id(LONGEST_TRADE_ID),
        stop_order_id(LONGEST_TRADE_ID, 999), take_profit_order_id(LONGEST_TRADE_ID),
    ):
        assert BINANCE_ID.match(client_order_id), client_order_id
    assert exit_reason_of(exit_order_id(LONGEST_TRADE_ID, reason, 99), None) is reason


@pytest.mark.parametrize(
    "flags, reason",
    [
        ({}, ExitReason.STOP_LOSS),
        ({"breakeven_moved": True}, ExitReason.BREAKEVEN_STOP),
        ({"breakeven_moved": True, "trailing_active": True}, ExitReason.TRAILING_STOP),
        ({"trailing_active": True}, ExitReason.TRAILING_STOP),
    ],
)
def test_exit_reason_of_when_a_stop_order_fills_then_the_trades_flags_name_the_stop(flags: dict, reason: ExitReason):
    for generation in (0, 1, 12):
        assert exit_reason_of(stop_order_id("BTC1746000060L", generation), state(**flags)) is reason


def test_exit_reason_of_when_the_stop_fills_with_no_memory_of_the_trade_then_stop_loss():
    assert exit_reason_of(stop_order_id("BTC1746000060L", 3), None) is ExitReason.STOP_LOSS


@pytest.mark.parametrize(
    "client_order_id, reason",
    [
        (take_profit_order_id("BTC1746000060L"), ExitReason.TAKE_PROFIT),
        ("liq-BTCUSDT-1746000060000-17", ExitReason.LIQUIDATION),  # the simulator's liquidation orders
        (entry_order_id("BTC1746000060L"), None),
        ("web-12345", None),  # an order someone placed by hand
    ],
)
def test_exit_reason_of_when_other_orders_fill_then_take_profit_liquidation_or_none(client_order_id: str, reason):
    assert exit_reason_of(client_order_id, state()) is reason


def test_make_trade_id_when_the_same_candle_is_processed_twice_then_the_same_id():
    # Arrange
    ts_ms = 1_746_000_060_000

    # Act
    ids = {make_trade_id("BTC/USDT:USDT", ts_ms, Side.LONG) for _ in range(2)}

    # Assert: one id per candle and side, so a re-processed candle cannot place a second entry
    assert ids == {"BTC1746000060L"}
    assert make_trade_id("BTC/USDT:USDT", ts_ms, Side.SHORT) != "BTC1746000060L"
    assert is_entry(entry_order_id("BTC1746000060L"))
