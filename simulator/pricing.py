"""Where a taker order fills and what it costs: slippage models and fees.

Slippage is always against the trader, and the slipped price is rounded to the tick in the
unfavourable direction (a buy rounds up, a sell down): the simulator must never flatter a strategy.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from models import OrderSide
from simulator.symbols import round_price

BPS = Decimal("10000")
MONEY = Decimal("0.00000001")  # USDT is booked to 8 decimals, like Binance


def money(value: Decimal) -> Decimal:
    """Every amount that enters the ledger is quantised once, so sums of them stay exact."""
    return value.quantize(MONEY, rounding=ROUND_HALF_EVEN)


def slippage_bps(model: str, fixed_bps: Decimal, volume_impact_bps: Decimal, qty: Decimal,
                 candle_volume: Decimal | None) -> Decimal:
    if model == "volume":
        if not candle_volume or candle_volume <= 0:
            return volume_impact_bps  # no volume known: as if the order were the whole candle
        return volume_impact_bps * qty / candle_volume
    return fixed_bps


def slipped_price(reference: Decimal, side: OrderSide, bps: Decimal, tick_size: Decimal) -> Decimal:
    raw = reference * (1 + side.sign * bps / BPS)
    return round_price(raw, tick_size, up=side is OrderSide.BUY)


def fee(qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    return money(qty * price * rate)
