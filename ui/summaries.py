"""Small aggregates the views need that nobody stores: P&L by exit reason, today's P&L, signal accuracy.

The heavy metrics (Sharpe, drawdown…) are computed by the bot and read from the `metrics` hash; these
are the few sums that follow directly from the records on screen. Pure functions, Decimal money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from models import ZERO, Mode, Trade
from ui.status import NO_VALUE, format_decimal, format_money, format_ts, to_decimal

_RETURN_KEY = re.compile(r"^ret_(\d+)m$")
SIGNAL_COLUMNS = ["Time", "Symbol", "Side", "Strength", "Strategy", "Price", "Reason", "Taken"]


def trades_in_mode(trades: Iterable[Trade], mode: Mode) -> list[Trade]:
    return [t for t in trades if t.mode is mode]


def pnl_by_exit_reason(trades: Iterable[Trade]) -> dict[str, Decimal]:
    """Net P&L per exit reason, largest absolute first."""
    totals: dict[str, Decimal] = {}
    for t in trades:
        totals[t.exit_reason.value] = totals.get(t.exit_reason.value, ZERO) + t.pnl
    return dict(sorted(totals.items(), key=lambda kv: (-abs(kv[1]), kv[0])))


def pnl_since(trades: Iterable[Trade], since_ms: int) -> Decimal:
    return sum((t.pnl for t in trades if t.exit_ms >= since_ms), ZERO)


# ------------------------------------------------------------------------------------------- metrics

@dataclass(frozen=True, slots=True)
class MetricCard:
    label: str
    value: str
    help: str = ""


# (label, keys analytics.metrics uses for it (first) or may use, how to show it)
_METRIC_CARDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Trades", ("trades", "n_trades", "count", "num_trades"), "int"),
    ("Win rate", ("win_rate_pct", "win_rate"), "pct"),
    ("Profit factor", ("profit_factor",), "ratio"),
    ("Expectancy", ("expectancy",), "money"),
    ("Net P&L", ("net_pnl", "total_pnl", "pnl"), "money"),
    ("Return", ("return_pct",), "pct"),
    ("Max drawdown", ("max_drawdown_pct", "max_drawdown"), "pct"),
    ("Sharpe", ("sharpe", "sharpe_ratio"), "ratio"),
    ("Sortino", ("sortino", "sortino_ratio"), "ratio"),
    ("Average win", ("avg_win", "average_win"), "money"),
    ("Average loss", ("avg_loss", "average_loss"), "money"),
    ("Fees paid", ("total_fees", "fees"), "cost"),
)


def metric_cards(metrics: Mapping[str, Any] | None) -> list[MetricCard]:
    """The well-known metrics present in `metrics`, in a fixed order, formatted for st.metric."""
    if not metrics:
        return []
    cards = []
    for label, keys, kind in _METRIC_CARDS:
        key = next((k for k in keys if k in metrics), None)
        if key is None:
            continue
        hint = ""
        if kind == "ratio" and metrics[key] in (None, "") and metrics.get("ratios_note") and key != "profit_factor":
            hint = str(metrics["ratios_note"])  # not enough data yet: say how much is needed
        cards.append(MetricCard(label, _format_metric(metrics[key], kind, key), hint))
    return cards


def _format_metric(value: Any, kind: str, key: str) -> str:
    amount = to_decimal(value)
    if amount is None:
        return NO_VALUE if value in (None, "") else str(value)
    if kind == "int":
        return f"{int(amount):,}"
    if kind == "money":
        return format_money(amount, signed=True)
    if kind == "cost":  # paid: shown as what it does to the P&L, never as a gain
        return format_money(-abs(amount), signed=True) if amount else format_money(amount)
    if kind == "pct":
        # a fraction (0.55) unless the key says it is already a percentage
        pct = amount if key.endswith("_pct") or abs(amount) > 1 else amount * 100
        return f"{pct:.1f} %"
    if amount.is_infinite():
        return "∞"
    return f"{amount:.2f}"


# ------------------------------------------------------------------------------------------- signals

def is_outcome(record: Mapping[str, str]) -> bool:
    return record.get("kind") == "outcome"


def horizons(records: Iterable[Mapping[str, str]]) -> list[str]:
    """Horizon names present in outcome records ('5m', '15m', '60m'), shortest first."""
    found: set[int] = set()
    for r in records:
        if is_outcome(r):
            for key in r:
                m = _RETURN_KEY.match(key)
                if m:
                    found.add(int(m.group(1)))
    return [f"{n}m" for n in sorted(found)]


def _outcome_correct(outcome: Mapping[str, str], horizon: str) -> bool | None:
    """The bot's own `correct_<h>` flag when present, else whether the directional return is positive."""
    flag = outcome.get(f"correct_{horizon}")
    if flag not in (None, ""):
        return flag in ("1", "true", "True")
    ret = to_decimal(outcome.get(f"ret_{horizon}"))
    return None if ret is None else ret > 0


