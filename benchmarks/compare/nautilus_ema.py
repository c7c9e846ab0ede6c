# mypy: disable-error-code="import-not-found"
"""The EMA comparison rules (rules.py) in nautilus_trader; run with the bench venv's python:

    var/bench-venvs/nautilus/bin/python benchmarks/compare/nautilus_ema.py FILE.csv

Prints one JSON line (rules.emit). wall_s is BacktestEngine.run() alone; building the instrument and the
bars from the CSV (BarDataWrangler) and adding them to the engine count as the read (read_s).

How the rules map onto nautilus:
- A linear USDT perpetual per file (BTCUSDT-PERP.BINANCE, …), tick = the finest price step in the file, lot
  0.001 (SOLUSDT 0.01: rules.lot_of), taker fee 0.0004 (TestInstrumentProvider's BTCUSDT-PERP has 0.00018), on a NETTING margin account
  of 10,000 USDT at leverage 1. Equity = balance (start + realized P&L − fees) + unrealized P&L at the last
  close = the rules' cash + position, since a linear perpetual's P&L is qty × price change.
- Bars are 1-minute LAST bars stamped at their close (open time + 60 s). bar_execution moves the simulated
  market through each bar's open, high, low and close before the strategy sees the bar, and the message
  queue processes the strategy's market order after it, so the order fills at that bar's close; the fill
  model has no slippage. The simulated book offers a quarter of the bar's volume at each of those four
  prices, and an order larger than that walks on by whole ticks: the JSON's fills_off_close counts such
  fills. On the shared Binance candles the largest order is 0.8 % (BTC), 1.3 % (ETH), 3.6 % (SOL) of it.
- nautilus' own ExponentialMovingAverage is seeded with the first value, as the rules are, and updated with
  the same expression; it is used as is. But Price.as_double() divides a 128-bit fixed-point raw by 1e16,
  which is 1 ulp off float(text) for a fifth of BTC's closes, so the indicators are fed
  float(close.as_decimal()) — the close exactly as the file states it — with update_raw.
"""

import time

STARTED = time.perf_counter()

import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from decimal import Decimal  # noqa: E402

import pandas as pd  # noqa: E402

import nautilus_trader  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig  # noqa: E402
from nautilus_trader.config import LoggingConfig, StrategyConfig  # noqa: E402
from nautilus_trader.indicators import ExponentialMovingAverage  # noqa: E402
from nautilus_trader.model.currencies import USDT  # noqa: E402
from nautilus_trader.model.data import Bar, BarType  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TimeInForce  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue  # noqa: E402
from nautilus_trader.model.instruments import CryptoPerpetual  # noqa: E402
from nautilus_trader.model.objects import Currency, Money, Price, Quantity  # noqa: E402
from nautilus_trader.persistence.wranglers import BarDataWrangler  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402

# run as a script inside its bench venv: the project root is not on sys.path there
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.compare import rules  # noqa: E402

VENUE = Venue("BINANCE")


def decimals(text: str) -> int:
    return len(text.partition(".")[2].rstrip("0"))


def perpetual(symbol: str, rows: list[list[str]]) -> CryptoPerpetual:
    price_precision = max(decimals(x) for row in rows for x in row[1:5])
    lot = rules.lot_of(symbol)
    size_precision = -int(lot.as_tuple().exponent)
    return CryptoPerpetual(
        instrument_id=InstrumentId(Symbol(f"{symbol}-PERP"), VENUE),
        raw_symbol=Symbol(symbol),
        base_currency=Currency.from_str(symbol.removesuffix("USDT")),
        quote_currency=USDT,
        settlement_currency=USDT,
        is_inverse=False,
        price_precision=price_precision,
        price_increment=Price(10 ** -price_precision, price_precision),
        size_precision=size_precision,
        size_increment=Quantity.from_str(str(lot)),
        margin_init=Decimal("0"),
        margin_maint=Decimal("0"),
        maker_fee=rules.FEE_RATE,
        taker_fee=rules.FEE_RATE,
        ts_event=0,
        ts_init=0,
    )


