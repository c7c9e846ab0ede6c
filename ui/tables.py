"""Records from Redis as display tables: every money cell is a string made from a Decimal, never a float.

Pure functions of typed records (models) or the flat string dicts the streams hold; no Streamlit.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from models import AuditEvent, Order, Position, Trade
from ui.status import NO_VALUE, format_decimal, format_money, format_pct, format_ts, to_decimal

POSITION_COLUMNS = [
    "Symbol", "Side", "Qty", "Entry", "Mark", "Notional", "Unrealised P&L", "Margin", "Liq. price", "Leverage", "Opened",
]
ORDER_COLUMNS = ["Time", "Symbol", "Side", "Type", "Qty", "Filled", "Price", "Stop", "Reduce-only", "Status", "Client id"]
TRADE_COLUMNS = [
    "Exit time", "Symbol", "Side", "Qty", "Entry", "Exit", "P&L", "Return", "Fees", "Exit reason", "Strategy", "Held",
]
AUDIT_LOGGED = "Logged (UTC, wall clock)"
AUDIT_COLUMNS = [AUDIT_LOGGED, "Kind", "Message"]


def positions_frame(positions: Sequence[Position]) -> pd.DataFrame:
    rows = [
        {
            "Symbol": p.symbol,
            "Side": p.side.value,
            "Qty": format_decimal(p.qty),
            "Entry": format_decimal(p.entry_price),
            "Mark": format_decimal(p.mark_price) if p.mark_price else NO_VALUE,
            "Notional": format_money(p.notional),
            "Unrealised P&L": format_money(p.unrealized_pnl, signed=True),
            "Margin": format_money(p.isolated_margin),
            "Liq. price": format_decimal(p.liquidation_price),
            "Leverage": f"{p.leverage}x",
            "Opened": format_ts(p.opened_ms),
        }
        for p in positions
    ]
    return pd.DataFrame(rows, columns=POSITION_COLUMNS, dtype="string")


def orders_frame(orders: Sequence[Order]) -> pd.DataFrame:
    rows = [
        {
            "Time": format_ts(o.created_ms),
            "Symbol": o.symbol,
            "Side": o.side.value,
            "Type": o.order_type.value,
            "Qty": format_decimal(o.qty),
            "Filled": format_decimal(o.filled_qty),
            "Price": format_decimal(o.price),
            "Stop": format_decimal(o.stop_price),
            "Reduce-only": "yes" if o.reduce_only else "no",
            "Status": o.status.value,
            "Client id": o.client_order_id,
        }
        for o in orders
    ]
    return pd.DataFrame(rows, columns=ORDER_COLUMNS, dtype="string")


def format_duration_ms(ms: int) -> str:
    seconds = max(0, ms) // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def trades_frame(trades: Sequence[Trade]) -> pd.DataFrame:
    """Newest first."""
    rows = [
        {
            "Exit time": format_ts(t.exit_ms),
            "Symbol": t.symbol,
            "Side": t.side.value,
            "Qty": format_decimal(t.qty),
            "Entry": format_decimal(t.entry_price),
            "Exit": format_decimal(t.exit_price),
            "P&L": format_money(t.pnl, signed=True),
            "Return": format_pct(t.return_pct),
            "Fees": format_money(t.fees, 4),
            "Exit reason": t.exit_reason.value,
            "Strategy": t.strategy or NO_VALUE,
            "Held": format_duration_ms(t.hold_ms),
        }
        for t in sorted(trades, key=lambda t: t.exit_ms, reverse=True)
    ]
    return pd.DataFrame(rows, columns=TRADE_COLUMNS, dtype="string")


def audit_frame(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """Newest first, in the order the store logged them (`events` come oldest first), with the store's own
    time: the engine stamps market time and the supervisor wall time, so sorting by those stamps put a kill
    switch at row 191 of 200 behind a replay running ahead of the wall clock."""
    rows = [
        {AUDIT_LOGGED: format_ts(e.logged_ms or e.ts_ms), "Kind": e.kind, "Message": e.message}
        for e in reversed(list(events))
    ]
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS, dtype="string")


def key_value_frame(report: Mapping[str, Any], *, name: str = "Item") -> pd.DataFrame:
    """A hash (risk report, metrics) as two string columns, keys made readable."""
    rows = [{name: humanise(key), "Value": display_value(value, key)} for key, value in sorted(report.items())]
    return pd.DataFrame(rows, columns=[name, "Value"], dtype="string")


_EPOCH_MS_MIN = 10**12  # 2001-09-09: anything smaller is a duration, not a time


def humanise(key: str) -> str:
    if key == "ts_ms":
        return "Updated"
    text = key.replace("_", " ").strip()
    text = " ".join("P&L" if word == "pnl" else word for word in text.split(" "))
    for suffix, unit in ((" pct", " (%)"), (" at ms", ""), (" ms", " (ms)"), (" usdt", " (USDT)")):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
    return text[:1].upper() + text[1:]


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
    if isinstance(value, float):
        return f"{value:,.4g}"
    amount = to_decimal(value)
    if amount is not None and isinstance(value, str) and "." in value:
        return format_decimal(amount)
    return str(value)
