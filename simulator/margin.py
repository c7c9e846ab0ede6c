"""Maintenance margin and liquidation prices, by Binance's published USDⓈ-M rules (one-way mode).

Binance charges a maintenance margin rate (MMR) that grows with the position's notional, in tiers
("leverage brackets"). Each tier's maintenance amount `cum` makes the margin continuous across tiers:
    cum_i = cum_{i-1} + floor_i * (mmr_i - mmr_{i-1})
    maintenance margin = notional * mmr - cum

Liquidation price (Binance, one-way mode, for the position in question, "1"):
    LP = (WB - TMM1 + UPNL1 + cum - side * qty * entry) / (qty * MMR - side * qty)
side = +1 long / -1 short; WB = the isolated wallet (margin) balance in isolated mode, the cross wallet
balance in cross mode; TMM1 and UPNL1 = maintenance margin and unrealised P&L of every *other* cross
position (both 0 in isolated mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class Bracket:
    floor: Decimal  # notional from which this tier applies
    mmr: Decimal
    cum: Decimal  # maintenance amount


def make_brackets(tiers: Sequence[tuple[str, str]]) -> tuple[Bracket, ...]:
    """[(notional floor, mmr), ...] → brackets with Binance's cumulative maintenance amounts."""
    out: list[Bracket] = []
    cum, previous_mmr = ZERO, ZERO
    for floor_s, mmr_s in tiers:
        floor, mmr = Decimal(floor_s), Decimal(mmr_s)
        cum += floor * (mmr - previous_mmr)
        out.append(Bracket(floor, mmr, cum))
        previous_mmr = mmr
    return tuple(out)


# Binance's leverage brackets as recorded in ccxt's static fixtures (options.leverageBrackets).
BRACKETS: dict[str, tuple[Bracket, ...]] = {
    "BTC/USDT:USDT": make_brackets([
        ("0", "0.004"), ("50000", "0.005"), ("250000", "0.01"), ("3000000", "0.025"), ("20000000", "0.05"),
        ("40000000", "0.1"), ("100000000", "0.125"), ("120000000", "0.15"), ("200000000", "0.25"),
        ("300000000", "0.5"),
    ]),
    "ETH/USDT:USDT": make_brackets([
        ("0", "0.005"), ("100000", "0.0065"), ("250000", "0.01"), ("2000000", "0.02"), ("15000000", "0.05"),
        ("30000000", "0.1"), ("60000000", "0.125"), ("80000000", "0.15"), ("100000000", "0.25"),
        ("150000000", "0.5"),
    ]),
}

# Other symbols: a conservative table in the shape of Binance's mid-cap brackets.
DEFAULT_BRACKETS: tuple[Bracket, ...] = make_brackets([
    ("0", "0.01"), ("25000", "0.02"), ("100000", "0.025"), ("1000000", "0.05"), ("5000000", "0.1"),
    ("10000000", "0.125"), ("20000000", "0.25"), ("50000000", "0.5"),
])


def brackets_for(symbol: str) -> tuple[Bracket, ...]:
    return BRACKETS.get(symbol, DEFAULT_BRACKETS)


def bracket_for(symbol: str, notional: Decimal) -> Bracket:
    chosen = brackets_for(symbol)[0]
    for bracket in brackets_for(symbol):
        if abs(notional) >= bracket.floor:
            chosen = bracket
    return chosen


def maintenance_margin(symbol: str, notional: Decimal) -> Decimal:
    bracket = bracket_for(symbol, notional)
    return abs(notional) * bracket.mmr - bracket.cum


def liquidation_price_with(
    side: int, qty: Decimal, entry: Decimal, wallet: Decimal, mmr: Decimal, cum: Decimal,
    other_maintenance: Decimal = ZERO, other_unrealized: Decimal = ZERO,
) -> Decimal | None:
    """Binance's formula for one bracket. None when the position cannot be liquidated (or is empty)."""
    if qty <= 0:
        return None
    denominator = qty * mmr - side * qty
    if denominator == 0:
        return None
    price = (wallet - other_maintenance + other_unrealized + cum - side * qty * entry) / denominator
    return price if price > 0 else None


def liquidation_price(
    symbol: str, side: int, qty: Decimal, entry: Decimal, wallet: Decimal,
    other_maintenance: Decimal = ZERO, other_unrealized: Decimal = ZERO,
) -> Decimal | None:
    """The liquidation price, using the bracket that the position's notional *at that price* falls in
    (Binance's rule: the tier is decided by the notional at liquidation, not at entry). Falls back to the
    bracket of the entry notional when no tier is self-consistent."""
    tiers = brackets_for(symbol)
    for i, bracket in enumerate(tiers):
        price = liquidation_price_with(side, qty, entry, wallet, bracket.mmr, bracket.cum,
                                       other_maintenance, other_unrealized)
        if price is None:
            continue
        notional = qty * price
        upper = tiers[i + 1].floor if i + 1 < len(tiers) else None
        if notional >= bracket.floor and (upper is None or notional < upper):
            return price
    fallback = bracket_for(symbol, qty * entry)
    return liquidation_price_with(side, qty, entry, wallet, fallback.mmr, fallback.cum,
                                  other_maintenance, other_unrealized)