class EmaCross(Strategy):
    def __init__(self, instrument: CryptoPerpetual, bar_type: BarType):
        # No event or command log lines (they are filtered at ERROR, but still built): its fastest honest setup
        super().__init__(StrategyConfig(log_events=False, log_commands=False))
        self.instrument = instrument
        self.bar_type = bar_type
        self.fast = ExponentialMovingAverage(rules.FAST)
        self.slow = ExponentialMovingAverage(rules.SLOW)
        self.last_sign = 0
        self.long = False
        self.rejected = 0
        self.close = None
        self.fills_off_close = 0

    def on_start(self):
        self.subscribe_bars(self.bar_type)

    def on_order_rejected(self, event):
        self.rejected += 1
        print(f"nautilus_trader rejected an order: {event.reason}", file=sys.stderr)
        self.long = False

    def on_order_filled(self, event):
        if event.last_px != self.close:
            self.fills_off_close += 1

    def on_bar(self, bar: Bar):
        self.close = bar.close
        close = float(bar.close.as_decimal())
        self.fast.update_raw(close)
        self.slow.update_raw(close)
        diff = self.fast.value - self.slow.value
        if diff > 0:
            if self.last_sign < 0 and not self.long:
                qty = rules.entry_qty(bar.close.as_decimal(), rules.lot_of(self.instrument.raw_symbol.value))
                if qty:
                    self.submit_order(self.order_factory.market(
                        self.instrument.id, OrderSide.BUY, self.instrument.make_qty(qty), TimeInForce.GTC))
                    self.long = True
            self.last_sign = 1
        elif diff < 0:
            if self.last_sign > 0 and self.long:
                self.close_all_positions(self.instrument.id)
                self.long = False
            self.last_sign = -1


def main(path: str) -> None:
    read_started = time.perf_counter()
    rows = rules.read_rows(path)
    # nautilus reads "_" in a symbol as a spread's legs
    symbol = re.sub(r"[^A-Z0-9]", "", rules.symbol_of(path).upper()) or "X"
    instrument = perpetual(symbol, rows)
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    frame = pd.DataFrame(
        {
            "open": [float(r[1]) for r in rows], "high": [float(r[2]) for r in rows],
            "low": [float(r[3]) for r in rows], "close": [float(r[4]) for r in rows],
            "volume": [float(r[5]) for r in rows],
        },
        index=pd.to_datetime([int(r[0]) + 60_000 for r in rows], unit="ms", utc=True),
    )
    bars = BarDataWrangler(bar_type, instrument).process(frame)

    engine = BacktestEngine(BacktestEngineConfig(
        logging=LoggingConfig(log_level="ERROR"), run_analysis=False))
    engine.add_venue(
        venue=VENUE, oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
        starting_balances=[Money(rules.START_CASH, USDT)], base_currency=USDT, default_leverage=Decimal(1),
        bar_execution=True, bar_adaptive_high_low_ordering=False,
    )
    engine.add_instrument(instrument)
    engine.add_data(bars)
    strategy = EmaCross(instrument, bar_type)
    engine.add_strategy(strategy)
    read_s = time.perf_counter() - read_started

    run_started = time.perf_counter()
    engine.run()
    wall_s = time.perf_counter() - run_started

    cache = engine.cache
    filled = [order for order in cache.orders() if order.filled_qty > 0]
    fills = len(filled)
    # long only and every sell closes the whole position: one filled sell is one round trip
    round_trips = len([order for order in filled if order.side == OrderSide.SELL])
    account = engine.portfolio.account(VENUE)
    equity = account.balance_total(USDT).as_decimal()
    last_close = Price.from_str(rows[-1][4])
    open_qty = Decimal(0)
    for position in cache.positions_open(instrument_id=instrument.id):
        equity += position.unrealized_pnl(last_close).as_decimal()
        open_qty += position.quantity.as_decimal()
    rules.emit("nautilus_trader", nautilus_trader.__version__, path, len(bars), round_trips, fills, equity,
               wall_s, read_s, STARTED, open_position=str(open_qty), rejected=strategy.rejected,
               fills_off_close=strategy.fills_off_close)
    engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: nautilus_ema.py FILE.csv")
    main(sys.argv[1])
