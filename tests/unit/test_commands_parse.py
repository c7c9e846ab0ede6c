"""Parsing commands off the stream: hostile input is rejected with a reason, fast, and never raises."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from control.commands import MAX_ARGS_DEPTH, MAX_FIELDS, Rejection, nested_deeper_than, parse_command
from models import Command, CommandType

MAX_BYTES = 8192


def fields(type_: str = "open", args: str | None = None, **extra: str) -> dict[str, str]:
    base = {"command_id": "c1", "type": type_, "issued_at_ms": "1700000000000", "issued_by": "test"}
    if args is not None:
        base["args"] = args
    return base | extra


def parse(f: dict) -> Command | Rejection:
    return parse_command("1-0", f, max_bytes=MAX_BYTES)


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def open_args(notional: str) -> str:
    return '{"symbol": "BTC/USDT:USDT", "side": "long", "notional": ' + notional + "}"


@pytest.mark.parametrize(
    ("depth", "too_deep"),
    [(0, False), (1, False), (MAX_ARGS_DEPTH, False), (MAX_ARGS_DEPTH + 1, True), (50, True)],
)
def test_nested_deeper_than_when_at_the_depth_boundary_then_only_deeper_is_refused(depth, too_deep):
    assert nested_deeper_than(nested(depth), MAX_ARGS_DEPTH) is too_deep


def test_nested_deeper_than_when_brackets_are_inside_strings_then_they_do_not_count():
    text = json.dumps({"note": "[[[[[[[[{{{{{{{{ \\\" ]]]]"})

    assert nested_deeper_than(text, MAX_ARGS_DEPTH) is False


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ("[" * 4000 + "]" * 4000, "nested deeper than"),  # json.loads raised RecursionError on this
        ("[" * 4000, "nested deeper than"),  # never closed: json.loads would recurse as deep
        ('{"symbol": "BTC/USDT:USDT"', "not valid json"),
        (nested(MAX_ARGS_DEPTH + 1), "nested deeper than"),
        (open_args("NaN"), "nan is not allowed"),
        (open_args("Infinity"), "infinity is not allowed"),
        (open_args("-Infinity"), "infinity is not allowed"),
        (open_args("1e999999"), "notional must be above 0 and at most"),  # a finite Decimal, not float inf
        (open_args("1e" + "9" * 50), "longer than"),  # Decimal() raised InvalidOperation on this
        (open_args("9" * 5000), "longer than"),  # int() raised ValueError beyond 4300 digits
        ('"a string"', "must be a json object"),
        ("{'single': 'quotes'}", "not valid json"),
    ],
)
def test_parse_when_args_are_hostile_then_rejected_with_a_reason(args, reason):
    result = parse(fields("open", args))

    assert isinstance(result, Rejection), result
    assert reason in result.reason.lower(), result.reason
    assert result.command_id == "c1"


@pytest.mark.parametrize(
    ("issued_at_ms", "ok"),
    [("1700000000000", True), ("0", True), ("", False), ("-5", False), ("1e12", False), ("1700000000000\n", False),
     ("9" * 16, False), ("9" * 5000, False)],
)
def test_parse_when_issued_at_ms_is_at_its_bounds_then_only_epoch_digits_pass(issued_at_ms, ok):
    result = parse(fields("halt", issued_at_ms=issued_at_ms))

    assert isinstance(result, Command) is ok, result


def test_parse_when_an_entry_has_more_fields_than_a_command_then_rejected_before_reading_them():
    f = fields("halt") | {f"x{i}": "y" for i in range(MAX_FIELDS)}

    result = parse(f)

    assert isinstance(result, Rejection) and "fields" in result.reason


def test_parse_when_the_command_id_ends_in_a_newline_then_it_is_not_taken_as_an_id():
    result = parse(fields("halt", command_id="abc\n"))

    assert isinstance(result, Rejection) and result.command_id == "entry:1-0"


def test_parse_when_args_carry_a_decimal_notional_then_it_stays_decimal():
    result = parse(fields("open", open_args("250.10")))

    assert isinstance(result, Command) and result.type is CommandType.OPEN
    assert result.args["notional"] == Decimal("250.10") and isinstance(result.args["notional"], Decimal)


@pytest.mark.parametrize(
    "args",
    [
        "[" * 4000 + "]" * 4000,
        nested(MAX_ARGS_DEPTH + 1) * 100,
        '{"a": "' + "[" * 8000 + '"}',
        open_args("9" * 8000),
        "[" * 8000,
    ],
    ids=["deep_array", "many_deep_objects", "brackets_in_a_string", "long_number", "unbalanced"],
)
def test_parse_when_the_worst_input_within_the_size_cap_then_a_rejection_with_a_reason(args):
    # its cost (well under a millisecond) is a benchmark figure, not a timed test: this machine is shared
    result = parse(fields("open", args[: MAX_BYTES - 200]))

    assert isinstance(result, Rejection) and result.reason
