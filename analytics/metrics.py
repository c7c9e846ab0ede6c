"""Performance metrics over closed trades and an equity curve — the numbers ghost, paper and live are judged by.

Conventions (the dashboard and README quote these):
- Money figures (P&L, fees, drawdown, averages of P&L) are Decimal; ratios and percentages are floats.
  `to_jsonable` turns Decimals into strings for JSON.
- A trade wins when its net P&L (after fees, slippage and funding) is > 0 and loses when < 0; a trade
  at exactly 0 is neither and breaks both streaks.
- win_rate is a fraction in 0..1. expectancy is the mean net P&L per trade.
- profit_factor = gross profit / gross loss; None when there are no losing trades (undefined: it would
  be infinite with wins, 0/0 without). payoff_ratio = avg win / |avg loss|; None without both.
- Sharpe and Sortino use simple returns over equal periods, a zero risk-free rate and annualisation by
  sqrt(periods a year). The equity curve is sampled on a fixed grid first — its last value at the end of
  every RATIO_SAMPLE_MS (an hour), or of the median spacing of its points when they are sparser — because
  the bot's snapshots are taken on the wall clock but stamped in market time: a replay puts hours of market
  between two snapshots, a live run seconds, and the median spacing of such points annualised nothing
  real (Sharpe −39 after a few minutes). With `periods_per_year` the points are taken as equally spaced
  already. Sortino's downside deviation is sqrt(mean(min(r, 0)²)) over all periods.
- Enough data: Sharpe and Sortino need an equity curve spanning RATIO_MIN_SPAN_MS (7 days) with at least
  RATIO_MIN_RETURNS (30) returns; Calmar needs CALMAR_MIN_SPAN_MS (28 days), since annualising a shorter
  compound return amplifies it (Calmar 5.2e8 after a few minutes). Short of that they are None and
  `ratios_note` says what is missing. None also without dispersion (Sharpe) or without a losing period
  (Sortino), and Calmar without a drawdown.
- Calmar = annualised (compound) return % / max drawdown %.
- Drawdown is measured from the running peak of the equity curve; longest_drawdown_ms runs from a
  peak to the first point back at or above it (or to the last point if it never recovered).
- exposure_pct = time with at least one trade open / the whole span (equity curve and trades) × 100.
- Without an equity curve, one is derived from the trades when `starting_equity` is given: the start
  at the first entry, then one point after each exit.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, Sequence

from models import Trade

YEAR_MS = 365 * 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000
RATIO_SAMPLE_MS = 3600 * 1000
RATIO_MIN_SPAN_MS = 7 * DAY_MS
RATIO_MIN_RETURNS = 30
CALMAR_MIN_SPAN_MS = 28 * DAY_MS
ZERO = Decimal(0)

EquityPoint = tuple[int, Decimal]


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def _streaks(trades: Sequence[Trade]) -> tuple[int, int]:
    best_win = best_loss = win = loss = 0
    for t in trades:
        win = win + 1 if t.pnl > 0 else 0
        loss = loss + 1 if t.pnl < 0 else 0
        best_win, best_loss = max(best_win, win), max(best_loss, loss)
    return best_win, best_loss


def _time_in_market(trades: Sequence[Trade]) -> int:
    """Total ms covered by at least one open trade (overlaps counted once)."""
    covered, end = 0, None
    for t in sorted(trades, key=lambda t: t.entry_ms):
        if end is None or t.entry_ms > end:
            covered += t.exit_ms - t.entry_ms
            end = t.exit_ms
        elif t.exit_ms > end:
            covered += t.exit_ms - end
            end = t.exit_ms
    return covered


def _derived_curve(trades: Sequence[Trade], start: Decimal) -> list[EquityPoint]:
    if not trades:
        return []
    curve = [(min(t.entry_ms for t in trades), start)]
    value = start
    for t in trades:  # sorted by exit
        value += t.pnl
        curve.append((t.exit_ms, value))
    return curve


def _drawdown(curve: Sequence[EquityPoint]) -> tuple[Decimal, float, int]:
    """(max drawdown, max drawdown %, longest drawdown ms)."""
    if not curve:
        return ZERO, 0.0, 0
    peak_ts, peak = curve[0]
    max_dd, max_dd_pct, longest = ZERO, 0.0, 0
    under_water = False
    for ts, value in curve:
        if value >= peak:
            if under_water:  # recovered: the drawdown lasted from the peak until now
                longest = max(longest, ts - peak_ts)
                under_water = False
            peak_ts, peak = ts, value
            continue
        under_water = True
        max_dd = max(max_dd, peak - value)
        if peak > 0:
            max_dd_pct = max(max_dd_pct, float((peak - value) / peak * 100))
    if under_water:  # never recovered: it lasts until the last point
        longest = max(longest, curve[-1][0] - peak_ts)
    return max_dd, max_dd_pct, longest


def sample_curve(curve: Sequence[EquityPoint], period_ms: int) -> list[EquityPoint]:
    """The curve's last value at or before each `period_ms` step from its first point (a step with no new
    point repeats the value before it: equity did not move while nothing was recorded)."""
    if not curve:
        return []
    t0, t_end = curve[0][0], curve[-1][0]
    out: list[EquityPoint] = [curve[0]]
    i, value = 0, curve[0][1]
    step = t0 + period_ms
    while step <= t_end:
        while i + 1 < len(curve) and curve[i + 1][0] <= step:
            i += 1
            value = curve[i][1]
        out.append((step, value))
        step += period_ms
    return out


def _ratios(curve: Sequence[EquityPoint], periods_per_year: float | None,
            min_span_ms: int, min_returns: int) -> tuple[float | None, float | None, str]:
    """(Sharpe, Sortino, why they are missing), annualised."""
    span = curve[-1][0] - curve[0][0] if curve else 0
    if span < min_span_ms:
        return None, None, f"Sharpe and Sortino need {_days(min_span_ms)} of equity; there are {_days(span)}"
    if periods_per_year is None:
        spacing = statistics.median(b - a for (a, _), (b, _) in zip(curve, curve[1:]))
        period_ms = max(RATIO_SAMPLE_MS, int(spacing))
        curve = sample_curve(curve, period_ms)
        periods_per_year = YEAR_MS / period_ms
    returns = [float(b / a - 1) for (_, a), (_, b) in zip(curve, curve[1:]) if a > 0]
    if len(returns) < max(2, min_returns):
        return None, None, f"Sharpe and Sortino need {max(2, min_returns)} returns; there are {len(returns)}"
    scale = math.sqrt(periods_per_year)
    mean = statistics.fmean(returns)
    std = statistics.stdev(returns)
    downside = math.sqrt(statistics.fmean(min(r, 0.0) ** 2 for r in returns))
    sharpe = mean / std * scale if std > 0 else None
    sortino = mean / downside * scale if downside > 0 else None
    return sharpe, sortino, ""


def _days(ms: int) -> str:
    days = ms / DAY_MS
    return f"{days:.0f} days" if days >= 1 else f"{ms / 3_600_000:.1f} hours"


def _cagr_pct(curve: Sequence[EquityPoint]) -> float | None:
    (t0, v0), (t1, v1) = curve[0], curve[-1]
    if t1 <= t0 or v0 <= 0 or v1 <= 0:
        return None
    try:
        return (math.exp(math.log(float(v1 / v0)) * YEAR_MS / (t1 - t0)) - 1) * 100
    except OverflowError:
        return None


def compute_metrics(
    trades: Sequence[Trade],
    equity: Sequence[EquityPoint] = (),
    *,
    starting_equity: Decimal | None = None,
    buy_and_hold_return_pct: Decimal | None = None,
    periods_per_year: float | None = None,
    min_ratio_span_ms: int = RATIO_MIN_SPAN_MS,
    min_ratio_returns: int = RATIO_MIN_RETURNS,
    min_calmar_span_ms: int = CALMAR_MIN_SPAN_MS,
) -> dict[str, Any]:
    """Every metric in the module docstring, as a flat dict (see `to_jsonable` for JSON)."""
    trades = sorted(trades, key=lambda t: (t.exit_ms, t.entry_ms))
    n = len(trades)
    pnls = [t.pnl for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit, gross_loss = sum(wins, ZERO), -sum(losses, ZERO)
    avg_win, avg_loss = _mean(wins), _mean(losses)
    total_pnl = sum(pnls, ZERO)
    max_wins, max_losses = _streaks(trades)

    curve = sorted(equity, key=lambda p: p[0]) if equity else (
        _derived_curve(trades, starting_equity) if starting_equity is not None else []
    )
    max_dd, max_dd_pct, longest_dd = _drawdown(curve)
    sharpe, sortino, ratios_note = _ratios(curve, periods_per_year, min_ratio_span_ms, min_ratio_returns)
    curve_span = curve[-1][0] - curve[0][0] if curve else 0
    cagr = _cagr_pct(curve) if len(curve) >= 2 and curve_span >= min_calmar_span_ms else None
    if len(curve) >= 2 and curve_span < min_calmar_span_ms:
        ratios_note = "; ".join(filter(None, [ratios_note, f"Calmar needs {_days(min_calmar_span_ms)}"]))

    start = starting_equity if starting_equity is not None else (curve[0][1] if curve else None)
    end = curve[-1][1] if curve else (start + total_pnl if start is not None else None)
    return_pct = float((end - start) / start * 100) if start and end is not None else None

    stamps = [ts for ts, _ in curve] + [t.entry_ms for t in trades] + [t.exit_ms for t in trades]
    span = max(stamps) - min(stamps) if stamps else 0

    return {
        "trades": n,
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / n if n else None,
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "payoff_ratio": float(avg_win / -avg_loss) if avg_win is not None and avg_loss is not None else None,
        "profit_factor": float(gross_profit / gross_loss) if gross_loss > 0 else None,
        "expectancy": total_pnl / n if n else None,
        "total_pnl": total_pnl,
        "total_fees": sum((t.fees for t in trades), ZERO),
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": cagr / max_dd_pct if cagr is not None and max_dd_pct > 0 else None,
        "ratios_note": ratios_note,
        "equity_span_ms": curve_span,
        "max_drawdown": max_dd,
        "max_drawdown_pct": max_dd_pct,
        "longest_drawdown_ms": longest_dd,
        "max_consecutive_wins": max_wins,
        "max_consecutive_losses": max_losses,
        "best_trade": max(pnls) if pnls else None,
        "worst_trade": min(pnls) if pnls else None,
        "avg_hold_ms": statistics.fmean(t.hold_ms for t in trades) if n else None,
        "exposure_pct": _time_in_market(trades) / span * 100 if span > 0 else None,
        "return_pct": return_pct,
        "vs_buy_and_hold_pct": (
            return_pct - float(buy_and_hold_return_pct)
            if return_pct is not None and buy_and_hold_return_pct is not None
            else None
        ),
    }


BreakdownKey = Literal["symbol", "exit_reason", "month", "strategy"]
_BREAKDOWN_FIELDS = (
    "trades", "wins", "losses", "win_rate", "avg_win", "avg_loss", "payoff_ratio", "profit_factor", "expectancy",
    "total_pnl", "total_fees", "best_trade", "worst_trade", "avg_hold_ms",
)


def _group(trade: Trade, key: str) -> str:
    if key == "symbol":
        return trade.symbol
    if key == "exit_reason":
        return trade.exit_reason.value
    if key == "strategy":
        return trade.strategy or "(none)"
    if key == "month":  # of the exit, UTC
        return datetime.fromtimestamp(trade.exit_ms / 1000, tz=timezone.utc).strftime("%Y-%m")
    raise ValueError(f"unknown breakdown key {key!r} (symbol, exit_reason, month, strategy)")


def breakdown(trades: Sequence[Trade], key: BreakdownKey) -> dict[str, dict[str, Any]]:
    """The trade metrics per symbol / exit reason / month (of the exit) / strategy, keys sorted."""
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        groups.setdefault(_group(t, key), []).append(t)
    out = {}
    for name in sorted(groups):
        metrics = compute_metrics(groups[name])
        out[name] = {field: metrics[field] for field in _BREAKDOWN_FIELDS}
    return out


def to_jsonable(value: Any) -> Any:
    """Decimals → str (exact), recursively through dicts and lists; everything else unchanged."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
