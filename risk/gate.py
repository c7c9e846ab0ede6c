"""The pre-trade gate: every order passes through `check_order` just before it is sent. Pure, no I/O.

It answers with None (go) or a Denial (recorded and shown, never raised). The same gate runs in every
mode: live with the hard limits (risk.live_limits, risk.limits.effective_limits), ghost and paper with
their config (a USDT check whose limit is None is off). The rules, in order:

| code                      | rule |
|---------------------------|------|
| invalid_qty / _price      | qty ≤ 0 or price ≤ 0 — refused for every order, even reduce-only |
| (pass)                    | reduce-only orders pass everything else: closing risk is always allowed |
| fail_closed               | something the gate needs (Redis, the venue) could not be read: no entry |
| halted                    | HALTED: nothing but reduce-only orders |
| (pass)                    | an order against an existing position no larger than it only reduces exposure |
| reducing                  | REDUCING: only orders that reduce exposure |
| symbol_not_allowed        | a symbol outside the whitelist (live) |
| blackout                  | an entry in a blackout hour (UTC, market time) |
| no_mark / stale_price     | no mark price, or one older than the limit (strictly) |
| price_band                | a limit price further from the mark than price_band_pct |
| no_equity / low_balance   | equity ≤ 0; wallet balance under min_balance_usdt (circuit breaker) |
| loss_limit                | the day's or week's loss has reached its limit (% of the period's start, or USDT) |
| trades_per_day            | max_trades_per_day entries this UTC day (circuit breaker) |
| order_rate                | max_orders_per_minute entries in the last 60 s (the throttle) |
| entry_spacing             | less than min_entry_spacing_s since the last entry |
| leverage_too_high         | leverage above the limits' maximum |
| liquidation_too_close     | estimated liquidation distance (≈ 100 / leverage − maintenance) below the minimum |
| order_too_large           | order notional above the per-order cap (live only) |
| max_positions             | a new symbol while max_open_positions are open |
| position_too_large        | the resulting position's notional above max_position_pct of equity or max_position_usdt |
| below_min_notional        | the order is under the venue's minimum (it is never rounded up past a limit) |
| no_stop / loss_per_trade  | a stop-out (fees and expected slippage included) could lose more than max_loss_per_trade_usdt |
| exposure_too_high         | all positions' notional above max_total_exposure_pct of equity |
| margin_too_high           | margin in use after the order above max_margin_use_pct of equity |

Maxima are inclusive (exactly at a limit passes); a loss limit is reached at exactly its value; an entry
exactly min_entry_spacing_s after the last one passes. A position's value is taken at the worse of the
order's price and the mark. `side` is the direction the order trades: LONG buys, SHORT sells.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from models import Denial, Position, Side, TradingState, fast_init

from .limits import RiskLimits, estimated_liquidation_distance_pct

_HUNDRED = Decimal(100)


@fast_init  # built for every entry, with 26 fields
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
    # market time of the decision, and of this bot's entries over the last UTC day or more (any symbol)
    now_ms: int = 0
    recent_entries_ms: Sequence[int] = ()
    mark_price: Decimal | None = None  # the venue's mark; None: the order's price stands for it
    # how old that mark is; None: the last price's age stands for it. The feed's last candle may be a minute
    # old between 1m candles while the mark was asked for just now: the 5 s rule is about the mark.
    mark_age_s: float | None = None
    is_limit: bool = False  # a marketable limit (IOC) rather than a market order
    stop_price: Decimal | None = None  # the protective stop the entry will get
    fee_rate: Decimal = Decimal(0)  # taker, per leg
    slippage_bps: Decimal = Decimal(0)  # expected on the stop-out
    min_qty: Decimal = Decimal(0)  # the venue's minimum order
    min_notional: Decimal = Decimal(0)
    unreadable: str = ""  # what could not be read (Redis, the venue): fail closed


_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000


def stop_out_loss(qty: Decimal, entry: Decimal, stop: Decimal, fee_rate: Decimal, slippage_bps: Decimal) -> Decimal:
    """What a stop-out costs: the distance to the stop, the stop's slippage past it, and both legs' fees."""
    slip = stop * slippage_bps / Decimal(10_000)
    return qty * (abs(entry - stop) + slip) + qty * (entry + stop + slip) * fee_rate


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
    if c.unreadable:
        return Denial("fail_closed", f"{c.symbol}: {c.unreadable} cannot be read, so no entry")
    if c.trading_state is TradingState.HALTED:
        return Denial("halted", f"{c.symbol}: trading is HALTED; only reduce-only orders are accepted")

    current = next((p for p in c.positions if p.symbol == c.symbol), None)
    before = _signed(current)
    after = before + c.side.sign * c.qty
    if current is not None and current.side is not c.side and c.qty <= current.qty:
        return None  # it only shrinks an existing position
    if c.trading_state is TradingState.REDUCING:
        return Denial("reducing", f"{c.symbol}: trading is REDUCING; only orders that reduce exposure are accepted")
    return _entry_rules(c, limits, current, before, after)


def _entry_rules(c: PreTradeCheck, limits: RiskLimits, current: Position | None, before: Decimal,
                 after: Decimal) -> Denial | None:
    u = limits.usdt
    if u.symbols is not None and c.symbol not in u.symbols:
        return Denial("symbol_not_allowed", f"{c.symbol} is not on the whitelist ({', '.join(sorted(u.symbols))})")
    hour = int(c.now_ms) // _HOUR_MS % 24  # the UTC hour (epoch time has no leap seconds), without a datetime
    if hour in u.blackout_hours_utc:
        return Denial("blackout", f"{c.symbol}: no entries at {hour:02d}:00–{hour:02d}:59 UTC (blackout hours "
                                  f"{', '.join(str(h) for h in sorted(u.blackout_hours_utc))}); exits still run")
    if limits.max_price_age_s is not None and c.mark_price is None:
        return Denial("no_mark", f"{c.symbol}: no mark price from the venue, so no order")
    if c.mark_age_s is not None and limits.max_price_age_s is not None:
        if c.price_age_s > c.stale_after_s:
            return Denial("stale_price", f"{c.symbol}: last price is {c.price_age_s:.1f}s old > {c.stale_after_s:g}s")
        if c.mark_age_s > limits.max_price_age_s:
            return Denial("stale_price", f"{c.symbol}: the mark is {c.mark_age_s:.1f}s old > {limits.max_price_age_s:g}s")
    else:
        stale_after = c.stale_after_s if limits.max_price_age_s is None else min(c.stale_after_s, limits.max_price_age_s)
        if c.price_age_s > stale_after:
            return Denial("stale_price", f"{c.symbol}: last price is {c.price_age_s:.1f}s old > {stale_after:g}s")
    mark = c.mark_price if c.mark_price is not None and c.mark_price > 0 else c.price
    if c.is_limit and u.price_band_pct is not None:
        band = abs(c.price - mark) / mark * _HUNDRED
        if band > u.price_band_pct:
            return Denial("price_band", f"{c.symbol}: limit {c.price} is {_fmt(band)}% from the mark {mark} > {u.price_band_pct}%")

    if c.equity <= 0:
        return Denial("no_equity", f"equity {c.equity} ≤ 0")
    if c.wallet_balance < u.min_balance_usdt:
        return Denial("low_balance", f"wallet balance {_fmt(c.wallet_balance)} < minimum {u.min_balance_usdt} USDT")

    daily = loss_pct(c.daily_pnl, c.equity)
    if daily >= limits.daily_loss_limit_pct:
        return Denial("loss_limit", f"daily loss {_fmt(daily)}% (P&L {c.daily_pnl}) ≥ limit {limits.daily_loss_limit_pct}%")
    if u.max_daily_loss_usdt is not None and -c.daily_pnl >= u.max_daily_loss_usdt:
        return Denial("loss_limit", f"daily loss {_fmt(-c.daily_pnl)} USDT ≥ limit {u.max_daily_loss_usdt} USDT")
    weekly = loss_pct(c.weekly_pnl, c.equity)
    if weekly >= limits.weekly_loss_limit_pct:
        return Denial("loss_limit", f"weekly loss {_fmt(weekly)}% (P&L {c.weekly_pnl}) ≥ limit {limits.weekly_loss_limit_pct}%")
    if u.max_weekly_loss_usdt is not None and -c.weekly_pnl >= u.max_weekly_loss_usdt:
        return Denial("loss_limit", f"weekly loss {_fmt(-c.weekly_pnl)} USDT ≥ limit {u.max_weekly_loss_usdt} USDT")

    day_start = c.now_ms - c.now_ms % _DAY_MS
    if u.max_trades_per_day is not None:
        today = sum(1 for t in c.recent_entries_ms if t >= day_start)
        if today >= u.max_trades_per_day:
            return Denial("trades_per_day", f"{today} entries today, max {u.max_trades_per_day} (circuit breaker)")
    if u.max_orders_per_minute is not None:
        last_minute = sum(1 for t in c.recent_entries_ms if t > c.now_ms - _MINUTE_MS)
        if last_minute >= u.max_orders_per_minute:
            return Denial("order_rate", f"{last_minute} entries in the last 60 s, max {u.max_orders_per_minute}")
    if u.min_entry_spacing_s > 0 and c.recent_entries_ms:
        since_s = Decimal(c.now_ms - max(c.recent_entries_ms)) / 1000
        if since_s < u.min_entry_spacing_s:
            return Denial("entry_spacing", f"{c.symbol}: {since_s:f}s since the last entry < {u.min_entry_spacing_s}s")

    if c.leverage > limits.max_leverage:
        return Denial("leverage_too_high", f"leverage {c.leverage}x > max {limits.max_leverage}x")
    liq = estimated_liquidation_distance_pct(c.leverage)
    if liq < limits.min_liquidation_distance_pct:
        return Denial(
            "liquidation_too_close",
            f"at {c.leverage}x liquidation is ~{_fmt(liq)}% away < min {limits.min_liquidation_distance_pct}%",
        )

    worst = max(c.price, mark)
    order_notional = c.qty * worst
    if limits.max_order_notional is not None and order_notional > limits.max_order_notional:
        return Denial("order_too_large", f"{c.symbol}: order notional {_fmt(order_notional)} > cap {limits.max_order_notional}")

    if current is None and len(c.positions) >= limits.max_open_positions:
        return Denial("max_positions", f"{len(c.positions)} positions open, max {limits.max_open_positions}")

    position_notional = abs(after) * worst
    position_pct = position_notional / c.equity * _HUNDRED
    if position_pct > limits.max_position_pct:
        return Denial(
            "position_too_large",
            f"{c.symbol}: position notional {_fmt(position_notional)} = {_fmt(position_pct)}% of equity "
            f"{c.equity} > max {limits.max_position_pct}%",
        )
    if u.max_position_usdt is not None and position_notional > u.max_position_usdt:
        return Denial("position_too_large",
                      f"{c.symbol}: position notional {_fmt(position_notional)} > max {u.max_position_usdt} USDT")
    if c.qty < c.min_qty or c.qty * c.price < c.min_notional:
        return Denial("below_min_notional", f"{c.symbol}: order {c.qty} (notional {_fmt(c.qty * c.price)}) is below the "
                                            f"venue minimum (qty {c.min_qty}, notional {c.min_notional})")
    if u.max_loss_per_trade_usdt is not None:
        if c.stop_price is None or c.stop_price <= 0:
            return Denial("no_stop", f"{c.symbol}: an entry needs a protective stop to bound its loss")
        loss = stop_out_loss(c.qty, c.price, c.stop_price, c.fee_rate, c.slippage_bps)
        if loss > u.max_loss_per_trade_usdt:
            return Denial("loss_per_trade", f"{c.symbol}: a stop-out at {c.stop_price} loses {_fmt(loss)} USDT with "
                                            f"fees and slippage > max {u.max_loss_per_trade_usdt} USDT")

    others = sum((p.notional for p in c.positions if p.symbol != c.symbol), Decimal(0))
    exposure_pct = (others + position_notional) / c.equity * _HUNDRED
    if exposure_pct > limits.max_total_exposure_pct:
        return Denial(
            "exposure_too_high",
            f"total exposure {_fmt(others + position_notional)} = {_fmt(exposure_pct)}% of equity "
            f"> max {limits.max_total_exposure_pct}%",
        )

    added = max(Decimal(0), abs(after) - abs(before)) * worst
    margin_after = c.margin_used + added / Decimal(max(c.leverage, 1))
    margin_pct = margin_after / c.equity * _HUNDRED
    if margin_pct > limits.max_margin_use_pct:
        return Denial(
            "margin_too_high",
            f"margin in use after the order {_fmt(margin_after)} = {_fmt(margin_pct)}% of equity "
            f"> max {limits.max_margin_use_pct}%",
        )
    return None
