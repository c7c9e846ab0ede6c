"""Download Binance USDⓈ-M candles into the CSV format of ../shared/data/klines, resumably.

Why resumable: a month of 1m candles is ~44 requests, a year ~530; a dropped connection should cost
the missing rows, not the whole file. The file's last timestamp says where to continue; rows are only
ever appended after it, so the file stays sorted and free of duplicates. A row cut in half by a killed
process (no final newline) is dropped and fetched again.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import ccxt
from tqdm import tqdm

from clock import Clock, SystemClock
from errors import MarketDataError
from marketdata.base import align_down, timeframe_ms
from marketdata.ccxt_binance import fetch_range, make_exchange, to_decimal, translated
from marketdata.csvfile import HEADER_LINE, ends_with_newline, last_timestamp, read_candles

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    rows_written: int
    first_ms: int | None  # open time of the first row written (None: nothing new)
    last_ms: int | None
    resumed_after_ms: int | None = None  # the last row that was already in the file


def file_name(market_id: str, timeframe: str) -> str:
    return f"binance_usdm_{market_id}_{timeframe}.csv"


def _drop_partial_last_line(path: Path) -> None:
    if not path.is_file() or ends_with_newline(path):
        return
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b"\n") + 1])


def _row(values: list) -> str:
    ts, *numbers = values[:6]
    return ",".join([str(int(ts))] + [format(to_decimal(v if v is not None else 0), "f") for v in numbers])


def download(
    symbol: str,
    timeframe: str,
    days: float,
    out_dir: str | Path,
    *,
    exchange: ccxt.Exchange | None = None,
    clock: Clock,
    progress: bool = True,
) -> DownloadResult:
    """Like `download_candles`, with the numbers the CLI summary needs."""
    if days <= 0:
        raise MarketDataError(f"days must be positive, got {days}")
    tf_ms = timeframe_ms(timeframe)
    exchange = exchange if exchange is not None else make_exchange()
    with translated(f"look up market {symbol}", exchange):
        exchange.load_markets()
        market_id = exchange.market(symbol)["id"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(market_id, timeframe)
    _drop_partial_last_line(path)
    if path.is_file() and path.stat().st_size > 0:
        # appended rows would inherit whatever is wrong with the file: check it whole first (one line
        # naming the file, line and value), and change nothing when it is not a clean candle file
        try:
            read_candles(path)
        except MarketDataError as exc:
            raise MarketDataError(f"{exc}; nothing appended: fix or remove the file, then download again") from None
    until = align_down(clock.now_ms(), tf_ms)  # the candle forming now is not written
    last = last_timestamp(path)
    since = last + tf_ms if last is not None else align_down(until - int(days * _DAY_MS), tf_ms)
    total = max(0, (until - since) // tf_ms)
    written, first_ms, last_ms = 0, None, None
    new_file = not path.is_file() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8", newline="") as f, tqdm(
        total=total, unit="candle", desc=f"{market_id} {timeframe}", file=sys.stderr, disable=not progress,
        leave=False,
    ) as bar:
        if new_file:
            f.write(HEADER_LINE + "\n")
        for page in fetch_range(exchange, symbol, timeframe, tf_ms, since, until):
            f.write("".join(_row(r) + "\n" for r in page))
            f.flush()
            written += len(page)
            first_ms = first_ms if first_ms is not None else int(page[0][0])
            last_ms = int(page[-1][0])
            bar.update(min(len(page), max(0, total - bar.n)))
    return DownloadResult(path, written, first_ms, last_ms, last)


def download_candles(
    symbol: str,
    timeframe: str,
    days: float,
    out_dir: str | Path,
    *,
    exchange: ccxt.Exchange | None = None,
    clock: Clock,
    progress: bool = True,
) -> Path:
    """Fetches `days` of closed candles up to now (or resumes an existing file) and returns its path."""
    return download(symbol, timeframe, days, out_dir, exchange=exchange, clock=clock, progress=progress).path


def _utc(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def summary(result: DownloadResult) -> str:
    if not result.rows_written and result.resumed_after_ms is not None:
        return f"{result.path}: already up to date (last candle {_utc(result.resumed_after_ms)} UTC), 0 rows written"
    if not result.rows_written:
        return f"{result.path}: the exchange returned no candles for that period, 0 rows written"
    assert result.first_ms is not None and result.last_ms is not None  # set with the first row written
    return (
        f"{result.path}: {result.rows_written} rows written, "
        f"{_utc(result.first_ms)} → {_utc(result.last_ms)} UTC"
    )


def run_download_cli(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    """`main.py download`: args has symbol, timeframe, days, out and optionally exchange_url (a local
    stand-in) and no_progress. Prints a one-line summary and returns 0; failures raise
    MarketDataError, which main.py turns into a one-line message and an exit code."""
    exchange = make_exchange(getattr(args, "exchange_url", None) or None)
    try:
        result = download(
            args.symbol, args.timeframe, float(args.days), args.out, exchange=exchange,
            clock=clock or SystemClock(), progress=not getattr(args, "no_progress", False),
        )
    finally:
        exchange.session.close()
    print(summary(result))
    return 0
