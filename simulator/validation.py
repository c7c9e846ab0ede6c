"""Checks an order must pass before it reaches the book, with Binance's own codes and wording.

Only the checks that need nothing but the order and the symbol's rules live here; the ones that need the
account (reduce-only, margin, post-only crossing, immediate trigger) are in the exchange. Codes are from
Binance's USDⓈ-M error list, so a strategy that handles them against the simulator handles them live.
"""

from __future__ import annotations

from decimal import Decimal

from errors import OrderRejectedError
from models import OrderIntent, OrderType
from simulator.symbols import SymbolRules, is_multiple

INVALID_SYMBOL = -1121
MANDATORY_PARAM = -1102
PRECISION = -1111
QTY_NOT_POSITIVE = -4003
QTY_BELOW_MIN = -4004
QTY_ABOVE_MAX = -4005
PRICE_NOT_POSITIVE = -4001
PRICE_FILTER = -1013  # Binance: "Filter failure: PRICE_FILTER"
PRICE_TICK = -4014
MIN_NOTIONAL = -4164
REDUCE_ONLY = -2022
WOULD_TRIGGER = -2021
GTX_REJECT = -5022
MARGIN_INSUFFICIENT = -2019
UNKNOWN_ORDER = -2011
BAD_LEVERAGE = -4028
MARGIN_TYPE_WITH_POSITION = -4048
MARGIN_TYPE_WITH_ORDERS = -4047
NO_PRICE = -1003  # the simulator has seen no candle for the symbol yet (not a Binance code)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def check_static(intent: OrderIntent, rules: SymbolRules) -> None:
    """Raise OrderRejectedError for what Binance rejects from the order alone."""
    if intent.qty <= 0:
        raise OrderRejectedError("Quantity less than or equal to zero.", QTY_NOT_POSITIVE)
    step = rules.market_step_size if intent.order_type is OrderType.MARKET else rules.step_size
    if not is_multiple(intent.qty, step):
        raise OrderRejectedError("Precision is over the maximum defined for this asset.", PRECISION)
    if intent.qty < rules.min_qty:
        raise OrderRejectedError(f"Quantity less than min quantity {_plain(rules.min_qty)}.", QTY_BELOW_MIN)
    max_qty = rules.market_max_qty if intent.order_type is not OrderType.LIMIT else rules.max_qty
    if intent.qty > max_qty:
        raise OrderRejectedError("Quantity greater than max quantity.", QTY_ABOVE_MAX)
    if intent.order_type is OrderType.LIMIT:
        _check_price(intent.price, "price", rules)
    if intent.order_type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
        _check_price(intent.stop_price, "stopPrice", rules)


def _check_price(price: Decimal | None, name: str, rules: SymbolRules) -> None:
    if price is None:
        raise OrderRejectedError(
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.", MANDATORY_PARAM
        )
    if price <= 0:
        raise OrderRejectedError("Price less than 0.", PRICE_NOT_POSITIVE)
    if not is_multiple(price, rules.tick_size):
        raise OrderRejectedError("Price not increased by tick size.", PRICE_TICK)


def check_min_notional(qty: Decimal, price: Decimal, rules: SymbolRules) -> None:
    if qty * price < rules.min_notional:
        raise OrderRejectedError(
            f"Order's notional must be no smaller than {_plain(rules.min_notional)} (unless you choose reduce only).",
            MIN_NOTIONAL,
        )
