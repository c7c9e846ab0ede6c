"""Margin utilisation and liquidation danger (rule 3 of live trading). Pure.

- Margin utilisation: initial margin in use / equity (wallet balance + unrealised P&L), in %. The gate
  keeps it at or under 50 % in live; the monitor turns REDUCING above it.
- Liquidation risk of a position: how far the mark has travelled from the entry price towards the
  liquidation price, in %: 0 at entry (or in profit), 100 at the liquidation price. At 80 % the bot raises
  an alert; at 90 % it closes the position reduce-only. A position without a liquidation price from the
  venue gets an estimate from its leverage (isolated margin less the maintenance margin), which at 1x lies
  near zero for a long: a long at 1x is at 90 % only after a 90 % fall.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from models import Account, Position, Side

from .limits import MAINTENANCE_MARGIN_PCT

_HUNDRED = Decimal(100)


def margin_utilisation_pct(account: Account) -> Decimal:
    equity = account.equity
    return account.margin_used / equity * _HUNDRED if equity > 0 else _HUNDRED


def liquidation_price(position: Position) -> Decimal:
    """The venue's, or an estimate from leverage: 1/leverage of the entry away, less the maintenance margin."""
    if position.liquidation_price is not None and position.liquidation_price > 0:
        return position.liquidation_price
    room = Decimal(1) / Decimal(max(position.leverage, 1)) - MAINTENANCE_MARGIN_PCT / _HUNDRED
    if position.side is Side.LONG:
        return max(position.entry_price * (1 - room), Decimal(0))
    return position.entry_price * (1 + room)


def liquidation_risk_pct(position: Position) -> Decimal:
    entry = position.entry_price
    mark = position.mark_price or entry
    liq = liquidation_price(position)
    span = (entry - liq) if position.side is Side.LONG else (liq - entry)
    if span <= 0:
        return _HUNDRED
    travelled = (entry - mark) if position.side is Side.LONG else (mark - entry)
    return max(Decimal(0), travelled / span * _HUNDRED)


@dataclass(frozen=True, slots=True)
class LiquidationDanger:
    alerts: tuple[tuple[str, Decimal], ...]  # (symbol, risk %) at or above the alert level, below the close
    closes: tuple[tuple[str, Decimal], ...]  # (symbol, risk %) at or above the close level
    worst_pct: Decimal | None  # None: no position


def liquidation_danger(positions: Sequence[Position], alert_pct: Decimal | None, close_pct: Decimal | None) -> LiquidationDanger:
    """Which positions call for the alert and which for a reduce-only close; levels are inclusive."""
    risks = [(p.symbol, liquidation_risk_pct(p)) for p in positions]
    closes = tuple((s, r) for s, r in risks if close_pct is not None and r >= close_pct)
    closing = {s for s, _ in closes}
    alerts = tuple((s, r) for s, r in risks if s not in closing and alert_pct is not None and r >= alert_pct)
    return LiquidationDanger(alerts, closes, max((r for _, r in risks), default=None))
