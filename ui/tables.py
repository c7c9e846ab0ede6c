"""Records from Redis as display tables: every money cell is a string made from a Decimal, never a float.

Pure functions of typed records (models) or the flat string dicts the streams hold; no Streamlit. Each
table comes with its column layout (`Table.columns`: widths in pixels, the first column pinned, numbers
right-aligned) so that its key columns fit the width a 1280 px screen leaves beside the sidebar.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from models import AuditEvent, Order, Position, Trade, TradeState
from ui.status import (
    NO_VALUE, format_decimal, format_money, format_pct, format_price, format_time, format_ts, to_decimal,
)

# What a 1280 px window leaves a table beside the open sidebar (the page's side padding is narrowed in
# dashboard.py): the key columns of every table fit in it.
KEY_WIDTH_PX = 860
TIME = 128  # "2026-12-01 11:59:49"
SYMBOL = 112  # "BTC/USDT:USDT", pinned


@dataclass(frozen=True, slots=True)
class Col:
    width: int
    key: bool = False  # must be visible without scrolling at 1280 px
    number: bool = False  # right-aligned


@dataclass(frozen=True, slots=True)
class Table:
    frame: pd.DataFrame
    layout: Mapping[str, Col] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def column_config(self) -> dict[str, dict[str, Any]]:
        """st.dataframe's column_config as plain dicts (no Streamlit import here): the first column pinned."""
        config: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(self.frame.columns):
            col = self.layout.get(name)
            if col is None:
                continue
            entry: dict[str, Any] = {"label": name, "width": col.width}
            if i == 0:
                entry["pinned"] = True
            if col.number:
                entry["alignment"] = "right"
            config[name] = entry
        return config

    def key_width_px(self) -> int:
        """Pixels from the left edge to the right edge of the last key column."""
        total = last = 0
        for name in self.frame.columns:
            col = self.layout.get(name)
            total += col.width if col else 150
            if col and col.key:
                last = total
        return last


def _layout(*columns: tuple[str, int, str]) -> dict[str, Col]:
    """(name, width, flags): flags 'k' key column, 'n' number."""
    return {name: Col(width, "k" in flags, "n" in flags) for name, width, flags in columns}


# --------------------------------------------------------------------------------------- positions

POSITION_LAYOUT = _layout(
    ("Symbol", SYMBOL, "k"), ("Side", 52, "k"), ("Qty", 70, "kn"), ("Entry", 88, "kn"), ("Price", 88, "kn"),
    ("P&L (USDT)", 86, "kn"), ("P&L %", 66, "kn"), ("Stop", 88, "kn"), ("Take-profit", 92, "kn"),
    ("Liq. price", 88, "n"), ("Margin", 80, "n"), ("Leverage", 66, "n"), ("Notional", 90, "n"),
    ("Opened (UTC)", TIME, ""),
)


def positions_table(positions: Sequence[Position], levels: Mapping[str, TradeState] | None = None,
                    places: Mapping[str, int | None] | None = None) -> Table:
    """Open positions with the bot's own stop and take-profit for each (from its open-trade memory)."""
    levels = levels or {}
    places = places or {}
    rows = []
    for p in positions:
        dp = places.get(p.symbol)
        level = levels.get(p.symbol)
        cost = p.qty * p.entry_price
        rows.append({
            "Symbol": p.symbol,
            "Side": p.side.value,
            "Qty": format_decimal(p.qty),
            "Entry": format_price(p.entry_price, dp),
            "Price": format_price(p.mark_price, dp) if p.mark_price else NO_VALUE,
            "P&L (USDT)": format_money(p.unrealized_pnl, signed=True),
            "P&L %": format_pct(p.unrealized_pnl / cost * 100 if cost else None, signed=True),
            "Stop": format_price(level.stop, dp) if level else NO_VALUE,
            "Take-profit": format_price(level.take_profit, dp) if level else NO_VALUE,
            "Liq. price": format_price(p.liquidation_price, dp, exact=False),
            "Margin": format_money(p.isolated_margin),
            "Leverage": f"{p.leverage}x",
            "Notional": format_money(p.notional),
            "Opened (UTC)": format_time(p.opened_ms or (level.entry_ms if level else 0)),
        })
    return Table(pd.DataFrame(rows, columns=list(POSITION_LAYOUT), dtype="string"), POSITION_LAYOUT)


def positions_frame(positions: Sequence[Position]) -> pd.DataFrame:
    return positions_table(positions).frame


