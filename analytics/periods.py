"""Times and periods typed on the command line (UTC): `--from 2025-05-10`, `--month 2025-05`, `--week 2025-W21`."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from errors import ConfigError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_when(text: str | None, flag: str = "--from/--to") -> int | None:
    """Epoch ms of a date or time (UTC unless it says otherwise); None for None or ""."""
    if not text:
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a date or time (e.g. 2025-05-10 or 2025-05-10T12:00)") from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000)


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


def month_range(text: str) -> tuple[int, int, str]:
    """[start, end) in epoch ms and a label for `YYYY-MM`."""
    match = _MONTH.match(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(f"--month: {text!r} is not a month (YYYY-MM, e.g. 2025-05)")
    year, month = int(match.group(1)), int(match.group(2))
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return _ms(start), _ms(end), start.strftime("%Y-%m")


def week_range(text: str) -> tuple[int, int, str]:
    """[start, end) in epoch ms and a label for an ISO week `YYYY-Www` (Monday to Monday, UTC)."""
    match = _WEEK.match(text or "")
    try:
        if not match:
            raise ValueError
        start = dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise ConfigError(f"--week: {text!r} is not an ISO week (YYYY-Www, e.g. 2025-W21)") from None
    return _ms(start), _ms(start + dt.timedelta(days=7)), f"{match.group(1)}-W{match.group(2)}"


def period_containing(period: str, ts_ms: int) -> tuple[int, int, str]:
    """The month or ISO week holding `ts_ms`."""
    day = dt.datetime.fromtimestamp(ts_ms / 1000, dt.timezone.utc).date()
    if period == "month":
        return month_range(day.strftime("%Y-%m"))
    year, week, _ = day.isocalendar()
    return week_range(f"{year}-W{week:02d}")
