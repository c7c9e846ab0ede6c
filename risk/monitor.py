"""The risk monitor: a snapshot of how much risk the account carries, and what the bot should do.

`assess` runs on every account update. Its recommendation follows nautilus_trader's trading states:
- HALTED, reason "daily_loss_limit" or "weekly_loss_limit": the day's or week's loss (equity against the
  period's start: realised and unrealised P&L, fees and funding) has reached its limit, as % of the
  period's starting equity or in USDT (live: 25 / 100). The week wins when both are reached. The daily
  halt lifts by itself at the next UTC day; the weekly one waits for a recorded review (control.trading_state).
- REDUCING, reason "margin_use" or "liquidation_distance": too much margin in use, or a position too
  close to liquidation; only exposure-reducing orders until it clears.
- ACTIVE otherwise.
The report is a flat record of Decimals and strings, so state.py can store it as-is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from models import Account, Position, TradingState

from .gate import loss_pct
from .limits import RiskLimits, estimated_liquidation_distance_pct

_HUNDRED = Decimal(100)
_PCT_PLACES = Decimal("0.0001")
DAILY_LOSS_LIMIT = "daily_loss_limit"
WEEKLY_LOSS_LIMIT = "weekly_loss_limit"
LOSS_LIMITS = (DAILY_LOSS_LIMIT, WEEKLY_LOSS_LIMIT)
MARGIN_USE = "margin_use"
LIQUIDATION_DISTANCE = "liquidation_distance"


@dataclass(frozen=True, slots=True)
class RiskReport:
    margin_use_pct: Decimal
    exposure_pct: Decimal
    daily_pnl: Decimal
    weekly_pnl: Decimal
    daily_loss_pct: Decimal
    weekly_loss_pct: Decimal
    worst_liquidation_distance_pct: Decimal | None  # None: no open position
    state_recommendation: TradingState
    reason: str  # "" | "daily_loss_limit" | "weekly_loss_limit" | "margin_use" | "liquidation_distance"
    detail: str = ""


def _shown(pct: Decimal) -> Decimal:
    """Percentages to 4 decimals for the record; decisions above use the exact values."""
    return pct.quantize(_PCT_PLACES)


def liquidation_distance_pct(position: Position) -> Decimal:
    """% the price may move against the position before liquidation; estimated from leverage when the
    venue gave no liquidation price."""
    price = position.mark_price or position.entry_price
    if position.liquidation_price is None or price <= 0:
        return estimated_liquidation_distance_pct(position.leverage)
    return position.side.sign * (price - position.liquidation_price) / price * _HUNDRED


def assess(
    account: Account,
    positions: Sequence[Position],
    day_start_equity: Decimal,
    week_start_equity: Decimal,
    limits: RiskLimits,
) -> RiskReport:
    """The account's risk now and the trading state it calls for."""
    equity = account.equity
    exposure = sum((p.notional for p in positions), Decimal(0))
    if equity > 0:
        margin_use = account.margin_used / equity * _HUNDRED
        exposure_pct = exposure / equity * _HUNDRED
    else:  # the account is blown; the loss limit halts it below, these only need to look alarming
        margin_use = exposure_pct = _HUNDRED
    daily_pnl, weekly_pnl = equity - day_start_equity, equity - week_start_equity
    daily, weekly = loss_pct(daily_pnl, equity), loss_pct(weekly_pnl, equity)
    distances = [liquidation_distance_pct(p) for p in positions]
    worst = min(distances) if distances else None

    state, reason, detail = TradingState.ACTIVE, "", ""
    usdt = limits.usdt
    if weekly >= limits.weekly_loss_limit_pct:
        state, reason = TradingState.HALTED, WEEKLY_LOSS_LIMIT
        detail = f"weekly loss {weekly:.2f}% ≥ limit {limits.weekly_loss_limit_pct}%"
    elif usdt.max_weekly_loss_usdt is not None and -weekly_pnl >= usdt.max_weekly_loss_usdt:
        state, reason = TradingState.HALTED, WEEKLY_LOSS_LIMIT
        detail = f"weekly loss {-weekly_pnl:.2f} USDT ≥ limit {usdt.max_weekly_loss_usdt} USDT"
    elif daily >= limits.daily_loss_limit_pct:
        state, reason = TradingState.HALTED, DAILY_LOSS_LIMIT
        detail = f"daily loss {daily:.2f}% ≥ limit {limits.daily_loss_limit_pct}%"
    elif usdt.max_daily_loss_usdt is not None and -daily_pnl >= usdt.max_daily_loss_usdt:
        state, reason = TradingState.HALTED, DAILY_LOSS_LIMIT
        detail = f"daily loss {-daily_pnl:.2f} USDT ≥ limit {usdt.max_daily_loss_usdt} USDT"
    elif margin_use > limits.max_margin_use_pct:
        state, reason = TradingState.REDUCING, MARGIN_USE
        detail = f"margin use {margin_use:.2f}% > max {limits.max_margin_use_pct}%"
    elif worst is not None and worst < limits.min_liquidation_distance_pct:
        state, reason = TradingState.REDUCING, LIQUIDATION_DISTANCE
        detail = f"a position is {worst:.2f}% from liquidation < min {limits.min_liquidation_distance_pct}%"

    return RiskReport(
        margin_use_pct=_shown(margin_use),
        exposure_pct=_shown(exposure_pct),
        daily_pnl=daily_pnl,
        weekly_pnl=weekly_pnl,
        daily_loss_pct=_shown(daily),
        weekly_loss_pct=_shown(weekly),
        worst_liquidation_distance_pct=None if worst is None else _shown(worst),
        state_recommendation=state,
        reason=reason,
        detail=detail,
    )


def loss_limit_in_force(report: RiskReport) -> bool:
    """True while a loss limit holds: the bot stays HALTED and a resume command is refused."""
    return report.reason in LOSS_LIMITS
