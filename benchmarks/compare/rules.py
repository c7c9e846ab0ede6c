"""The EMA comparison rules (issue 9) as constants and the few helpers every engine's script shares.

Standard library only: this module is imported by the engine scripts inside their own bench venvs and by
run.py inside the project's venv.

The rules, stated once:
- EMA(12) and EMA(26) of the close, alpha = 2 / (n + 1), seeded with the first close (as pandas'
  ewm(adjust=False) does), then ema = alpha * close + (1 - alpha) * ema, in float64 in that order of
  operations — the same expression in every engine, so the EMAs are bitwise equal and no cross can differ
  through rounding. No warm-up: a signal may come from the second candle on.
- d = EMA12 - EMA26. Cross up at candle i: the last non-zero d before i was < 0 and d[i] > 0; cross down
  the mirror image. A zero d neither crosses nor resets the last sign; the first non-zero d is no cross.
- Cross up while flat: buy floor(1000 USDT / close, the symbol's lot) at that candle's close: 0.001, and
  SOLUSDT's 0.01, the lots of the simulated venue (simulator/symbols.py, Binance's). Cross down while
  long: sell all at that candle's close. Long only; no slippage, stops or take-profits.
- Taker fee 0.04 % of notional on each fill. Start 10,000 USDT. Final equity = cash + the open position
  valued at the last close, without an exit fee.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

FAST = 12
SLOW = 26
BUDGET = Decimal("1000")
LOT = Decimal("0.001")
# the venue's own lots where they are not LOT: a harness lot finer than the venue's bought ~0.005 SOL more
# per entry than the venue can take, which was the 0.48 USDT by which the peers' SOL equity differed
LOTS = {"SOLUSDT": Decimal("0.01")}
FEE_RATE = Decimal("0.0004")
START_CASH = Decimal("10000")
ALPHA_FAST = 2.0 / (FAST + 1)
ALPHA_SLOW = 2.0 / (SLOW + 1)

HEADER = "timestamp_ms,open,high,low,close,volume"


def lot_of(symbol: str) -> Decimal:
    """BTCUSDT's lot (symbol as `symbol_of` names it)."""
    return LOTS.get(symbol, LOT)


def entry_qty(close: Decimal, lot: Decimal = LOT) -> Decimal:
    """floor(1000 / close) to the lot, always with the lot's decimals (0.400, not 0.4: an engine may refuse
    a quantity whose precision is not its lot's); zero when not even one lot is affordable."""
    return ((BUDGET / close / lot).to_integral_value(rounding=ROUND_FLOOR) * lot).quantize(lot)


def symbol_of(path: str | Path) -> str:
    """BTCUSDT from binance_usdm_BTCUSDT_1m_….csv; the file's stem otherwise."""
    stem = Path(path).stem
    match = re.search(r"_([A-Z0-9]+USDT)_", stem)
    return match.group(1) if match else stem


def read_rows(path: str | Path) -> list[list[str]]:
    """The candle rows as strings (timestamp_ms, open, high, low, close, volume), header checked.

    Prices stay strings so that each engine converts them its own way from the exact text of the file.
    A row that no engine could use (wrong field count, a price that is not a positive finite number) ends
    the run with one line naming the file and the row; the rest of the data checks are the loader's job."""
    with open(path, encoding="ascii") as handle:
        header = handle.readline().strip()
        if header != HEADER:
            sys.exit(f"{path}: header is {header!r}, expected {HEADER!r}")
        rows = [line.strip().split(",") for line in handle if line.strip()]
    if not rows:
        sys.exit(f"{path}: no candles")
    for number, row in enumerate(rows, start=2):
        if len(row) != 6 or not all(_positive(x) for x in row[1:5]) or not row[0].isdigit():
            sys.exit(f"{path}: row {number} is not timestamp_ms and four positive prices: {','.join(row)!r}")
    return rows


def _positive(text: str) -> bool:
    try:
        value = Decimal(text)
    except ArithmeticError:
        return False
    return value.is_finite() and value > 0


def emit(engine: str, version: str, path: str | Path, candles: int, round_trips: int, fills: int,
         final_equity: Decimal | float | str, wall_s: float, read_s: float, started: float, **extra) -> None:
    """The one JSON line an engine script prints. `started` is perf_counter() at the script's first line,
    so total_s covers imports, the CSV read and the run, but not the interpreter's own start-up; peak_rss_mb
    is the whole process's high-water mark (ru_maxrss)."""
    record = {
        "engine": engine, "version": version, "symbol": symbol_of(path), "file": str(path),
        "candles": candles, "round_trips": round_trips, "fills": fills,
        "final_equity": str(final_equity), "wall_s": round(wall_s, 4), "read_s": round(read_s, 4),
        "total_s": round(time.perf_counter() - started, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), **extra,
    }
    print(json.dumps(record), flush=True)
