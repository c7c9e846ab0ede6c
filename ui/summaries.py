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
from ui.status import NO_VALUE, format_money, format_pct, format_price, format_time, parse_int, to_decimal
from ui.tables import SYMBOL, TIME, Col, Table

_RETURN_KEY = re.compile(r"^ret_(\d+)m$")


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
    keys: set[str] = set()
    for r in records:
        if is_outcome(r):
            keys.update(r)  # the few distinct field names, matched once each (not once per record)
    found = {int(m.group(1)) for key in keys if (m := _RETURN_KEY.match(key))}
    return [f"{n}m" for n in sorted(found)]


def _outcome_correct(outcome: Mapping[str, str], horizon: str) -> bool | None:
    """The bot's own `correct_<h>` flag when present, else whether the directional return is positive."""
    flag = outcome.get(f"correct_{horizon}")
    if flag not in (None, ""):
        return flag in ("1", "true", "True")
    ret = to_decimal(outcome.get(f"ret_{horizon}"))
    return None if ret is None else ret > 0


SIGNAL_LAYOUT = {
    "Symbol": Col(SYMBOL, key=True), "Side": Col(52, key=True), "Taken": Col(150, key=True),
    "Made (USDT)": Col(92, key=True, number=True), "Time (UTC)": Col(TIME, key=True),
    "Strategy": Col(122), "Price": Col(88, number=True), "Strength": Col(70, number=True), "Reason": Col(260),
}
RETURN_COL = Col(72, key=True, number=True)


def signals_table(records: Sequence[Mapping[str, str]], limit: int = 200, *, notional: Decimal | None = None,
                  places: Mapping[str, int | None] | None = None) -> Table:
    """Signals newest first, with the returns of their outcome record once it arrived, and what the
    signal would have made at `notional` USDT by its longest horizon (before fees).

    Returns are the engine's: percent, in the signal's direction (positive = the signal was right)."""
    places = places or {}
    outcomes = {r.get("signal_id"): r for r in records if is_outcome(r) and r.get("signal_id")}
    hs = horizons(records)
    rows = []
    signals = [r for r in records if not is_outcome(r)]
    for r in sorted(signals, key=lambda r: parse_int(r.get("ts_ms")) or 0, reverse=True)[:limit]:
        outcome = outcomes.get(r.get("signal_id"))
        row = {
            "Symbol": r.get("symbol", ""),
            "Side": r.get("side", ""),
            "Taken": _taken(r),
        }
        for h in hs:
            ret = to_decimal(outcome.get(f"ret_{h}")) if outcome else None
            row[f"{h} return"] = NO_VALUE if ret is None else f"{ret:+.2f} %"
        row["Made (USDT)"] = format_money(would_have_made(outcome, hs, notional), signed=True)
        row.update({
            "Time (UTC)": format_time(r.get("ts_ms")),
            "Strategy": r.get("strategy", ""),
            "Price": format_price(r.get("price"), places.get(r.get("symbol", ""))),
            "Strength": _short_number(r.get("strength")),
            "Reason": r.get("reason", ""),
        })
        rows.append(row)
    columns = ["Symbol", "Side", "Taken", *(f"{h} return" for h in hs), "Made (USDT)", "Time (UTC)", "Strategy",
               "Price", "Strength", "Reason"]
    layout = {**SIGNAL_LAYOUT, **{f"{h} return": RETURN_COL for h in hs}}
    return Table(pd.DataFrame(rows, columns=columns, dtype="string"), layout)


def would_have_made(outcome: Mapping[str, str] | None, hs: Sequence[str], notional: Decimal | None) -> Decimal | None:
    """`notional` × the directional return at the longest horizon scored, in USDT (before fees)."""
    if outcome is None or notional is None:
        return None
    for h in reversed(hs):
        ret = to_decimal(outcome.get(f"ret_{h}"))
        if ret is not None:
            return notional * ret / 100
    return None


def signals_frame(records: Sequence[Mapping[str, str]], limit: int = 200) -> pd.DataFrame:
    return signals_table(records, limit).frame


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


# ----------------------------------------------------------------------------------- tab summaries


def _wins(trades: Sequence[Trade]) -> int:
    return sum(1 for t in trades if t.pnl > 0)


def paper_summary(starting: Decimal, current: Decimal | None, trades: Sequence[Trade], total_trades: int | None = None,
                  current_help: str = "") -> list[MetricCard]:
    """Starting capital, current value, P&L in USDT and %, win rate, trades completed."""
    n = len(trades)
    pnl = (current - starting) if current is not None else sum((t.pnl for t in trades), ZERO)
    value = current if current is not None else starting + pnl
    wins = _wins(trades)
    return [
        MetricCard("Starting capital", f"{format_money(starting)} USDT"),
        MetricCard("Current value", f"{format_money(value)} USDT", current_help),
        MetricCard("P&L (USDT)", format_money(pnl, signed=True)),
        MetricCard("P&L %", format_pct(pnl / starting * 100 if starting else None, signed=True)),
        MetricCard("Win rate", NO_VALUE if not n else f"{Decimal(wins) / n * 100:.1f} %", f"{wins} of {n} trades"),
        MetricCard("Trades completed", f"{total_trades if total_trades is not None else n:,}"),
    ]


