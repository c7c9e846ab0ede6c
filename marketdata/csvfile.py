"""The candle CSV format (`timestamp_ms,open,high,low,close,volume`, the one in ../shared/data/klines):
reading with validation, and appending.

Why strict: a replay or backtest on a silently mangled file produces confident nonsense. Any bad header,
non-numeric field or out-of-order timestamp is a `MarketDataError` naming the file and the line (line 1
is the header). Prices stay the strings that were written, so the Decimals built from them later are
exact; numeric parsing is done once, vectorised, only to validate and to sort.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from errors import MarketDataError

HEADER = ("timestamp_ms", "open", "high", "low", "close", "volume")
HEADER_LINE = ",".join(HEADER)
PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class CandleTable:
    """One file's candles: int64 open times and the original value strings, row i across the arrays."""

    path: Path
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def interval_ms(self) -> int | None:
        """The smallest step between rows: the file's timeframe (None with fewer than two rows)."""
        return int(np.diff(self.ts).min()) if len(self.ts) > 1 else None


def _fail(path: Path, line: int, problem: str) -> MarketDataError:
    return MarketDataError(f"{path}: line {line}: {problem}")


def _check_header(path: Path) -> None:
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        first = f.readline().strip()
    if first != HEADER_LINE:
        raise _fail(path, 1, f"bad header {first!r}, expected {HEADER_LINE!r}")


def read_candles(path: str | Path) -> CandleTable:
    """Reads and validates a candle CSV. An empty file (header only) gives an empty table."""
    path = Path(path)
    if not path.is_file():
        raise MarketDataError(f"{path}: candle file not found")
    _check_header(path)
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig",
            engine="c", names=list(HEADER), header=0,
        )
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else 0
        raise _fail(path, line, f"wrong number of fields ({exc})") from None
    blank = (frame.fillna("") == "").all(axis=1).to_numpy()
    keep = len(blank)
    while keep and blank[keep - 1]:
        keep -= 1
    frame = frame.iloc[:keep]  # blank lines at the end of a file are harmless; in the middle they are not
    lines = np.arange(2, len(frame) + 2)
    ts_text = frame["timestamp_ms"].fillna("").str.strip()
    bad = ~ts_text.str.fullmatch(r"\d{1,16}")
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise _fail(path, int(lines[i]), f"timestamp_ms {ts_text.iloc[i]!r} is not an integer (epoch ms)")
    ts = ts_text.astype("int64").to_numpy()
    columns = {}
    for name in HEADER[1:]:
        text = frame[name].fillna("").str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
        is_price = name in PRICE_COLUMNS
        invalid = ~np.isfinite(values) | (values <= 0 if is_price else values < 0)
        if invalid.any():
            i = int(np.argmax(invalid))
            wanted = "a positive number" if is_price else "a number >= 0"
            raise _fail(path, int(lines[i]), f"{name} {text.iloc[i]!r} is not {wanted}")
        columns[name] = text.to_numpy(dtype=object)
    steps = np.diff(ts)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise _fail(
            path, int(lines[i]),
            f"not sorted (or duplicated): timestamp {ts[i]} does not come after {ts[i - 1]} (line {int(lines[i - 1])})",
        )
    return CandleTable(path, ts, **columns)


def last_timestamp(path: str | Path) -> int | None:
    """The open time on the last row of an existing file, read from its tail (files can be large).
    None when the file is missing or has no rows. The header is checked, so we never append to
    something that is not a candle file."""
    path = Path(path)
    if not path.is_file():
        return None
    _check_header(path)
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read().decode("utf-8", errors="replace")
    for line in reversed(tail.splitlines()):
        line = line.strip()
        if not line or line.startswith(HEADER[0]):
            continue
        first = line.split(",", 1)[0]
        if first.isdigit():
            return int(first)
        raise MarketDataError(f"{path}: last row {line!r} does not start with a timestamp")
    return None


def ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"
