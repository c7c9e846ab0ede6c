"""Client order ids: what an order is for, written into its id.

Binance allows 36 characters of [A-Za-z0-9.:/_-]. Ids are deterministic per trade, so re-sending
after a crash reuses the id and the venue refuses a duplicate; the suffix says what the order was
for (entry, stop, take-profit, exit with its reason), so a fill read back after a restart, or made by
the supervisor's kill switch, is booked with the right exit reason.
"""

from __future__ import annotations

import re

from models import ExitReason, Side

_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_REASON_CODES = {reason: f"{i:02d}" for i, reason in enumerate(ExitReason)}
_CODE_REASONS = {code: reason for reason, code in _REASON_CODES.items()}


def make_trade_id(symbol: str, ts_ms: int, side: Side) -> str:
    """Deterministic per signal candle: the same candle processed twice gives the same id."""
    return f"{symbol_code(symbol)}{ts_ms // 1000}{side.value[0].upper()}"


def adopted_trade_id(symbol: str, now_ms: int) -> str:
    """A position found at the venue that no one remembered: a new id per adoption (never reused)."""
    return f"ad{symbol_code(symbol)}{now_ms}"


def symbol_code(symbol: str) -> str:
    return _UNSAFE.sub("", symbol.split("/")[0])[:8]


def entry_order_id(trade_id: str) -> str:
    return f"{trade_id}-en"


def stop_order_id(trade_id: str, generation: int = 0) -> str:
    return f"{trade_id}-sl{generation}"


def take_profit_order_id(trade_id: str) -> str:
    return f"{trade_id}-tp"


def exit_order_id(trade_id: str, reason: ExitReason, attempt: int = 0) -> str:
    return f"{trade_id}-x{_REASON_CODES[reason]}{attempt}"


def is_entry(client_order_id: str) -> bool:
    return client_order_id.endswith("-en")


def exit_kind(client_order_id: str) -> str | ExitReason | None:
    """'stop' for a stop order (its reason depends on the trade's flags), else the exit reason, or None."""
    if client_order_id.startswith("liq"):
        return ExitReason.LIQUIDATION
    suffix = client_order_id.rsplit("-", 1)[-1]
    if suffix.startswith("sl"):
        return "stop"
    if suffix == "tp":
        return ExitReason.TAKE_PROFIT
    if suffix.startswith("x") and suffix[1:3] in _CODE_REASONS:
        return _CODE_REASONS[suffix[1:3]]
    return None
