"""A backtest: the very same engine as the bot — strategies, planner, risk gate, exit rules, the paper
executor on the simulated venue with its fees, slippage, partial fills, funding and liquidation — on an
in-memory store and simulated time. No second implementation of anything.

What makes it fast, without changing what it decides:
- every strategy's `generate` runs once over each symbol's whole series (vectorised). It equals the
  streams the live engine feeds candle by candle, at every row (tests/unit/test_strategy_streaming.py),
  so the engine is handed the signals of a candle instead of computing them;
- a candle goes through the engine only where something can happen: a signal, an open trade on its
  symbol, or a signal still being scored. Any other candle of a flat symbol can change nothing (no
  position, no resting order, no exit rule), so it is skipped; the engine's candle window is topped up
  with the skipped candles before the next one it sees, so structure stops and volume averages are
  those of the bot;
- an open trade whose exit rules act on signals only (no trail, breakeven, emergency, volume or time
  exit) can end only by a signal or by a price reaching a resting order, its stop or its liquidation:
  its candles inside that range are skipped too, except the last of each hour (the equity point, the
  funding) and the last of the data. Before anything is decided, the venue is given the newest skipped
  candle of every such trade, so every mark is current, as if it had seen them all.
The candles are merged exactly as the replay source merges them (by time, then by symbol order) and the
first `market_data.backfill_candles` steps only warm the engine, as a replay bot's back-fill does: the
same candles replayed through the real bot give the same trades (tests/integration/test_backtest_parity.py).

Ghost forward returns are not scored in a backtest (the signals are recorded, taken or not, with why).
"""

from __future__ import annotations

import gc
import re
import time
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from analytics.metrics import breakdown, compute_metrics
from bot.assembly import EngineParts, assemble
from clock import SimulatedClock
from engine.signal_scoring import SignalScorer
from engine.strategies.base import SignalRow, signal_from
from analytics.periods import parse_when
from errors import ConfigError, MarketDataError
from exchange_client import SimVenueClient, load_symbol_rules_for
from executors.paper import PaperExecutor
from marketdata.csvfile import CandleTable, DecimalColumn, read_candles
from marketdata.gaps import find_gaps
from marketdata.resample import resample
from memory_store import STREAM_KEPT, InMemoryStore
from models import Candle, Mode, OrderSide, OrderType, Side, Trade, timeframe_ms
from settings import Settings
from simulator import SimConfig

HOUR_MS = 3_600_000
_INF = float("inf")
_AHEAD = 64  # candles built at once for a symbol whose candles go through one after another
_BINANCE_FILE = re.compile(r"(?:^|_)([A-Z0-9]{2,20}?)(USDT|USDC|BUSD)(?:_|\.|$)")


def symbol_of_file(path: Path) -> str | None:
    """`binance_usdm_BTCUSDT_1m_….csv` → `BTC/USDT:USDT` (a USDⓈ-M perpetual); None when the name says nothing."""
    found = _BINANCE_FILE.search(path.stem)
    if not found:
        return None
    base, quote = found.groups()
    return f"{base}/{quote}:{quote}"


def load_tables(data: Path, symbols: list[str] | None, timeframe: str, *, date_from: str | None = None,
                date_to: str | None = None) -> dict[str, CandleTable]:
    """Candle files for the backtest, each checked (marketdata.csvfile), resampled and cut to the dates.

    `data` is one CSV (its symbol from `symbols` or the file name) or a folder of them (symbols from
    the names; `symbols` then picks some)."""
    if not data.exists():
        raise MarketDataError(f"{data}: no such file or folder")
    files = sorted(data.glob("*.csv")) if data.is_dir() else [data]
    if not files:
        raise MarketDataError(f"{data}: no .csv candle files in it")
    named: dict[str, Path] = {}
    if data.is_file() and symbols:
        if len(symbols) != 1:
            raise ConfigError(f"--symbols: one file holds one symbol, not {len(symbols)}")
        named[symbols[0]] = data
    else:
        for path in files:
            symbol = symbol_of_file(path)
            if symbol is None:
                raise ConfigError(f"{path}: cannot tell its symbol from the name; pass --symbols with a single file")
            named.setdefault(symbol, path)
        if symbols:
            missing = [s for s in symbols if s not in named]
            if missing:
                raise ConfigError(f"--symbols: no file for {', '.join(missing)} in {data} (found {', '.join(named)})")
            named = {s: named[s] for s in symbols}
    start, end = parse_when(date_from), parse_when(date_to)
    tables = {}
    for symbol, path in named.items():
        table = resample(read_candles(path), timeframe_ms(timeframe))
        keep = np.ones(len(table), dtype=bool)
        if start is not None:
            keep &= table.ts >= start
        if end is not None:
            keep &= table.ts < end
        if not keep.all():
            table = CandleTable(path, table.ts[keep], table.open[keep], table.high[keep], table.low[keep],
                                table.close[keep], table.volume[keep])
        if not len(table):
            raise MarketDataError(f"{path}: no candles for {symbol} between {date_from or 'the start'} and {date_to or 'the end'}")
        tables[symbol] = table
    return tables