def ghost_summary(total_signals: str, ghost_trades: Sequence[Trade]) -> list[MetricCard]:
    """Signals, profitable if executed (count and %), average win and loss, expectancy: USDT per trade."""
    n = len(ghost_trades)
    wins = [t.pnl for t in ghost_trades if t.pnl > 0]
    losses = [t.pnl for t in ghost_trades if t.pnl <= 0]
    share = f" ({Decimal(len(wins)) / n * 100:.1f} %)" if n else ""
    return [
        MetricCard("Total signals", total_signals),
        MetricCard("Profitable if executed", f"{len(wins):,} of {n:,}{share}", "ghost trades that closed in profit"),
        MetricCard("Average win (USDT)", format_money(sum(wins, ZERO) / len(wins) if wins else None, signed=True)),
        MetricCard("Average loss (USDT)", format_money(sum(losses, ZERO) / len(losses) if losses else None, signed=True)),
        MetricCard("Expectancy (USDT/trade)", format_money(sum((t.pnl for t in ghost_trades), ZERO) / n if n else None,
                                                          signed=True)),
    ]


def quality_cards(metrics: Mapping[str, Any] | None, accuracy: Sequence[HorizonAccuracy]) -> list[MetricCard]:
    """Accuracy (longest horizon scored), profit factor, max drawdown, Sharpe — the last three the bot's own."""
    scored = [a for a in accuracy if a.accuracy is not None]
    cards = [MetricCard("Accuracy", f"{(scored[-1].accuracy or 0) * 100:.1f} %" if scored else NO_VALUE,
                        f"direction right at {scored[-1].horizon}" if scored else "no signal scored yet")]
    wanted = {"Profit factor", "Max drawdown", "Sharpe"}
    shown = {c.label: c for c in metric_cards(metrics) if c.label in wanted}
    for label in ("Profit factor", "Max drawdown", "Sharpe"):
        cards.append(shown.get(label, MetricCard(label, NO_VALUE, "not enough data yet")))
    return cards


BREAKDOWN_LAYOUT = {
    "Signals": Col(70, key=True, number=True), "Accuracy": Col(80, key=True, number=True),
    "Trades": Col(66, key=True, number=True), "Win rate": Col(76, key=True, number=True),
    "Expectancy": Col(96, key=True, number=True), "Net P&L (USDT)": Col(110, key=True, number=True),
    "Strategy": Col(150, key=True), "Symbol": Col(SYMBOL, key=True),
}


def breakdown_table(records: Sequence[Mapping[str, str]], trades: Sequence[Trade], by: str) -> Table:
    """Per strategy or symbol: signals, accuracy at the longest horizon, and the ghost trades' results."""
    if by not in ("strategy", "symbol"):
        raise ValueError(f"cannot break down by {by!r}: strategy or symbol")
    title = by.capitalize()
    hs = horizons(records)
    longest = hs[-1] if hs else None
    signals: dict[str, int] = {}
    scored: dict[str, list[bool]] = {}
    strategy_of = {r.get("signal_id"): r.get("strategy", "") for r in records if not is_outcome(r)}
    for r in records:
        if is_outcome(r):
            group = strategy_of.get(r.get("signal_id"), "") if by == "strategy" else r.get("symbol", "")
            verdict = _outcome_correct(r, longest) if longest else None
            if verdict is not None:
                scored.setdefault(group or "(none)", []).append(verdict)
        else:
            group = r.get(by, "") or "(none)"
            signals[group] = signals.get(group, 0) + 1
    by_group: dict[str, list[Trade]] = {}
    for t in trades:
        by_group.setdefault((t.strategy if by == "strategy" else t.symbol) or "(none)", []).append(t)
    rows = []
    for group in sorted(set(signals) | set(by_group) | set(scored)):
        ts = by_group.get(group, [])
        verdicts = scored.get(group, [])
        rows.append({
            title: group,
            "Signals": f"{signals.get(group, 0):,}",
            "Accuracy": f"{sum(verdicts) / len(verdicts) * 100:.1f} %" if verdicts else NO_VALUE,
            "Trades": f"{len(ts):,}",
            "Win rate": f"{Decimal(_wins(ts)) / len(ts) * 100:.1f} %" if ts else NO_VALUE,
            "Expectancy": format_money(sum((t.pnl for t in ts), ZERO) / len(ts) if ts else None, signed=True),
            "Net P&L (USDT)": format_money(sum((t.pnl for t in ts), ZERO), signed=True),
        })
    columns = [title, "Signals", "Accuracy", "Trades", "Win rate", "Expectancy", "Net P&L (USDT)"]
    return Table(pd.DataFrame(rows, columns=columns, dtype="string"), BREAKDOWN_LAYOUT)
