"""The candle CSV format (`timestamp_ms,open,high,low,close,volume`, the one in ../shared/data/klines):
reading with validation, and appending.

Why strict: a replay or backtest on a silently mangled file produces confident nonsense. Any bad header,
non-numeric field, price that is not positive and finite, negative or NaN volume, candle whose high and
low do not contain its open and close (or each other), duplicate or out-of-order timestamp is a
`MarketDataError` naming the file, the line (line 1 is the header) and the value. Missing candles are not
an error but data: `marketdata.gaps.find_gaps` lists them. Values give back the strings that were written,
so the Decimals built from them later are exact; they are kept as float64 and the decimal places written
(`DecimalColumn`), not as a Python string per row (a month of three symbols' strings was some 90 MB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from errors import MarketDataError

HEADER = ("timestamp_ms", "open", "high", "low", "close", "volume")
HEADER_LINE = ",".join(HEADER)
PRICE_COLUMNS = ("open", "high", "low", "close")


# A plain decimal of at most 15 significant digits: its float64 formatted to its written places is itself.
_PLAIN_DECIMAL = r"(?:0|[1-9]\d{0,14})(?:\.\d{1,15})?"  # no leading zeros: they would not come back
_SIGNIFICANT_MAX = 15


class DecimalColumn:
    """Decimal strings as float64 values and the places each was written with: `column[i]` is the string
    as written (`f"{value:.{places}f}"` is exact for plain decimals of up to 15 significant digits, which
    `read_candles` checks), a slice or mask is a DecimalColumn, and `np.asarray(column)` is the floats."""

    __slots__ = ("values", "places")

    def __init__(self, values: np.ndarray, places: np.ndarray):
        self.values = values
        self.places = places

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return "%.*f" % (self.places.item(key), self.values.item(key))  # Python scalars: twice as fast
        return DecimalColumn(self.values[key], self.places[key])

    def __iter__(self) -> Iterator[str]:
        return (f"{v:.{p}f}" for v, p in zip(self.values.tolist(), self.places.tolist()))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def astype(self, dtype: Any) -> np.ndarray:
        return self.values.astype(dtype)


def _compact(series: pd.Series, values: np.ndarray) -> Any:
    """A validated column as a DecimalColumn; the column's strings (an object array) when a value is not
    a plain decimal of at most 15 significant digits (an exponent, more digits): those stay as written."""
    if not (series.str.fullmatch(_PLAIN_DECIMAL).all()
            and (series.str.replace(".", "", regex=False).str.lstrip("0").str.len() <= _SIGNIFICANT_MAX).all()):
        return series.to_numpy(dtype=object)
    lengths = series.str.len().to_numpy(dtype=np.int64)
    dots = series.str.find(".").to_numpy(dtype=np.int64)
    places = np.where(dots >= 0, lengths - dots - 1, 0).astype(np.int8)
    return DecimalColumn(values.astype(np.float64), places)


@dataclass(frozen=True)
class CandleTable:
    """One file's candles: int64 open times and the values as written (DecimalColumn, or arrays of
    strings), row i across the arrays."""

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
    # pandas' own (Arrow) strings, never a Python str per value: only a bad row's are ever taken out
    text = {name: frame[name].fillna("").str.strip().reset_index(drop=True) for name in HEADER}
    ts_ok = text["timestamp_ms"].str.fullmatch(r"\d{1,16}").to_numpy(dtype=bool)
    ts = text["timestamp_ms"].where(ts_ok, "0").astype("int64").to_numpy()
    numbers = {name: pd.to_numeric(text[name], errors="coerce").to_numpy(dtype="float64") for name in HEADER[1:]}
    broken = _broken_rows(ts, ts_ok, numbers)
    first_bad = [int(np.argmax(mask)) for mask in broken.values() if mask.any()]
    if first_bad:
        # the first bad row in the file, whatever is wrong with it: the one a user fixes first
        i = min(first_bad)
        rule = next(rule for rule, mask in broken.items() if mask[i])
        raise _fail(path, int(lines[i]), _problem(rule, i, text, numbers, ts, lines))
    table = CandleTable(path, ts, **{name: _compact(text[name], numbers[name]) for name in HEADER[1:]})
    del frame, text
    _release_arrow_memory()
    return table


def _release_arrow_memory() -> None:
    """pandas keeps text in Arrow arrays, whose allocator holds on to freed memory for the next use: a
    backtest's reads would otherwise keep their peak for the whole run."""
    try:
        import pyarrow  # type: ignore[import-untyped]
    except ImportError:
        return
    pyarrow.default_memory_pool().release_unused()



def _broken_rows(ts: np.ndarray, ts_ok: np.ndarray, numbers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per rule, in the order a row is judged, the rows that break it."""
    broken = {"timestamp": ~ts_ok}
    for name in HEADER[1:]:
        values = numbers[name]
        broken[name] = ~np.isfinite(values) | (values <= 0 if name in PRICE_COLUMNS else values < 0)
    # A candle's high and low must contain its open and close: anything else is a corrupted row, and a
    # stop or take-profit triggered by it would fill at a price that never traded. Floats order decimal
    # strings of up to 15 significant digits exactly (every exchange price), so comparing the parsed
    # values is comparing the written prices.
    o, h, lo, c = (numbers[name] for name in PRICE_COLUMNS)
    broken["high_below_low"] = h < lo
    broken["high_below_body"] = h < np.maximum(o, c)
    broken["low_above_body"] = lo > np.minimum(o, c)
    back = np.zeros(len(ts), dtype=bool)
    back[1:] = (ts[1:] <= ts[:-1]) & ts_ok[1:] & ts_ok[:-1]
    broken["order"] = back
    return broken


def _problem(rule: str, i: int, text: dict[str, np.ndarray], numbers: dict[str, np.ndarray], ts: np.ndarray,
             lines: np.ndarray) -> str:
    """What is wrong with row `i` under `rule`, quoting the values as written."""
    if rule == "timestamp":
        return f"timestamp_ms {text['timestamp_ms'][i]!r} is not an integer (epoch ms)"
    if rule in HEADER:
        wanted = "a positive number" if rule in PRICE_COLUMNS else "a number >= 0"
        return f"{rule} {text[rule][i]!r} is not {wanted}"
    o, c = numbers["open"][i], numbers["close"][i]
    if rule == "high_below_low":
        return f"high {text['high'][i]!r} is below low {text['low'][i]!r}"
    if rule == "high_below_body":
        top = "open" if o >= c else "close"
        return f"high {text['high'][i]!r} is below {top} {text[top][i]!r}"
    if rule == "low_above_body":
        bottom = "open" if o <= c else "close"
        return f"low {text['low'][i]!r} is above {bottom} {text[bottom][i]!r}"
    before = f"line {int(lines[i - 1])}"
    if ts[i] == ts[i - 1]:
        return f"duplicate timestamp {ts[i]} (also on {before}): not sorted strictly by time"
    return f"not sorted: timestamp {ts[i]} comes before {ts[i - 1]} ({before})"


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
