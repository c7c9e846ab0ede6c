"""Reading commands off the stream: anything may be on it, so everything is checked.

A command is a stream entry with fields `command_id`, `type`, `issued_at_ms`, `issued_by` and `args`
(a JSON object). Whatever does not parse is turned into a `Rejection` with a reason; nothing here
raises on bad input, so garbage on the stream can never crash a reader.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from models import Command, CommandType, Mode, Side

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,10}(:[A-Z0-9]{1,10})?$")
MAX_NOTIONAL = Decimal("10000000")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A command that cannot be run. `command_id` falls back to the stream entry id when missing."""

    command_id: str
    reason: str
    type: str = ""


def _size(fields: Mapping[str, Any]) -> int:
    return sum(len(str(k)) + len(str(v)) for k, v in fields.items())


def parse_command(entry_id: str, fields: Mapping[str, Any], *, max_bytes: int) -> Command | Rejection:
    fallback_id = f"entry:{entry_id}"
    raw_id = fields.get("command_id")
    command_id = raw_id if isinstance(raw_id, str) and _ID.match(raw_id) else fallback_id
    raw_type = str(fields.get("type", ""))[:32]

    def reject(reason: str) -> Rejection:
        return Rejection(command_id, reason, raw_type)

    size = _size(fields)
    if size > max_bytes:
        return reject(f"command too large: {size} bytes > {max_bytes}")
    if command_id == fallback_id:
        return reject("missing or malformed command_id (1-64 chars of A-Z a-z 0-9 _ . : -)")
    try:
        command_type = CommandType(raw_type)
    except ValueError:
        known = ", ".join(t.value for t in CommandType)
        return reject(f"unknown command type {raw_type!r} (known: {known})")
    try:
        issued_at_ms = int(fields.get("issued_at_ms", ""))
    except (TypeError, ValueError):
        return reject("missing or malformed issued_at_ms (epoch milliseconds)")
    issued_by = fields.get("issued_by")
    if not isinstance(issued_by, str) or not 0 < len(issued_by) <= 64:
        return reject("missing issued_by")
    raw_args = fields.get("args") or "{}"
    try:
        args = json.loads(raw_args)
    except (TypeError, ValueError):
        return reject("args is not valid JSON")
    if not isinstance(args, dict):
        return reject("args must be a JSON object")
    problem = _check_args(command_type, args)
    if problem:
        return reject(problem)
    return Command(command_id, command_type, issued_at_ms, issued_by, args)


def _check_args(command_type: CommandType, args: dict[str, Any]) -> str | None:
    if command_type is CommandType.START:
        mode = args.get("mode", "ghost")
        if mode not in {m.value for m in Mode}:
            return f"start: mode must be ghost, paper or live, not {mode!r}"
    if command_type in (CommandType.CLOSE, CommandType.OPEN):
        symbol = args.get("symbol")
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            return f"{command_type.value}: symbol must look like BTC/USDT:USDT, not {symbol!r}"
    if command_type is CommandType.OPEN:
        if args.get("side") not in {s.value for s in Side}:
            return f"open: side must be long or short, not {args.get('side')!r}"
        try:
            notional = Decimal(str(args.get("notional")))
        except (InvalidOperation, ValueError):
            return f"open: notional must be a number of USDT, not {args.get('notional')!r}"
        if not notional.is_finite() or notional <= 0 or notional > MAX_NOTIONAL:
            return f"open: notional must be above 0 and at most {MAX_NOTIONAL}, not {args.get('notional')!r}"
    return None


def is_stale(command: Command, now_ms: int, max_age_s: float) -> bool:
    return now_ms - command.issued_at_ms > max_age_s * 1000


# Who runs what. The supervisor also runs the bot's safety commands when the bot cannot.
BOT_COMMANDS = frozenset({CommandType.HALT, CommandType.RESUME, CommandType.CLOSE_ALL, CommandType.CLOSE, CommandType.OPEN, CommandType.STOP})
SUPERVISOR_COMMANDS = frozenset({CommandType.START})
TAKEOVER_COMMANDS = frozenset({CommandType.HALT, CommandType.CLOSE_ALL, CommandType.CLOSE, CommandType.STOP})
