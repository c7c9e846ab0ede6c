"""Which records raise an alert, and what it says.

A record raises at most one alert, keyed by the record (so a record copied twice alerts once). Three
sources, all of them records that exist anyway:

- any audit event whose data names an alert: `data["alert"] = "<kind>"` (the supervisor's lifecycle
  events, the state guard's state lost, the risk monitor's liquidation danger, the go-live approval, a
  gap in the market data…);
- a trading-state change to HALTED, by its cause (loss limit, circuit breaker, crash loop);
- a command's final outcome: HALT and the kill switch (CLOSE_ALL), with who asked, why and the result;
- a fill (audit kind "fill"): live fills on by default, paper fills off.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping


class AlertKind(str, enum.Enum):
    BOT_STARTED = "bot_started"
    BOT_STOPPED = "bot_stopped"
    BOT_CRASHED = "bot_crashed"
    BOT_UNRESPONSIVE = "bot_unresponsive"
    HALT = "halt"
    KILL_SWITCH = "kill_switch"
    LOSS_LIMIT = "loss_limit"
    LIQUIDATION_RISK = "liquidation_risk"
    LIQUIDATION_CLOSE = "liquidation_close"
    CIRCUIT_BREAKER = "circuit_breaker"
    STATE_LOST = "state_lost"
    GO_LIVE_APPROVAL = "go_live_approval"
    LIVE_FILL = "live_fill"
    PAPER_FILL = "paper_fill"
    DAILY_SUMMARY = "daily_summary"
    DATA_GAP = "data_gap"


class Delivery(str, enum.Enum):
    ON = "on"  # sent
    SILENT = "silent"  # recorded in the journal's alert list (and shown), not sent
    OFF = "off"  # neither


DEFAULT_DELIVERY: dict[AlertKind, Delivery] = {kind: Delivery.ON for kind in AlertKind} | {
    AlertKind.PAPER_FILL: Delivery.OFF,  # a paper bot fills often; nobody wants a message for each
}

# trading-state causes (models.HaltCause values) that are alerts of their own when they halt the bot
_HALT_CAUSES = {
    "loss_limit": AlertKind.LOSS_LIMIT,
    "daily_loss_limit": AlertKind.LOSS_LIMIT,
    "weekly_loss_limit": AlertKind.LOSS_LIMIT,
    "circuit_breaker": AlertKind.CIRCUIT_BREAKER,
    "crash_loop": AlertKind.BOT_CRASHED,
}  # state_lost: the state guard's own audit names its alert (it may find the bot halted already)
_COMMANDS = {"halt": AlertKind.HALT, "close-all": AlertKind.KILL_SWITCH}
_FINAL = {"done", "failed"}


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    title: str
    body: str


def _title(kind: AlertKind, bot_id: str, mode: str) -> str:
    return f"[{bot_id} {mode}] {kind.value.replace('_', ' ')}"


def alert_for(stream: str, fields: Mapping[str, Any], *, bot_id: str, mode: str) -> Alert | None:
    """The alert a journal record raises, or None. `fields` are the stream entry's; an audit entry's
    `data` may still be its JSON text."""
    if stream != "audit":
        return None
    data = fields.get("data") or {}
    if isinstance(data, str):
        import json

        try:
            data = json.loads(data or "{}")
        except ValueError:
            data = {}
    if not isinstance(data, Mapping):
        data = {}
    message = str(fields.get("message", ""))
    audit_kind = fields.get("kind", "")
    named = data.get("alert")
    if named in AlertKind._value2member_map_:
        kind = AlertKind(named)
        return Alert(kind, _title(kind, bot_id, mode), message)
    # a halt for one of these causes is news even on top of another halt (a loss limit over an operator's)
    if audit_kind == "state" and str(data.get("current", "")).lower() == "halted":
        cause = str(data.get("cause", ""))
        if cause in _HALT_CAUSES:
            kind = _HALT_CAUSES[cause]
            return Alert(kind, _title(kind, bot_id, mode), message)
    if audit_kind == "command" and data.get("type") in _COMMANDS and data.get("status") in _FINAL:
        kind = _COMMANDS[str(data["type"])]
        args = data.get("args") or {}
        why = args.get("reason") if isinstance(args, Mapping) else None
        body = f"by {data.get('by', '?')}" + (f", because: {why}" if why else "") + f" — {data['status']}: {message}"
        return Alert(kind, _title(kind, bot_id, mode), body)
    if audit_kind == "fill":
        kind = AlertKind.LIVE_FILL if (data.get("mode") or mode) == "live" else AlertKind.PAPER_FILL
        return Alert(kind, _title(kind, bot_id, mode), message)
    return None
