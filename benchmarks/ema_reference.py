"""The EMA comparison rules in plain Python and Decimal: the yardstick for the engine and the peers.

Independent of the engine on purpose (no pandas, no engine/indicators.py, its own CSV reading), so an
agreement means something. The rules (issue 9), on one symbol:
- EMA(fast) and EMA(slow) of the close, alpha = 2 / (n + 1), seeded with the first close;
- cross up = the last non-zero EMA(fast) − EMA(slow) was < 0 and now it is > 0 (a zero difference is
  no cross and does not reset); cross down mirrored;
- cross up while flat: buy floor(notional / close, lot); cross down while long: sell all; long only;
  filled at the signal candle's close, at its close time (open time + timeframe);
- fee_rate of the notional on each fill; no slippage, stops, take-profits or funding;
- final equity = cash + the open position at the last close, no exit fee. An open position is not a
  trade: `trades` holds the closed round trips.

`python -m benchmarks.ema_reference FILE…` prints each file's trade count and final equity.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from pathlib import Path
from typing import Sequence

NOTIONAL = Decimal("1000")
LOT = Decimal("0.001")
FEE_RATE = Decimal("0.0004")
STARTING_EQUITY = Decimal("10000")
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class ReferenceTrade:
    qty: Decimal
    entry_ms: int
    entry_price: Decimal
    exit_ms: int
    exit_price: Decimal
    fees: Decimal  # both legs
    pnl: Decimal  # net of both fees


def read_closes(csv_path: str | Path) -> tuple[list[int], list[Decimal]]:
    """Open times and closes of a `timestamp_ms,open,high,low,close,volume` file."""
    times, closes = [], []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            times.append(int(row["timestamp_ms"]))
            closes.append(Decimal(row["close"]))
    return times, closes


def ema_differences(closes: Sequence[Decimal], fast: int, slow: int) -> list[Decimal]:
    """EMA(fast) − EMA(slow) at every close, in Decimal (28 significant digits)."""
    a_fast, a_slow = Decimal(2) / (fast + 1), Decimal(2) / (slow + 1)
    out: list[Decimal] = []
    f = s = None
    for c in closes:
        f = c if f is None else f + a_fast * (c - f)
        s = c if s is None else s + a_slow * (c - s)
        out.append(f - s)
    return out


def cross_signals(differences: Sequence[Decimal]) -> list[int]:
    """+1 at a cross up, −1 at a cross down, 0 elsewhere, judged against the last non-zero difference."""
    out, last = [], 0
    for d in differences:
        sign = (d > 0) - (d < 0)
        out.append(sign if sign and last == -sign else 0)
        if sign:
            last = sign
    return out


def simulate(
    times: Sequence[int], closes: Sequence[Decimal], *, fast: int = 12, slow: int = 26, notional: Decimal = NOTIONAL,
    lot: Decimal = LOT, fee_rate: Decimal = FEE_RATE, starting_equity: Decimal = STARTING_EQUITY,
    timeframe_ms: int = MINUTE_MS,
) -> tuple[list[ReferenceTrade], Decimal]:
    """The rules over one series of closes: (closed trades, final equity)."""
    with localcontext() as ctx:
        ctx.prec = 28
        signals = cross_signals(ema_differences(closes, fast, slow))
        cash, trades = starting_equity, []
        qty = entry_price = entry_fee = Decimal(0)  # qty 0: flat
        entry_ms = 0
        for t, close, signal in zip(times, closes, signals):
            fill_ms = t + timeframe_ms
            if signal > 0 and qty == 0:
                qty = (notional / close / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
                if qty > 0:
                    entry_price, entry_ms = close, fill_ms
                    entry_fee = qty * close * fee_rate
                    cash -= entry_fee
            elif signal < 0 and qty > 0:
                exit_fee = qty * close * fee_rate
                gross = qty * (close - entry_price)
                cash += gross - exit_fee
                trades.append(ReferenceTrade(qty, entry_ms, entry_price, fill_ms, close, entry_fee + exit_fee,
                                             gross - entry_fee - exit_fee))
                qty = Decimal(0)
        if qty > 0:
            cash += qty * (closes[-1] - entry_price)
        return trades, cash


def run(csv_path: str | Path, **rules) -> tuple[list[ReferenceTrade], Decimal]:
    """The rules over one candle file (see `simulate` for the keyword arguments)."""
    times, closes = read_closes(csv_path)
    return simulate(times, closes, **rules)


def main(argv: Sequence[str]) -> int:
    for path in argv:
        trades, equity = run(path)
        print(f"{Path(path).name}: {len(trades)} trades, final equity {equity.quantize(Decimal('0.01'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
