"""ccxt's unified dicts as our `models` values: orders, and the cursor over trade and income histories."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from models import Order, OrderSide, OrderStatus, OrderType, TimeInForce

ZERO = Decimal("0")


_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_TYPE = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop_market": OrderType.STOP_MARKET,
    "stop": OrderType.STOP_MARKET,
    "take_profit_market": OrderType.TAKE_PROFIT_MARKET,
    "take_profit": OrderType.TAKE_PROFIT_MARKET,
}


def after_cursor(rows: Any, last: int, seen: set[str]) -> tuple[list[Mapping[str, Any]], int, set[str]]:
    """The history rows newer than a cursor — the newest timestamp read (`last`, asked again inclusively,
    since Binance pages by time) and the ids already read at it — and the cursor moved past them."""
    out = []
    for row in rows:
        ts, row_id = int(row.get("timestamp") or 0), str(row.get("id"))
        if ts < last or (ts == last and row_id in seen):
            continue
        if ts > last:
            last, seen = ts, set()
        seen.add(row_id)
        out.append(row)
    return out, last, seen


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def order_from_ccxt(raw: Mapping[str, Any]) -> Order:
    """A ccxt unified order as ours."""
    filled = dec(raw.get("filled")) or ZERO
    status = _STATUS.get(raw.get("status") or "", OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW)
    trigger = dec(raw.get("triggerPrice") or raw.get("stopPrice"))
    order_type = _TYPE.get(str(raw.get("type") or "").lower(), OrderType.MARKET)
    if order_type is OrderType.MARKET and trigger is not None:
        order_type = OrderType.TAKE_PROFIT_MARKET if raw.get("takeProfitPrice") else OrderType.STOP_MARKET
    fee = raw.get("fee") or {}
    tif = raw.get("timeInForce") or "GTC"
    timestamp = int(raw.get("timestamp") or 0)
    return Order(
        client_order_id=str(raw.get("clientOrderId") or raw.get("id") or ""),
        symbol=str(raw.get("symbol")),
        side=OrderSide(str(raw.get("side")).lower()),
        order_type=order_type,
        qty=dec(raw.get("amount")) or ZERO,
        status=status,
        price=dec(raw.get("price")) if order_type is OrderType.LIMIT else None,
        stop_price=trigger,
        filled_qty=filled,
        avg_fill_price=dec(raw.get("average")),
        fee_paid=dec(fee.get("cost")) or ZERO,
        reduce_only=bool(raw.get("reduceOnly")),
        time_in_force=TimeInForce(tif) if tif in TimeInForce._value2member_map_ else TimeInForce.GTC,
        exchange_order_id=str(raw.get("id") or ""),
        created_ms=timestamp,
        updated_ms=int(raw.get("lastUpdateTimestamp") or timestamp),
    )
