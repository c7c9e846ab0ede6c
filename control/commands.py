"""Reading commands off the stream: anything may be on it, so everything is checked.

A command is a stream entry with fields `command_id`, `type`, `issued_at_ms`, `issued_by` and `args`
(a JSON object). Whatever does not parse is turned into a `Rejection` with a reason; nothing here
raises on bad input, so garbage on the stream can never crash a reader.

Bounds come before any decoding, so that no input can cost more than a few tens of microseconds:
at most `MAX_FIELDS` fields and `max_bytes` in all (checked on lengths alone), `args` nested at most
`MAX_ARGS_DEPTH` levels (checked with regular expressions before json.loads, whose recursion would
otherwise raise RecursionError on `[[[[…`), numbers at most `MAX_NUMBER_CHARS` long and read as
Decimal (`1e999999` is not a float infinity), and no NaN or Infinity.
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
_EPOCH_MS = re.compile(r"^[0-9]{1,15}$")
MAX_NOTIONAL = Decimal("10000000")
MAX_FIELDS = 16  # a command has 5; more is garbage, rejected before any field is read
MAX_ARGS_DEPTH = 4  # args are flat objects today; a little room, nowhere near json's recursion limit
MAX_NUMBER_CHARS = 40  # Decimal('1e' + 8000 digits) raises; int() of 5000 digits raises too

# A JSON string literal, escapes included (unrolled, so a long string is one fast run): brackets inside
# strings do not nest.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A command that cannot be run. `command_id` falls back to the stream entry id when missing."""

    command_id: str
    reason: str
    type: str = ""


class _BadArgs(ValueError):
    """Raised by the json.loads hooks below; caught in this module, never escapes it."""


def _size(fields: Mapping[str, Any]) -> int:
    return sum(len(str(k)) + len(str(v)) for k, v in fields.items())


def nested_deeper_than(text: str, limit: int) -> bool:
    """True when the JSON in `text` nests arrays/objects more than `limit` levels deep.

    Strings blanked, everything but brackets dropped, then each pass removes the innermost pairs, all
    at C speed: `limit` passes leave nothing behind exactly when the nesting is at most `limit`. Of
    unbalanced text (`[[[[…` never closed, which json.loads would recurse into as deeply) what cannot
    be paired is counted: more than `limit` openers is too deep; fewer is left for json.loads to
    reject as invalid."""
    if text.count("[") + text.count("{") <= limit:
        return False
    if '"' in text:
        text = _JSON_STRING.sub("", text)
    # for depth alone an object is an array: json.loads recurses into both alike
    brackets = _NOT_BRACKET.sub("", text).replace("{", "[").replace("}", "]")
    for _ in range(limit):
        paired = brackets.replace("[]", "")
        if len(paired) == len(brackets):
            return paired.count("[") > limit
        brackets = paired
    return bool(brackets)


def _short_number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise _BadArgs(f"args: a number is longer than {MAX_NUMBER_CHARS} characters ({text[:12]}…)")
    return text


def _int(text: str) -> int:
    return int(_short_number(text))


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(_short_number(text))
    except InvalidOperation:
        raise _BadArgs(f"args: {text!r} is not a number") from None


def _no_constant(name: str) -> Any:
    raise _BadArgs(f"args: {name} is not allowed (numbers must be finite)")


def load_args(raw: str, *, max_depth: int = MAX_ARGS_DEPTH) -> dict[str, Any] | str:
    """`args` decoded, or the reason it cannot be. Money comes out as Decimal, never float."""
    if nested_deeper_than(raw, max_depth):
        return f"args nested deeper than {max_depth} levels"
    try:
        args = json.loads(raw, parse_float=_decimal, parse_int=_int, parse_constant=_no_constant)
    except _BadArgs as exc:
        return str(exc)
    except RecursionError:  # unreachable after the depth check; kept so no input can ever raise
        return f"args nested deeper than {max_depth} levels"
    except (TypeError, ValueError):
        return "args is not valid JSON"
    if not isinstance(args, dict):
        return "args must be a JSON object"
    return args


def parse_command(entry_id: str, fields: Mapping[str, Any], *, max_bytes: int) -> Command | Rejection:
    fallback_id = f"entry:{entry_id}"
    raw_id = fields.get("command_id")
    command_id = raw_id if isinstance(raw_id, str) and _ID.fullmatch(raw_id) else fallback_id
    raw_type = str(fields.get("type", ""))[:32]

    def reject(reason: str) -> Rejection:
        return Rejection(command_id, reason, raw_type)

    if len(fields) > MAX_FIELDS:
        return reject(f"command has {len(fields)} fields (at most {MAX_FIELDS})")
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
    raw_issued = fields.get("issued_at_ms")
    if not isinstance(raw_issued, str) or not _EPOCH_MS.fullmatch(raw_issued):
        return reject("missing or malformed issued_at_ms (epoch milliseconds)")
    issued_at_ms = int(raw_issued)
    issued_by = fields.get("issued_by")
    if not isinstance(issued_by, str) or not 0 < len(issued_by) <= 64:
        return reject("missing issued_by")
    raw_args = fields.get("args") or "{}"
    if not isinstance(raw_args, str):
        return reject("args is not valid JSON")
    args = load_args(raw_args)
    if isinstance(args, str):
        return reject(args)
    problem = _check_args(command_type, args)
    if problem:
        return reject(problem)
    return Command(command_id, command_type, issued_at_ms, issued_by, args)


def _check_args(command_type: CommandType, args: dict[str, Any]) -> str | None:
    if command_type is CommandType.START:
        mode = args.get("mode", "ghost")
        if mode not in [m.value for m in Mode]:  # a list: an unhashable value (an object) is refused, not raised
            return f"start: mode must be ghost, paper or live, not {mode!r}"
    if command_type in (CommandType.CLOSE, CommandType.OPEN):
        symbol = args.get("symbol")
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            return f"{command_type.value}: symbol must look like BTC/USDT:USDT, not {symbol!r}"
    if command_type is CommandType.OPEN:
        if args.get("side") not in [s.value for s in Side]:  # a list, as above
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
# Run before anything queued ahead of them: a flood on the stream must not delay the kill switch.
URGENT_COMMANDS = frozenset({CommandType.CLOSE_ALL, CommandType.HALT})
URGENT_TYPES = frozenset(t.value for t in URGENT_COMMANDS)