def _frame(table: CandleTable, start: int) -> pd.DataFrame:
    """Rows `start:` of a table as a strategy's candle frame (floats from the exact strings)."""
    return pd.DataFrame({
        "open_time_ms": table.ts[start:],
        **{name: np.asarray(getattr(table, name)[start:], dtype=np.float64) for name in ("open", "high", "low", "close", "volume")},
    })


@dataclass
class BacktestResult:
    trades: list[Trade]
    metrics: dict[str, Any]
    by_symbol: dict[str, dict[str, Any]]
    by_exit_reason: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    data_range: dict[str, dict[str, Any]]
    candles: int
    candles_processed: int
    wall_s: float
    final_equity: Decimal
    starting_equity: Decimal
    equity_curve: list[tuple[int, Decimal]] = field(default_factory=list)
    stops: dict[str, list[tuple[int, Decimal]]] = field(default_factory=dict)  # trade id -> (ms, stop) steps
    buy_and_hold_return_pct: Decimal | None = None
    halt: str | None = None  # a halt still in force at the end (a loss limit stops a backtest as it stops the bot)

    @property
    def candles_per_s(self) -> float:
        return self.candles / self.wall_s if self.wall_s > 0 else float("inf")


class Backtest:
    def __init__(self, settings: Settings, tables: Mapping[str, CandleTable], *, warmup: int | None = None,
                 skip_quiet: bool = True, progress: Callable[[int, int], None] | None = None):
        """`warmup`: steps that only warm the engine, as a replay bot's back-fill (default
        market_data.backfill_candles); 0 trades from the first candle, as other engines' backtests do."""
        if tuple(settings.bot.symbols) != tuple(tables):
            raise ConfigError("backtest: settings.bot.symbols must name the data's symbols, in the same order")
        self.settings = settings
        self.tables = dict(tables)
        self.symbols = list(tables)
        self.progress = progress
        self.tf_ms = timeframe_ms(settings.bot.timeframe)
        self.warmup = settings.market_data.backfill_candles if warmup is None else warmup
        self.skip_quiet = skip_quiet  # False: every candle of a symbol with an open trade goes through (tests)
        self._ahead: dict[str, tuple[int, list[Candle]]] = {}  # per symbol: (first row, the candles built ahead)
        self._last_row: dict[str, tuple[int, int]] = {}  # per symbol: the last row through, and its run
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be 0 or more candles, not {self.warmup}")

    def run(self) -> BacktestResult:
        # a run builds millions of short-lived objects (Decimals, orders, views, records) and next to no
        # cyclic garbage (a few hundred objects a run): the automatic collector's passes cost it time and
        # found nothing, and its full passes over the heap landed in the next run. It runs again at the end.
        with _collector_paused() as resume:
            return self._run(resume)

    def _run(self, resume_collector: Callable[[], None]) -> BacktestResult:
        started = time.perf_counter()
        self._ahead, self._last_row = {}, {}
        s = self.settings
        clock = SimulatedClock(0)
        store = InMemoryStore("backtest")
        venue = SimVenueClient(SimConfig.from_settings(s.venue), clock, load_symbol_rules_for(s))
        # simulated time is the only clock: staleness is judged on market time, as a replay at speed 0 does
        parts = assemble(s, store, Mode.PAPER, market_clock=clock, wall_clock=clock, venue=venue)
        engine = parts.engine
        engine.scorer = SignalScorer(store, ())  # signals recorded, forward returns not scored (see above)

        ts = np.concatenate([self.tables[sym].ts for sym in self.symbols])
        sym_index = np.concatenate([np.full(len(self.tables[sym]), i, dtype=np.int32) for i, sym in enumerate(self.symbols)])
        rows = np.concatenate([np.arange(len(self.tables[sym]), dtype=np.int64) for sym in self.symbols])
        order = np.lexsort((sym_index, ts))
        ts, sym_index, rows = ts[order], sym_index[order], rows[order]
        warmup = self.warmup
        market_start = int(ts[0]) + warmup * self.tf_ms
        cursor = int(np.searchsorted(ts, market_start, side="left"))

        first_row: dict[str, int] = {}
        fed_until: dict[str, int] = {}
        backfill: dict[str, list[Candle]] = {}
        for sym in self.symbols:
            table = self.tables[sym]
            end = int(np.searchsorted(table.ts, market_start, side="left"))
            first_row[sym] = max(0, end - warmup)
            backfill[sym] = self._candles(sym, first_row[sym], end)
            fed_until[sym] = end  # rows the engine's window has seen, per symbol
        engine.warm_up(backfill)
        # with no warm-up the clock has not moved yet: the curve starts at the first candle, not at 1970
        # (a first point at epoch 0 made Sharpe and the drawdown's length span 55 years of flat equity)
        if clock.now_ms() < market_start:
            clock.set(market_start)
        signals = self._signal_rows(parts, first_row)
        equity_curve = [(clock.now_ms(), engine.executor.portfolio().account.equity)]

        window_size = engine.config.window_size
        # only a structure stop and the volume exits (its average) read the window's past candles: without
        # them the skipped candles need not be built at all (two thirds of the comparison rules' run)
        # (skip_quiet off fills it always: the skipping test compares the two)
        reads_window = (not self.skip_quiet or s.stops.method != "none" or s.exits.emergency_enabled
                        or s.exits.volume_exhaustion_enabled)
        processed = 0
        next_hour = (clock.now_ms() // HOUR_MS + 1) * HOUR_MS
        total = len(ts) - cursor
        report_every = max(1, total // 100)
        next_report = 0
        assert isinstance(parts.executor, PaperExecutor)  # a backtest trades paper on the simulated venue
        open_trade = parts.executor.book.get  # not trade_states(): that copies the book, on every candle
        pending = engine.scorer.pending
        quiet: dict[str, tuple[float, float]] = {}  # an open trade only a signal or a resting order can end
        plan = _Skipping(self, ts, sym_index, rows, signals)
        mode: dict[str, tuple[bool, tuple[float, float] | None]] = {}  # what each symbol's next row was found for
        resume: dict[str, int] = {}  # the row after the one that just went through, per symbol
        k = cursor - 1
        while True:
            previous = k
            if pending:  # a signal still being scored: every candle goes through
                k += 1
                mode.clear()
            else:
                for other in self.symbols:
                    now_mode = (open_trade(other) is not None, quiet.get(other))
                    if mode.get(other) != now_mode or plan.next_pos[other] <= previous:
                        mode[other] = now_mode
                        plan.find_next(other, previous, *now_mode, first_row=resume.pop(other, None))
                k = min(plan.next_pos.values())
            if k >= len(ts):
                break
            if self.progress is not None:
                while k - cursor >= next_report:
                    self.progress(next_report, total)
                    next_report += report_every
            sym = self.symbols[sym_index[k]]
            r = int(rows[k])
            at_row = signals[sym].get(r)
            # every mark current before anything is decided: each quiet trade's newest candle skipped since
            # the last one through the engine (inside its quiet range, so it fills and triggers nothing)
            for other in plan.unseen(previous, k, sym, mode):
                venue.on_candle(self._candle(other, plan.newest_before(other, k)))
            if reads_window and (at_row is not None or not quiet.get(sym)):
                # the window as the bot's: what an entry (structure stop) or an exit rule reads; a quiet
                # trade's hourly candle reads none of it, so the refill waits for the next signal
                window = engine.windows[sym]
                for skipped in self._candles(sym, max(fed_until[sym], r - window_size), r):
                    window.append(skipped)
            candle = self._next_candle(sym, r)
            fed_until[sym] = r + 1
            raw = [sig for name, row in (at_row or ()) if (sig := signal_from(name, sym, s.bot.timeframe, candle, row))]
            engine.on_candle(candle, raw)
            processed += 1
            mode.pop(sym, None)  # its next row is after this one, whatever it is
            resume[sym] = r + 1
            if self.skip_quiet:
                bounds = self._quiet_range(parts, venue, sym)
                if bounds is None:
                    quiet.pop(sym, None)
                else:
                    quiet[sym] = bounds
            if clock.now_ms() >= next_hour:
                # the risk monitor (loss limits, margin) and an equity point, hourly; the report itself
                # is written by the last publish only (nobody reads it in between)
                engine.publish(report_to_store=False)
                if engine.last_account is not None:
                    equity_curve.append((clock.now_ms(), engine.last_account.equity))
                next_hour = (clock.now_ms() // HOUR_MS + 1) * HOUR_MS
        engine.publish()
        final = engine.last_account.equity if engine.last_account is not None else s.venue.starting_balance
        equity_curve.append((clock.now_ms(), final))
        if self.progress is not None:
            self.progress(total, total)
        resume_collector()  # its pass over what the run left is the run's time too
        wall_s = time.perf_counter() - started
        return self._result(store, equity_curve, final, len(ts), processed, wall_s)

    # ------------------------------------------------------------------------------------ parts

    def _candle(self, sym: str, r: int) -> Candle:
        t = self.tables[sym]
        return Candle(sym, self.settings.bot.timeframe, int(t.ts[r]), Decimal(t.open[r]), Decimal(t.high[r]),
                      Decimal(t.low[r]), Decimal(t.close[r]), Decimal(t.volume[r]))

    def _next_candle(self, sym: str, r: int) -> Candle:
        """`_candle(sym, r)` for the candle going through: a symbol whose candles go through one after
        another (an exit rule acting every candle) gets them built ahead, a slice at a time, twice as many
        each time the run goes on (up to _AHEAD): a short run builds few it will not use."""
        ahead = self._ahead.get(sym)
        last, run = self._last_row.get(sym, (-2, 0))
        run = min(run + 1, 6) if last == r - 1 else 0  # rows in a row before this one (2 ** 6 = _AHEAD)
        self._last_row[sym] = (r, run)
        if ahead is not None and ahead[0] <= r < ahead[0] + len(ahead[1]):
            return ahead[1][r - ahead[0]]
        if not run:
            return self._candle(sym, r)
        built = self._candles(sym, r, min(r + min(_AHEAD, 2 ** run), len(self.tables[sym])))
        self._ahead[sym] = (r, built)
        return built[0]

    def _candles(self, sym: str, start: int, stop: int) -> list[Candle]:
        """Rows `start:stop` as `_candle` builds each (the same strings, so the same Decimals), a column
        at a time: the skipped candles a window is topped up with were a tenth of the default rules' run."""
        if stop <= start:
            return []
        t = self.tables[sym]
        columns = [_texts(getattr(t, name), start, stop) for name in ("open", "high", "low", "close", "volume")]
        timeframe = self.settings.bot.timeframe
        return [Candle(sym, timeframe, ts, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal(v))
                for ts, o, h, lo, c, v in zip(t.ts[start:stop].tolist(), *columns)]

    def _quiet_range(self, parts: EngineParts, venue: SimVenueClient, sym: str) -> tuple[float, float] | None:
        """For an open trade whose exit rules act on signals only: the open interval of prices in which a
        candle triggers none of its resting orders, nor its liquidation, nor its own stop; None when any
        candle may matter (rules that act every candle, a resting limit order, no trade)."""
        engine = parts.engine
        state = parts.executor.book.get(sym)  # type: ignore[attr-defined]  # not trade_states(): a copy of the book
        if state is None or engine.exit_rules.decides_between_signals:
            return None
        position = next((p for p in venue.positions() if p.symbol == sym), None)
        if position is None:
            return None
        lo, hi = float("-inf"), float("inf")
        for order in venue.open_orders(sym):
            if order.order_type is OrderType.STOP_MARKET and order.stop_price is not None:
                price = float(order.stop_price)
                lo, hi = (max(lo, price), hi) if order.side is OrderSide.SELL else (lo, min(hi, price))
            elif order.order_type is OrderType.TAKE_PROFIT_MARKET and order.stop_price is not None:
                price = float(order.stop_price)
                lo, hi = (lo, min(hi, price)) if order.side is OrderSide.SELL else (max(lo, price), hi)
            else:
                return None  # a resting limit order fills inside any range
        stop = float(state.stop)
        lo, hi = (max(lo, stop), hi) if position.side is Side.LONG else (lo, min(hi, stop))
        if position.liquidation_price is not None:
            liq = float(position.liquidation_price)
            lo, hi = (max(lo, liq), hi) if position.side is Side.LONG else (lo, min(hi, liq))
        return lo, hi

    def _signal_rows(self, parts: EngineParts, first_row: dict[str, int]) -> dict[str, dict[int, list[tuple[str, SignalRow]]]]:
        """Per symbol: table row → the strategies' non-zero rows there, from `generate` run once over the
        series the bot's streams would see (from its first back-fill candle), none before a strategy's warm-up."""
        out: dict[str, dict[int, list[tuple[str, SignalRow]]]] = {}
        for sym in self.symbols:
            start = first_row[sym]
            frame = _frame(self.tables[sym], start)
            by_row: dict[int, list[tuple[str, SignalRow]]] = {}
            for strategy in parts.engine.strategies:
                generated = strategy.generate(frame)
                sides = generated["side"].to_numpy()
                hits = np.flatnonzero(sides != 0)
                hits = hits[hits + 1 >= strategy.warmup]
                strengths, reasons = generated["strength"].to_numpy(), generated["reason"].to_numpy()
                for i in hits:
                    row = SignalRow(int(sides[i]), float(strengths[i]), str(reasons[i]))
                    by_row.setdefault(start + int(i), []).append((strategy.name, row))
            out[sym] = by_row
        return out

    def _result(self, store: InMemoryStore, equity_curve: list[tuple[int, Decimal]], final: Decimal, candles: int,
                processed: int, wall_s: float) -> BacktestResult:
        s = self.settings
        trades = list(store.trades)
        hold = self._buy_and_hold_pct()
        metrics = compute_metrics(trades, equity_curve, starting_equity=s.venue.starting_balance,
                                  buy_and_hold_return_pct=hold)
        data_range = {
            sym: {"from_ms": int(t.ts[0]), "to_ms": int(t.ts[-1]) + self.tf_ms, "candles": len(t), "file": str(t.path),
                  "gaps": [str(g) for g in find_gaps(t, self.tf_ms)]}
            for sym, t in self.tables.items()
        }
        parameters = {
            "strategies": list(s.strategy.enabled), "symbols": self.symbols, "timeframe": s.bot.timeframe,
            "starting_balance": str(s.venue.starting_balance), "leverage": s.venue.leverage,
            "taker_fee_rate": str(s.venue.taker_fee_rate), "maker_fee_rate": str(s.venue.maker_fee_rate),
            "risk_level": s.sizing.risk_level, "warmup_candles": self.warmup,
        }
        stops: dict[str, list[tuple[int, Decimal]]] = {}
        # the entry's stop, then each move, as the engine recorded them (only these events are built)
        for event in store.read_audit(STREAM_KEPT, kinds=("order", "stop")):
            if event.data.get("stop") and event.data.get("trade_id"):
                stops.setdefault(str(event.data["trade_id"]), []).append((event.ts_ms, Decimal(str(event.data["stop"]))))
        flag = store.read_halt()
        halt = f"HALTED since {pd.Timestamp(flag.ts_ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC: {flag.reason}" if flag else None
        return BacktestResult(
            halt=halt,
            stops=stops,
            trades=trades, metrics=metrics, by_symbol=breakdown(trades, "symbol"),
            by_exit_reason=breakdown(trades, "exit_reason"), parameters=parameters, data_range=data_range,
            candles=candles, candles_processed=processed, wall_s=wall_s, final_equity=final,
            starting_equity=s.venue.starting_balance, equity_curve=equity_curve, buy_and_hold_return_pct=hold,
        )

    def _buy_and_hold_pct(self) -> Decimal | None:
        """Equal weights in every symbol from the first candle after the warm-up to the last close."""
        moves = []
        for t in self.tables.values():
            first = min(len(t) - 1, self.warmup)
            moves.append(Decimal(t.close[-1]) / Decimal(t.close[first]) - 1)
        return (sum(moves, Decimal(0)) / len(moves) * 100) if moves else None


@contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """The automatic cyclic collector off inside, as it was after (a run in another thread that turned it
    off first keeps it off until that one ends). Inside, the callable handed out ends the pause early,
    with the young generation's pass the collector would make at its next allocation."""
    was_on = gc.isenabled()
    gc.disable()

    def resume() -> None:
        if was_on and not gc.isenabled():
            gc.enable()
            gc.collect(0)

    try:
        yield resume
    finally:
        resume()


def _texts(column: Any, start: int, stop: int) -> list[str]:
    """`[column[i] for i in range(start, stop)]`: a DecimalColumn's strings formatted from its slice (as
    its `__getitem__` formats one), a column of strings as it is."""
    if isinstance(column, DecimalColumn):
        return ["%.*f" % (p, v) for p, v in zip(column.places[start:stop].tolist(), column.values[start:stop].tolist())]
    return list(column[start:stop])


class _Skipping:
    """Where the next candle that can matter is, per symbol, found over the arrays instead of asking every
    candle (the loop over every candle was a tenth of the comparison rules' run):

    - a flat symbol: its next signal;
    - an open trade whose exit rules act every candle, or no quiet range: its next candle;
    - a quiet trade (`Backtest._quiet_range`): its next signal, its next hour's last candle (the equity
      point, the funding), its last candle, or the first candle that leaves the quiet range, whichever
      comes first.
    Positions are indices into the merged order of all symbols' candles."""

    def __init__(self, backtest: "Backtest", ts: np.ndarray, sym_index: np.ndarray, rows: np.ndarray,
                 signals: Mapping[str, Mapping[int, Any]]):
        self.end = len(ts)
        self.pos: dict[str, np.ndarray] = {}  # symbol -> the merged position of each of its rows
        self.signal_rows: dict[str, list[int]] = {}
        self.must_rows: dict[str, list[int]] = {}  # a quiet trade's candles that go through whatever the price
        self.lows: dict[str, np.ndarray] = {}
        self.highs: dict[str, np.ndarray] = {}
        self.next_pos: dict[str, int] = {}
        for i, sym in enumerate(backtest.symbols):
            table = backtest.tables[sym]
            mine = np.flatnonzero(sym_index == i)
            pos = np.empty(len(table), dtype=np.int64)
            pos[rows[mine]] = mine
            self.pos[sym] = pos
            self.signal_rows[sym] = sorted(signals[sym])  # lists: bisect is faster than numpy for one value
            hour_last = np.flatnonzero((table.ts + backtest.tf_ms) % HOUR_MS == 0)
            self.must_rows[sym] = np.union1d(np.union1d(self.signal_rows[sym], hour_last), [len(table) - 1]).tolist()
            self.lows[sym] = np.asarray(table.low, dtype=np.float64)
            self.highs[sym] = np.asarray(table.high, dtype=np.float64)
            self.next_pos[sym] = -1

    def find_next(self, sym: str, after: int, is_open: bool, bounds: tuple[float, float] | None, *,
                  first_row: int | None = None) -> None:
        """The merged position of `sym`'s next candle after position `after` that must go through."""
        pos = self.pos[sym]
        # its first row after `after` (known when its previous row is the one that just went through)
        r0 = int(np.searchsorted(pos, after, side="right")) if first_row is None else first_row
        if r0 >= len(pos):
            self.next_pos[sym] = self.end
            return
        if not is_open:
            candidates = self.signal_rows[sym]
            i = bisect_left(candidates, r0)
            self.next_pos[sym] = int(pos[candidates[i]]) if i < len(candidates) else self.end
            return
        if bounds is None:
            self.next_pos[sym] = int(pos[r0])
            return
        must = self.must_rows[sym]
        limit = must[bisect_left(must, r0)]  # the last row is one of them: always found
        lo, hi = bounds
        # the candles that reach a bound (prices are finite: csvfile refuses others); a bound at infinity
        # (a long with no order above it) is not compared
        lows, highs = self.lows[sym][r0:limit], self.highs[sym][r0:limit]
        if hi == _INF:
            leaving = lows <= lo
        elif lo == -_INF:
            leaving = highs >= hi
        else:
            leaving = (lows <= lo) | (highs >= hi)
        first = int(leaving.argmax()) if len(leaving) else 0
        self.next_pos[sym] = int(pos[r0 + first if len(leaving) and leaving[first] else limit])

    def newest_before(self, sym: str, k: int) -> int:
        return int(np.searchsorted(self.pos[sym], k)) - 1

    def unseen(self, after: int, k: int, sym: str, mode: Mapping[str, tuple[bool, Any]]) -> list[str]:
        """The other symbols with a quiet trade whose candles between positions `after` and `k` were
        skipped, in the order the first of them came (the order the venue would have seen them)."""
        out = []
        for other, (is_open, bounds) in mode.items():
            if other == sym or not is_open or bounds is None:
                continue
            pos = self.pos[other]
            first = int(np.searchsorted(pos, after, side="right"))
            if first < len(pos) and pos[first] < k:
                out.append((int(pos[first]), other))
        return [other for _, other in sorted(out)]