def signals_frame(records: Sequence[Mapping[str, str]], limit: int = 200) -> pd.DataFrame:
    """Signals newest first, with the returns of their outcome record once it arrived.

    Returns are the engine's: percent, in the signal's direction (positive = the signal was right)."""
    outcomes = {r.get("signal_id"): r for r in records if is_outcome(r) and r.get("signal_id")}
    hs = horizons(records)
    rows = []
    signals = [r for r in records if not is_outcome(r)]
    for r in sorted(signals, key=lambda r: int(r.get("ts_ms") or 0), reverse=True)[:limit]:
        row = {
            "Time": format_ts(r.get("ts_ms")),
            "Symbol": r.get("symbol", ""),
            "Side": r.get("side", ""),
            "Strength": _short_number(r.get("strength")),
            "Strategy": r.get("strategy", ""),
            "Price": format_decimal(r.get("price")),
            "Reason": r.get("reason", ""),
            "Taken": _taken(r),
        }
        outcome = outcomes.get(r.get("signal_id"))
        for h in hs:
            ret = to_decimal(outcome.get(f"ret_{h}")) if outcome else None
            row[f"Return {h}"] = NO_VALUE if ret is None else f"{ret:+.3f} %"
        rows.append(row)
    columns = [*SIGNAL_COLUMNS, *(f"Return {h}" for h in hs)]
    return pd.DataFrame(rows, columns=columns, dtype="string")


def _taken(record: Mapping[str, str]) -> str:
    taken = record.get("taken")
    if taken in (None, ""):
        return NO_VALUE
    if taken in ("1", "true", "True"):
        return "yes"
    return f"no: {record['why_not']}" if record.get("why_not") else "no"


def _short_number(raw: Any) -> str:
    amount = to_decimal(raw)
    return NO_VALUE if amount is None else f"{amount:.2f}"


@dataclass(frozen=True, slots=True)
class HorizonAccuracy:
    horizon: str
    scored: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None


def signal_accuracy(records: Sequence[Mapping[str, str]]) -> list[HorizonAccuracy]:
    """Per horizon: how many signals were scored and how many called the direction right."""
    out = []
    for h in horizons(records):
        scored = correct = 0
        for r in records:
            if not is_outcome(r):
                continue
            verdict = _outcome_correct(r, h)
            if verdict is None:
                continue
            scored += 1
            correct += verdict
        out.append(HorizonAccuracy(h, scored, correct))
    return out


def accuracy_frame(rows: Sequence[HorizonAccuracy]) -> pd.DataFrame:
    data = [
        {
            "Horizon": r.horizon,
            "Scored": str(r.scored),
            "Correct": str(r.correct),
            "Accuracy": NO_VALUE if r.accuracy is None else f"{r.accuracy * 100:.1f} %",
        }
        for r in rows
    ]
    return pd.DataFrame(data, columns=["Horizon", "Scored", "Correct", "Accuracy"], dtype="string")
