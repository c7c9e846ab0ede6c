"""The pre-trade gate: every order passes through `check_order` just before it is sent.

It answers with None (go) or a Denial (recorded and shown, never raised). The rules, in order:

| code                   | rule |
|------------------------|------|
| invalid_qty / _price   | qty ≤ 0 or price ≤ 0 — refused for every order, even reduce-only |
| (pass)                 | reduce-only orders pass everything else: closing risk is always allowed |
| halted                 | HALTED: nothing but reduce-only orders |
| (pass)                 | an order against an existing position no larger than it only reduces exposure |
| reducing               | REDUCING: only orders that reduce exposure |
| no_equity              | equity ≤ 0 |
| stale_price            | the price is older than stale_after_s (strictly) |
| loss_limit             | the day's or week's loss has reached its limit (% of the period's starting equity) |
| leverage_too_high      | leverage above the limits' maximum |
| liquidation_too_close  | estimated liquidation distance (≈ 100 / leverage − maintenance) below the minimum |
| order_too_large        | order notional above the per-order cap (live only) |
| max_positions          | a new symbol while max_open_positions are open |
| position_too_large     | the resulting position's notional above max_position_pct of equity |
| exposure_too_high      | all positions' notional above max_total_exposure_pct of equity |
| margin_too_high        | margin in use after the order above max_margin_use_pct of equity |

Maxima are inclusive (exactly at a limit passes); a loss limit is reached at exactly its value.
`side` is the direction the order trades: LONG buys, SHORT sells.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from models import Denial, Position, Side, TradingState

from .limits import RiskLimits, estimated_liquidation_distance_pct

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class PreTradeCheck:
    trading_state: TradingState
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    reduce_only: bool
    equity: Decimal
    wallet_balance: Decimal
    positions: Sequence[Position]
    price_age_s: float
    stale_after_s: float
    daily_pnl: Decimal
    weekly_pnl: Decimal
    margin_used: Decimal
    leverage: int


def loss_pct(pnl: Decimal, equity_now: Decimal) -> Decimal:
    """A period's loss as % of the equity it started with (equity now − pnl); 0 when in profit."""
    start = equity_now - pnl
    if pnl >= 0 or start <= 0:
        return Decimal(0) if pnl >= 0 else _HUNDRED
    return -pnl / start * _HUNDRED


def _signed(position: Position | None) -> Decimal:
    return Decimal(0) if position is None else position.side.sign * position.qty


def _fmt(value: Decimal) -> str:
    return f"{value:.2f}"


def check_order(c: PreTradeCheck, limits: RiskLimits) -> Denial | None:
    """None if the order may be sent, else the first rule it breaks."""
    if c.qty <= 0:
        return Denial("invalid_qty", f"{c.symbol}: qty {c.qty} ≤ 0")
    if c.price <= 0:
        return Denial("invalid_price", f"{c.symbol}: price {c.price} ≤ 0")
    if c.reduce_only:
        return None
    if c.trading_state is TradingState.HALTED:
        return Denial("halted", f"{c.symbol}: trading is HALTED; only reduce-only orders are accepted")

    current = next((p for p in c.positions if p.symbol == c.symbol), None)
    before = _signed(current)
    after = before + c.side.sign * c.qty
    if current is not None and current.side is not c.side and c.qty <= current.qty:
        return None  # it only shrinks an existing position
    if c.trading_state is TradingState.REDUCING:
        return Denial("reducing", f"{c.symbol}: trading is REDUCING; only orders that reduce exposure are accepted")

    if c.equity <= 0:
        return Denial("no_equity", f"equity {c.equity} ≤ 0")
    if c.price_age_s > c.stale_after_s:
        return Denial("stale_price", f"{c.symbol}: last price is {c.price_age_s:.1f}s old > {c.stale_after_s:g}s")

    daily = loss_pct(c.daily_pnl, c.equity)
    if daily >= limits.daily_loss_limit_pct:
        return Denial("loss_limit", f"daily loss {_fmt(daily)}% (P&L {c.daily_pnl}) ≥ limit {limits.daily_loss_limit_pct}%")
    weekly = loss_pct(c.weekly_pnl, c.equity)
    if weekly >= limits.weekly_loss_limit_pct:
        return Denial("loss_limit", f"weekly loss {_fmt(weekly)}% (P&L {c.weekly_pnl}) ≥ limit {limits.weekly_loss_limit_pct}%")

    if c.leverage > limits.max_leverage:
        return Denial("leverage_too_high", f"leverage {c.leverage}x > max {limits.max_leverage}x")
    liq = estimated_liquidation_distance_pct(c.leverage)
    if liq < limits.min_liquidation_distance_pct:
        return Denial(
            "liquidation_too_close",
            f"at {c.leverage}x liquidation is ~{_fmt(liq)}% away < min {limits.min_liquidation_distance_pct}%",
        )

    order_notional = c.qty * c.price
    if limits.max_order_notional is not None and order_notional > limits.max_order_notional:
        return Denial("order_too_large", f"{c.symbol}: order notional {_fmt(order_notional)} > cap {limits.max_order_notional}")

    if current is None and len(c.positions) >= limits.max_open_positions:
        return Denial("max_positions", f"{len(c.positions)} positions open, max {limits.max_open_positions}")

    position_notional = abs(after) * c.price
    position_pct = position_notional / c.equity * _HUNDRED
    if position_pct > limits.max_position_pct:
        return Denial(
            "position_too_large",
            f"{c.symbol}: position notional {_fmt(position_notional)} = {_fmt(position_pct)}% of equity "
            f"{c.equity} > max {limits.max_position_pct}%",
        )

    others = sum((p.notional for p in c.positions if p.symbol != c.symbol), Decimal(0))
    exposure_pct = (others + position_notional) / c.equity * _HUNDRED
    if exposure_pct > limits.max_total_exposure_pct:
        return Denial(
            "exposure_too_high",
            f"total exposure {_fmt(others + position_notional)} = {_fmt(exposure_pct)}% of equity "
            f"> max {limits.max_total_exposure_pct}%",
        )

    added = max(Decimal(0), abs(after) - abs(before)) * c.price
    margin_after = c.margin_used + added / Decimal(max(c.leverage, 1))
    margin_pct = margin_after / c.equity * _HUNDRED
    if margin_pct > limits.max_margin_use_pct:
        return Denial(
            "margin_too_high",
            f"margin in use after the order {_fmt(margin_after)} = {_fmt(margin_pct)}% of equity "
            f"> max {limits.max_margin_use_pct}%",
        )
    return None
