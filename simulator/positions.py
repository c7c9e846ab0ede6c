"""One-way (net) positions: how a fill changes a position, its isolated margin and realised P&L.

One-way mode means one signed quantity per symbol: a buy against a short reduces it, and a buy larger than
the short closes it and opens a long with the rest. Realised P&L and margin are quantised to the ledger's
precision (`pricing.money`) at the moment they arise, so the ledger balances exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simulator.pricing import money

ZERO = Decimal("0")


@dataclass(slots=True)
class NetPosition:
    symbol: str
    qty: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry: Decimal = ZERO
    margin: Decimal = ZERO  # isolated wallet balance (0 for cross positions)
    opened_ms: int = 0
    funding: Decimal = ZERO  # net funding paid since the position was opened

    @property
    def sign(self) -> int:
        return (self.qty > 0) - (self.qty < 0)

    @property
    def size(self) -> Decimal:
        return abs(self.qty)

    def unrealized(self, mark: Decimal) -> Decimal:
        return money(self.qty * (mark - self.entry))


@dataclass(frozen=True, slots=True)
class FillEffect:
    realized: Decimal  # gross P&L on the part of the fill that reduced the position
    closed_qty: Decimal
    margin_released: Decimal  # isolated margin that went back to the free wallet
    margin_locked: Decimal  # isolated margin newly allocated


def apply_fill(pos: NetPosition, signed_qty: Decimal, price: Decimal, leverage: int, isolated: bool,
               ts_ms: int) -> FillEffect:
    """Mutates `pos` by a fill of `signed_qty` (+ buy, - sell) at `price`."""
    realized = released = locked = closed = ZERO
    if pos.qty != 0 and (pos.qty > 0) != (signed_qty > 0):
        closed = min(pos.size, abs(signed_qty))
        realized = money(closed * (price - pos.entry) * pos.sign)
        released = pos.margin if closed == pos.size else money(pos.margin * closed / pos.size)
        pos.margin -= released
        pos.qty += closed * (1 if signed_qty > 0 else -1)
        if pos.qty == 0:
            pos.entry = ZERO
            pos.margin = ZERO
            pos.funding = ZERO
        signed_qty -= closed * (1 if signed_qty > 0 else -1)
    if signed_qty != 0:
        if pos.qty == 0:
            pos.opened_ms = ts_ms
            pos.entry = price
        else:
            pos.entry = (pos.size * pos.entry + abs(signed_qty) * price) / (pos.size + abs(signed_qty))
        pos.qty += signed_qty
        if isolated:
            locked = money(abs(signed_qty) * price / leverage)
            pos.margin += locked
    return FillEffect(realized, closed, released, locked)
