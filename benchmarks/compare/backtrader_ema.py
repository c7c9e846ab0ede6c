# mypy: disable-error-code="import-not-found"
"""The EMA comparison rules (rules.py) in backtrader; run with the bench venv's python:

    var/bench-venvs/backtrader/bin/python benchmarks/compare/backtrader_ema.py FILE.csv

Prints one JSON line (rules.emit). wall_s is cerebro.run() alone: it includes backtrader loading the
DataFrame into its lines, not the CSV read. Cheat-on-close fills a market order at the close of the bar
that placed it, as the rules ask. backtrader's own EMA is seeded with the SMA of its first `period`
closes, so the strategy keeps its own EMA with the rules' seed (the first close).

backtrader executes an order in its broker step of the bar after the one that placed it (cheat-on-close
only picks the price), so an order placed on the last candle would never fill. The feed therefore ends
with a copy of the last candle, one minute later, that only lets that order fill: the strategy does
nothing on it, and the final value is taken at its close, which is the last close.
"""

import time

STARTED = time.perf_counter()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from decimal import Decimal  # noqa: E402

import backtrader as bt  # noqa: E402
import pandas as pd  # noqa: E402

# run as a script inside its bench venv: the project root is not on sys.path there
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.compare import rules  # noqa: E402


class EmaCross(bt.Strategy):
    params = (("candles", 0), ("lot", rules.LOT))

    def __init__(self):
        self.fast = None
        self.slow = None
        self.last_sign = 0
        self.fills = 0
        self.round_trips = 0
        self.rejected = 0

    def next(self):
        if len(self.data) > self.p.candles:
            return  # the copy of the last candle (see the module's docstring)
        close = self.data.close[0]
        if self.fast is None:
            self.fast = self.slow = close
        else:
            self.fast = rules.ALPHA_FAST * close + (1.0 - rules.ALPHA_FAST) * self.fast
            self.slow = rules.ALPHA_SLOW * close + (1.0 - rules.ALPHA_SLOW) * self.slow
        diff = self.fast - self.slow
        if diff > 0:
            if self.last_sign < 0 and not self.position:
                # repr is the shortest text of the float, i.e. the CSV's own price, so the size is exact
                qty = rules.entry_qty(Decimal(repr(close)), self.p.lot)
                if qty:
                    self.buy(size=float(qty))
            self.last_sign = 1
        elif diff < 0:
            if self.last_sign > 0 and self.position:
                self.close()
            self.last_sign = -1

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills += 1
        elif order.status in (order.Canceled, order.Margin, order.Rejected):
            self.rejected += 1
            print(f"backtrader refused an order: {order.getstatusname()}", file=sys.stderr)

    def notify_trade(self, trade):
        if trade.isclosed:
            self.round_trips += 1


def main(path: str) -> None:
    read_started = time.perf_counter()
    rows = rules.read_rows(path)
    candles = len(rows)
    rows.append([str(int(rows[-1][0]) + 60_000), *rows[-1][1:]])
    frame = pd.DataFrame(
        {
            "open": [float(r[1]) for r in rows], "high": [float(r[2]) for r in rows],
            "low": [float(r[3]) for r in rows], "close": [float(r[4]) for r in rows],
            "volume": [float(r[5]) for r in rows],
        },
        index=pd.to_datetime([int(r[0]) for r in rows], unit="ms"),
    )
    read_s = time.perf_counter() - read_started

    run_started = time.perf_counter()
    # stdstats=False: no observers (broker value, trades, buy/sell marks), which only serve plots; the
    # peer gets its fastest honest configuration.
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(EmaCross, candles=candles, lot=rules.lot_of(rules.symbol_of(path)))
    cerebro.broker.setcash(float(rules.START_CASH))
    cerebro.broker.setcommission(commission=float(rules.FEE_RATE))
    cerebro.broker.set_coc(True)
    strategy = cerebro.run()[0]
    wall_s = time.perf_counter() - run_started

    # broker.getvalue() is cash + position at the last close, with no exit fee: the rules' final equity.
    rules.emit("backtrader", bt.__version__, path, candles, strategy.round_trips, strategy.fills,
               f"{cerebro.broker.getvalue():.6f}", wall_s, read_s, STARTED,
               open_position=str(strategy.position.size), rejected=strategy.rejected)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: backtrader_ema.py FILE.csv")
    main(sys.argv[1])