# ------------------------------------------------------------------------------------------ orders

ORDER_LAYOUT = _layout(
    ("Symbol", SYMBOL, "k"), ("Side", 52, "k"), ("Type", 104, "k"), ("Qty", 70, "kn"), ("Price", 88, "kn"),
    ("Stop", 88, "kn"), ("Filled", 66, "kn"), ("Reduce-only", 62, "k"), ("Status", 80, "k"),
    ("Time (UTC)", TIME, ""), ("Client id", 220, ""),
)


def orders_table(orders: Sequence[Order], places: Mapping[str, int | None] | None = None) -> Table:
    places = places or {}
    rows = [
        {
            "Symbol": o.symbol,
            "Side": o.side.value,
            "Type": o.order_type.value,
            "Qty": format_decimal(o.qty),
            "Price": format_price(o.price, places.get(o.symbol)),
            "Stop": format_price(o.stop_price, places.get(o.symbol)),
            "Filled": format_decimal(o.filled_qty),
            "Reduce-only": "yes" if o.reduce_only else "no",
            "Status": o.status.value,
            "Time (UTC)": format_time(o.created_ms),
            "Client id": o.client_order_id,
        }
        for o in sorted(orders, key=lambda o: (o.symbol, o.created_ms))
    ]
    return Table(pd.DataFrame(rows, columns=list(ORDER_LAYOUT), dtype="string"), ORDER_LAYOUT)


def orders_frame(orders: Sequence[Order]) -> pd.DataFrame:
    return orders_table(orders).frame


# ------------------------------------------------------------------------------------------ trades


def format_duration_ms(ms: int) -> str:
    seconds = max(0, ms) // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


TRADE_LAYOUT = _layout(
    ("Symbol", SYMBOL, "k"), ("Side", 52, "k"), ("P&L (USDT)", 86, "kn"), ("Return", 70, "kn"),
    ("Fees", 66, "kn"), ("Exit reason", 134, "k"), ("Held", 74, "kn"), ("Entry", 88, "kn"), ("Exit", 88, "kn"),
    ("Entry time (UTC)", TIME, ""), ("Exit time (UTC)", TIME, ""), ("Qty", 70, "n"), ("Strategy", 120, ""),
)
TRADE_SORTS = ("Exit time", "P&L", "Return", "Held", "Fees")


def sort_trades(trades: Sequence[Trade], by: str = "Exit time", descending: bool = True) -> list[Trade]:
    """On the Decimal values, not their text ('+10.00' sorts after '+9.00')."""
    keys = {
        "Exit time": lambda t: t.exit_ms,
        "P&L": lambda t: t.pnl,
        "Return": lambda t: t.return_pct,
        "Held": lambda t: t.hold_ms,
        "Fees": lambda t: t.fees,
    }
    if by not in keys:
        raise ValueError(f"cannot sort trades by {by!r}: choose one of {', '.join(keys)}")
    return sorted(trades, key=keys[by], reverse=descending)


@functools.lru_cache(maxsize=20_000)
def _trade_row(t: Trade, places: int | None) -> tuple[str, ...]:
    """One trade's cells; a trade never changes, so each is formatted once (refreshes add new rows only)."""
    return (
        t.symbol, t.side.value, format_money(t.pnl, signed=True), format_pct(t.return_pct, signed=True),
        format_money(t.fees), t.exit_reason.value, format_duration_ms(t.hold_ms), format_price(t.entry_price, places),
        format_price(t.exit_price, places), format_time(t.entry_ms), format_time(t.exit_ms), format_decimal(t.qty),
        t.strategy or NO_VALUE,
    )


def trades_table(trades: Sequence[Trade], places: Mapping[str, int | None] | None = None, *,
                 presorted: bool = False) -> Table:
    """Newest exit first unless `presorted`."""
    places = places or {}
    ordered = trades if presorted else sort_trades(trades)
    rows = [_trade_row(t, places.get(t.symbol)) for t in ordered]
    return Table(pd.DataFrame(rows, columns=list(TRADE_LAYOUT), dtype="string"), TRADE_LAYOUT)


def trades_frame(trades: Sequence[Trade]) -> pd.DataFrame:
    return trades_table(trades).frame


