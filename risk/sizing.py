"""How big a new position is: three methods, then an optional scaling by signal strength.

- fixed_percent: notional = equity × position_pct.
- tiered: the n-th entry on an asset within 24 h gets tiers[n] % of equity (10 → 7 → 5 by default);
  the last tier repeats if max_buys_per_24h exceeds the tier list; at max_buys_per_24h entries, no more
  ("max_buys_reached") — a brake on revenge trading the same coin.
- fixed_risk: qty = equity × risk_pct / |entry − stop|, so hitting the stop costs risk_pct of equity
  whatever the stop distance (before fees and slippage).
- fixed_notional: notional = a fixed amount of USDT, whatever the equity (the rules other engines are
  compared on: "buy floor(1000 USDT / close, lot 0.001)"; the planner's rounding down to the venue's step is the floor).
Strength scaling multiplies the result by `high` (strength ≥ 0.7), `medium` (0.4 ≤ s < 0.7) or `low`
(s < 0.4). When the caller passes `max_notional` (the risk limits' position cap × equity), the size is
cut to it here, so a tight stop shrinks the trade instead of getting it refused by the gate.

The quantity is not rounded: the executor rounds it to the venue's step size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models import Denial

from .levels import ResolvedRisk

STRENGTH_HIGH_AT = 0.7
STRENGTH_MEDIUM_AT = 0.4
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class SizingInput:
    equity: Decimal
    entry_price: Decimal
    stop_price: Decimal
    strength: float
    buys_last_24h: int
    max_notional: Decimal | None = None  # cap from the risk limits; None: no cap


@dataclass(frozen=True, slots=True)
class SizingDecision:
    qty: Decimal
    notional: Decimal
    method: str
    detail: str


def strength_multiplier(resolved: ResolvedRisk, strength: float) -> tuple[Decimal, str]:
    """The scaling factor for a signal strength and the band's name ('' when scaling is off)."""
    scaling = resolved.strength_scaling
    if scaling is None:
        return Decimal(1), ""
    if strength >= STRENGTH_HIGH_AT:
        return scaling.high, "high"
    if strength >= STRENGTH_MEDIUM_AT:
        return scaling.medium, "medium"
    return scaling.low, "low"


def _base_notional(resolved: ResolvedRisk, inp: SizingInput) -> tuple[Decimal, str] | Denial:
    method = resolved.method
    if method == "fixed_percent":
        pct = resolved.position_pct
        return inp.equity * pct / _HUNDRED, f"{pct}% of equity {inp.equity}"
    if method == "tiered":
        n = inp.buys_last_24h
        if n >= resolved.max_buys_per_24h:
            return Denial("max_buys_reached", f"{n} entries in the last 24 h, max {resolved.max_buys_per_24h}")
        pct = resolved.tiers[min(n, len(resolved.tiers) - 1)]
        return inp.equity * pct / _HUNDRED, f"entry #{n + 1} in 24 h: {pct}% of equity {inp.equity}"
    if method == "fixed_risk":
        distance = abs(inp.entry_price - inp.stop_price)
        if distance == 0:
            return Denial("invalid_stop", f"stop {inp.stop_price} equals entry {inp.entry_price}")
        at_risk = inp.equity * resolved.risk_pct / _HUNDRED
        qty = at_risk / distance
        return (
            qty * inp.entry_price,
            f"{resolved.risk_pct}% of equity {inp.equity} = {at_risk:.2f} at risk / stop distance {float(distance):.8g}",
        )
    if method == "fixed_notional" and resolved.fixed_notional is not None:
        return resolved.fixed_notional, f"fixed {resolved.fixed_notional} USDT"
    return Denial("unknown_sizing_method", f"sizing.method {method!r}")


def size_position(resolved: ResolvedRisk, inp: SizingInput) -> SizingDecision | Denial:
    """The quantity and notional to open, with a one-line explanation, or why not."""
    if inp.equity <= 0:
        return Denial("no_equity", f"equity {inp.equity} ≤ 0")
    if inp.entry_price <= 0:
        return Denial("invalid_price", f"entry price {inp.entry_price} ≤ 0")

    base = _base_notional(resolved, inp)
    if isinstance(base, Denial):
        return base
    notional, detail = base

    multiplier, band = strength_multiplier(resolved, inp.strength)
    if band:
        notional *= multiplier
        detail += f"; strength {inp.strength:.2f} ({band}) ×{multiplier}"
    if inp.max_notional is not None and notional > inp.max_notional:
        notional = inp.max_notional
        detail += f"; capped at max position {inp.max_notional}"
    if notional <= 0:
        return Denial("zero_size", f"size came to {notional} ({detail})")

    qty = notional / inp.entry_price
    return SizingDecision(
        qty=qty, notional=notional, method=resolved.method, detail=f"{detail} → notional {notional:.2f}, qty {float(qty):.8g}",
    )
