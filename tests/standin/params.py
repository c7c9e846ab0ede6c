"""Reading Binance request parameters: one clear Binance error for each missing or malformed one."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from tests.standin.replies import error, mandatory

_NUMBER = re.compile(r"^-?([0-9]{1,20})(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def decimal(query: dict, name: str, required: bool = True) -> Decimal | None:
    raw = query.get(name)
    if raw in (None, ""):
        if required:
            raise mandatory(name)
        return None
    if not _NUMBER.match(raw):
        raise error(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise error(400, -1100, f"Illegal characters found in parameter '{name}'.") from None


def integer(query: dict, name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise error(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.") from None


def boolean(query: dict, name: str) -> bool:
    raw = str(query.get(name, "false")).lower()
    if raw not in ("true", "false"):
        raise error(400, -1130, f"Data sent for parameter '{name}' is not valid.")
    return raw == "true"


def client_id(query: dict, name: str) -> str | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    if not _CLIENT_ID.match(raw):
        raise error(400, -4015, "Client order id is not valid.")
    return raw


def side(query: dict) -> str:
    raw = query.get("side")
    if not raw:
        raise mandatory("side")
    if raw not in ("BUY", "SELL"):
        raise error(400, -1117, "Invalid side.")
    return raw


def time_window(query: dict, default_limit: int, max_limit: int) -> tuple[int | None, int | None, int]:
    start, end = integer(query, "startTime"), integer(query, "endTime")
    limit = integer(query, "limit", default_limit)
    assert limit is not None
    if not 1 <= limit <= max_limit:
        raise error(400, -1130, "Data sent for parameter 'limit' is not valid.")
    return start, end, limit


def symbol(query: dict) -> str:
    """The mandatory `symbol` (a market id such as BTCUSDT), -1102 when it is missing."""
    market_id = query.get("symbol")
    if not market_id:
        raise mandatory("symbol")
    return str(market_id)


def in_window(rows: list, query: dict, default_limit: int = 500, max_limit: int = 1000) -> list:
    """The rows (each with `created_ms`) inside the query's startTime/endTime, the newest `limit` of them."""
    start, end, limit = time_window(query, default_limit, max_limit)
    kept = [r for r in rows if (start is None or r.created_ms >= start) and (end is None or r.created_ms <= end)]
    return kept[-limit:]
