"""Where a taker order fills and what it costs: slippage models and fees.

Slippage is always against the trader, and the slipped price is rounded to the tick in the
unfavourable direction (a buy rounds up, a sell down): the simulator must never flatter a strategy.

The range rule (`taker_price`): a taker fill — a market order, a triggered stop or take-profit, a limit
that crosses — starts from a price the market traded at (`base`, inside the candle's [low, high]), moves
against the trader by the slippage model's bps, and must lie in the candle's range widened by the same
bps: [low × (1 − bps/10⁴), high × (1 + bps/10⁴)]. When rounding against the trader would leave that band
(a tick coarse next to the price), the price is rounded towards the trader instead. When no multiple of
the tick above zero lies in the band at all (candles finer than the symbol's tick: the data does not fit
the rules), an order that opens or adds is refused, and an exit that must happen fills at the unrounded
slipped price — never at 0 and never outside the band.
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


def band(low: Decimal, high: Decimal, bps: Decimal) -> tuple[Decimal, Decimal]:
    """The prices a taker fill may have in a candle of this range (see the module docstring)."""
    return low * (1 - bps / BPS), high * (1 + bps / BPS)


def taker_price(base: Decimal, side: OrderSide, bps: Decimal, tick_size: Decimal, low: Decimal, high: Decimal,
                *, must_fill: bool) -> Decimal | None:
    """The fill of a taker order that starts from `base`, by the range rule; None when the tick cannot
    express a price in the band and the order need not fill."""
    lowest, highest = band(min(low, base), max(high, base), bps)
    raw = base * (1 + side.sign * bps / BPS)
    buy = side is OrderSide.BUY
    for up in (buy, not buy):
        price = round_price(raw, tick_size, up=up)
        if price > 0 and lowest <= price <= highest:
            return price
    return raw if must_fill else None


def fee(qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    return money(qty * price * rate)
