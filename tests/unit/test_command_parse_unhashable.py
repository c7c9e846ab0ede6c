"""Bad input on the command stream is refused, never raised: an object or a list where a word is expected."""

from __future__ import annotations

import json

import pytest

from control.commands import Rejection, parse_command


def entry(type_: str, args: dict) -> dict[str, str]:
    return {"command_id": "c1", "type": type_, "issued_at_ms": "1700000000000", "issued_by": "attacker",
            "args": json.dumps(args)}


@pytest.mark.parametrize("type_, args, reason", [
    ("open", {"symbol": "ETH/USDT:USDT", "side": {"long": 1}, "notional": 10}, "open: side must be long or short"),
    ("open", {"symbol": "ETH/USDT:USDT", "side": ["long"], "notional": 10}, "open: side must be long or short"),
    ("start", {"mode": {"live": True}}, "start: mode must be ghost, paper or live"),
    ("start", {"mode": ["live"]}, "start: mode must be ghost, paper or live"),
])
def test_parse_when_a_word_is_an_object_or_a_list_then_rejected_with_its_reason(type_, args, reason):
    """DEFECT (medium): `x not in {set}` hashes x, so an object or a list as `side` (open) or `mode` (start) raised
    TypeError out of parse_command: the command got no result at all (its sender waits in vain) and the reader
    logged a traceback for it."""
    parsed = parse_command("1-0", entry(type_, args), max_bytes=8192)

    assert isinstance(parsed, Rejection) and parsed.reason.startswith(reason), parsed
