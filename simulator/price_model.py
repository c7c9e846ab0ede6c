"""The simulated venue's taker prices and fees, shared with the ghost executor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from errors import OrderRejectedError
from models import Candle, OrderSide
from simulator.config import SimConfig
from simulator.symbols import SymbolRules, load_symbol_rules_for


class PriceModel:
    """The simulated venue's taker prices and fees, for the ghost executor: a hypothetical trade is
    priced exactly as the paper venue would price the real order (same slippage, rounding and fees)."""

    def __init__(self, config: SimConfig, rules: Mapping[str, SymbolRules]):
        self.config = config
        self.rules = rules

    @classmethod
    def from_settings(cls, settings: Any, rules: Mapping[str, SymbolRules] | None = None) -> "PriceModel":
        return cls(SimConfig.from_settings(settings.venue), rules if rules is not None else load_symbol_rules_for(settings))

    def market_fill(
        self, symbol: str, side: OrderSide, qty: Decimal, reference: Decimal, candle_volume: Decimal | None,
        candle_range: tuple[Decimal, Decimal] | None = None, *, reduce_only: bool = True,
    ) -> tuple[Decimal, Decimal]:
        """(fill price, slippage cost) of a market order of `qty` against `reference` (the last close), kept
        in `candle_range` (low, high) as the simulator keeps it. An order that opens (`reduce_only=False`)
        is refused, as the simulator refuses it, when its quantity is not above zero or no price on the
        tick lies in the range; an exit always fills."""
        from simulator.exchange import unpriceable_reason
        from simulator.pricing import money, slippage_bps, taker_price
        from simulator.validation import PRICE_FILTER, QTY_NOT_POSITIVE

        if not reduce_only and qty <= 0:
            raise OrderRejectedError("Quantity less than or equal to zero.", QTY_NOT_POSITIVE)
        c = self.config
        rules = self.rules[symbol]
        bps = slippage_bps(c.slippage_model, c.slippage_bps, c.volume_impact_bps, qty, candle_volume)
        low, high = candle_range if candle_range is not None else (reference, reference)
        price = taker_price(reference, side, bps, rules.tick_size, low, high, must_fill=reduce_only)
        if price is None:
            raise OrderRejectedError(unpriceable_reason(rules, reference, low, high, bps), PRICE_FILTER)
        return price, money(abs(price - reference) * qty)

    def trigger_fill(
        self, symbol: str, side: OrderSide, qty: Decimal, trigger: Decimal, base: Decimal, candle: Candle
    ) -> tuple[Decimal, Decimal]:
        """(fill price, slippage cost) of a resting stop or take-profit that `candle` triggered, `base` being
        the worse of its trigger and the open: exactly the simulator's `_trigger_stop`."""
        from simulator.exchange import trigger_reference
        from simulator.pricing import money, slippage_bps, taker_price

        c = self.config
        bps = slippage_bps(c.slippage_model, c.slippage_bps, c.volume_impact_bps, qty, candle.volume)
        price = taker_price(base, side, bps, self.rules[symbol].tick_size, candle.low, candle.high, must_fill=True)
        assert price is not None
        return price, money(abs(price - trigger_reference(side, trigger, base)) * qty)

    def taker_fee(self, qty: Decimal, price: Decimal) -> Decimal:
        from simulator.pricing import fee

        return fee(qty, price, self.config.taker_fee_rate)