def trades_csv(trades: Sequence[Trade]) -> str:
    """Every field exactly as stored (Decimal text, epoch ms and UTC times), one row per trade."""
    rows = [
        {
            "trade_id": t.trade_id, "symbol": t.symbol, "side": t.side.value, "qty": format(t.qty, "f"),
            "entry_time_utc": format_time(t.entry_ms), "entry_ms": t.entry_ms,
            "entry_price": format(t.entry_price, "f"), "exit_time_utc": format_time(t.exit_ms),
            "exit_ms": t.exit_ms, "exit_price": format(t.exit_price, "f"), "held_s": t.hold_ms // 1000,
            "gross_pnl": format(t.gross_pnl, "f"), "fees": format(t.fees, "f"), "funding": format(t.funding, "f"),
            "pnl": format(t.pnl, "f"), "return_pct": format(t.return_pct.quantize(Decimal("0.0001")), "f"),
            "exit_reason": t.exit_reason.value, "strategy": t.strategy, "mode": t.mode.value,
        }
        for t in trades
    ]
    return pd.DataFrame(rows).to_csv(index=False)


# ---------------------------------------------------------------------------------- decision log

AUDIT_LOGGED = "Logged (UTC, wall clock)"
AUDIT_LAYOUT = _layout((AUDIT_LOGGED, 150, "k"), ("Kind", 90, "k"), ("Symbol", SYMBOL, "k"), ("Message", 480, "k"))


def audit_symbol(event: AuditEvent) -> str:
    symbol = event.data.get("symbol") if isinstance(event.data, Mapping) else None
    return str(symbol) if symbol else ""


def audit_table(events: Iterable[AuditEvent]) -> Table:
    """In the order given (the decision log pages through time itself)."""
    rows = [
        {AUDIT_LOGGED: format_time(e.logged_ms or e.ts_ms), "Kind": e.kind, "Symbol": audit_symbol(e) or NO_VALUE,
         "Message": e.message}
        for e in events
    ]
    return Table(pd.DataFrame(rows, columns=list(AUDIT_LAYOUT), dtype="string"), AUDIT_LAYOUT)


def audit_frame(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """Newest first, in the order the store logged them (`events` come oldest first): the writers' own
    stamps are market time in the engine and wall time in the supervisor, so they do not sort."""
    return audit_table(list(reversed(list(events)))).frame


# ------------------------------------------------------------------------------------- key/value

KEY_VALUE_LAYOUT = _layout(("Measure", 260, "k"), ("Limit", 260, "k"), ("Item", 260, "k"), ("Value", 220, "kn"))


def key_value_table(report: Mapping[str, Any], *, name: str = "Item") -> Table:
    rows = [{name: humanise(key), "Value": display_value(value, key)} for key, value in sorted(report.items())]
    return Table(pd.DataFrame(rows, columns=[name, "Value"], dtype="string"), KEY_VALUE_LAYOUT)


def key_value_frame(report: Mapping[str, Any], *, name: str = "Item") -> pd.DataFrame:
    """A hash (risk report, metrics) as two string columns, keys made readable."""
    return key_value_table(report, name=name).frame


_EPOCH_MS_MIN = 10**12  # 2001-09-09: anything smaller is a duration, not a time
# Keys whose values are USDT amounts: shown with two decimals and thousands separators
_MONEY_WORDS = ("pnl", "equity", "balance", "margin_used", "available", "notional", "fees", "wallet", "loss_usdt")


def humanise(key: str) -> str:
    if key == "ts_ms":
        return "Updated"
    text = key.replace("_", " ").strip()
    text = " ".join("P&L" if word == "pnl" else word for word in text.split(" "))
    for suffix, unit in ((" pct", " (%)"), (" at ms", ""), (" ms", " (ms)"), (" usdt", " (USDT)")):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
    return text[:1].upper() + text[1:]


def is_money_key(key: str) -> bool:
    lowered = key.lower()
    return not lowered.endswith("_pct") and any(word in lowered for word in _MONEY_WORDS)


def display_value(value: Any, key: str = "") -> str:
    if value is None or value == "":
        return NO_VALUE
    if key == "ts_ms" or key.endswith("_at_ms"):
        ms = to_decimal(value)
        if ms is not None and ms >= _EPOCH_MS_MIN:
            return format_ts(int(ms))
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "yes" if value else "no"
    amount = to_decimal(value)
    if amount is not None and amount.is_finite() and not isinstance(value, bool):
        if is_money_key(key):
            return format_money(amount, signed="pnl" in key.lower())
        if key.lower().endswith("_pct"):
            return format_pct(amount)
    if isinstance(value, float):
        return f"{value:,.4g}"
    if amount is not None and isinstance(value, str) and "." in value:
        return format_decimal(amount)
    return str(value)
