"""Replay recorded candles at a chosen speed: backtests, demos and tests on real prices, offline.

Why market time, not row counts: several symbols are merged into one timeline and released one
timeframe step at a time, so a symbol whose file has a hole (or ends early) simply delivers nothing for
those steps, and the hole is reported by `gaps()` instead of being filled with invented prices.

Pacing: `speed` market-time per clock-time. 1 = real time (one 1m candle per 60 s of clock), 60 = one
1m candle per second, 0 = as fast as the caller polls (each poll returns the next batch of about
`batch_candles` candles, never splitting a time step). With `loop`, the timeline restarts at the end,
shifted forward by its own length, so open times never go back.

Restart: `resume(last_open_ms)` continues after the newest candle a previous run of the bot (or its
venue) saw, in the same market time (laps included), so a restarted bot never feeds its venue a candle
older than the venue's own time — the venue would ignore it and fill every order at its frozen price.
Files that end before that candle (and do not loop) cannot continue it: `resume` raises.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np

from clock import Clock
from errors import MarketDataError
from marketdata.base import timeframe_ms
from marketdata.csvfile import CandleTable, read_candles
from marketdata.gaps import GapLog
from marketdata.resample import resample
from models import Candle, Ticker


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class ReplaySource:
    name = "replay"

    def __init__(
        self,
        files: dict[str, str | Path],
        timeframe: str,
        clock: Clock,
        *,
        speed: float = 60.0,
        loop: bool = True,
        batch_candles: int = 1000,
    ):
        if not files:
            raise MarketDataError("replay needs at least one file (market_data.replay.files: symbol -> CSV)")
        if speed < 0:
            raise MarketDataError(f"replay speed must be >= 0, got {speed}")
        self.symbols = tuple(files)
        self.timeframe = timeframe
        self.fallback_reason: str | None = None
        self._tf_ms = timeframe_ms(timeframe)
        self._clock = clock
        self._speed = speed
        self._loop = loop
        self._batch = max(1, batch_candles)
        self._tables: list[CandleTable] = []
        for symbol, path in files.items():
            table = resample(read_candles(path), self._tf_ms)
            if not len(table):
                raise MarketDataError(f"{path}: no candles to replay for {symbol}")
            self._tables.append(table)
        ts = np.concatenate([t.ts for t in self._tables])
        sym = np.concatenate([np.full(len(t), i, dtype=np.int32) for i, t in enumerate(self._tables)])
        row = np.concatenate([np.arange(len(t), dtype=np.int64) for t in self._tables])
        order = np.lexsort((sym, ts))  # by time, then by symbol order: a stable, deterministic merge
        self._ts, self._sym, self._row = ts[order], sym[order], row[order]
        self._span_ms = int(self._ts[-1] - self._ts[0]) + self._tf_ms  # one lap of the loop
        self._gap_log = GapLog(self._tf_ms)
        self._started = False
        self._cursor = 0  # next merged row to release
        self._offset_ms = 0  # added to every open time: grows by one span per lap
        self._released_until_ms = 0  # market time up to which (exclusive) candles are out
        self._clock_start_ms = 0
        self._market_start_ms = 0
        self._last: dict[str, tuple[Decimal, int]] = {}  # symbol -> (close, clock ms it became current)
        self._done = False
        self._resume_after_ms: int | None = None  # a previous run's newest candle: the replay goes on after it

    @classmethod
    def from_settings(cls, settings, clock: Clock) -> "ReplaySource":
        """bot.symbols and bot.timeframe from market_data.replay's files (relative to the project root)."""
        replay = settings.market_data.replay
        symbols, timeframe = settings.bot.symbols, settings.bot.timeframe
        missing = [s for s in symbols if s not in replay.files]
        if missing:
            raise MarketDataError(
                f"no replay file for {', '.join(missing)}: add it to market_data.replay.files (symbol: path)"
            )
        files = {s: settings.resolve_path(replay.files[s]) for s in symbols}
        return cls(files, timeframe, clock, speed=replay.speed, loop=replay.loop)

    # ------------------------------------------------------------------------------------ internals

    def _candle(self, i: int) -> Candle:
        table, r = self._tables[self._sym[i]], self._row[i]
        return Candle(
            self.symbols[self._sym[i]], self.timeframe, int(self._ts[i]) + self._offset_ms,
            Decimal(table.open[r]), Decimal(table.high[r]), Decimal(table.low[r]), Decimal(table.close[r]),
            Decimal(table.volume[r]),
        )

    def _start(self, warmup: int) -> None:
        if self._started:
            return
        self._started = True
        self._market_start_ms = int(self._ts[0]) + warmup * self._tf_ms
        if self._resume_after_ms is not None:
            self._market_start_ms = max(self._market_start_ms, self._resume_after_ms + self._tf_ms)
        if self._loop and self._resume_after_ms is not None:  # the lap the previous run was in
            self._offset_ms = (self._market_start_ms - int(self._ts[0])) // self._span_ms * self._span_ms
        self._released_until_ms = self._market_start_ms
        self._cursor = int(np.searchsorted(self._ts, self._market_start_ms - self._offset_ms, side="left"))
        self._clock_start_ms = self._clock.now_ms()

    def _take(self, end: int, out: list[Candle], now: int) -> None:
        for i in range(self._cursor, end):
            candle = self._candle(i)
            self._gap_log.see(candle.symbol, candle.open_time_ms)
            self._last[candle.symbol] = (candle.close, now)
            out.append(candle)
        self._cursor = end

    def _wrap(self) -> bool:
        """At the end of the data: start the next lap (True) or finish (False)."""
        if not self._loop:
            self._done = True
            return False
        self._offset_ms += self._span_ms
        self._cursor = 0
        return True

    def _release_until(self, market_ms: int, out: list[Candle], now: int) -> None:
        while True:
            end = int(np.searchsorted(self._ts, market_ms - self._offset_ms, side="left"))
            if end > self._cursor:
                self._take(end, out, now)
            if self._cursor < len(self._ts) or not self._wrap():
                break
        self._released_until_ms = max(self._released_until_ms, market_ms)

    def _release_batch(self, out: list[Candle], now: int) -> None:
        if self._cursor >= len(self._ts) and not self._wrap():
            return
        end = min(self._cursor + self._batch, len(self._ts))
        while end < len(self._ts) and self._ts[end] == self._ts[end - 1]:
            end += 1  # never split a time step between two polls
        self._take(end, out, now)
        self._released_until_ms = int(self._ts[end - 1]) + self._offset_ms + self._tf_ms
        if self._cursor >= len(self._ts) and not self._loop:
            self._done = True

    # ------------------------------------------------------------------------------------ the protocol

    def backfill(self, limit: int) -> dict[str, list[Candle]]:
        """The first `limit` steps of the data warm the indicators; the replay proper starts after them.
        After `resume`, the `limit` candles up to the resumed point (from the lap before, if need be)."""
        self._start(limit)
        now = self._clock.now_ms()
        out: dict[str, list[Candle]] = {}
        for symbol, table in zip(self.symbols, self._tables):
            end = int(np.searchsorted(table.ts, self._released_until_ms - self._offset_ms, side="left"))
            rows = [(r, self._offset_ms) for r in range(max(0, end - limit), end)]
            if len(rows) < limit and self._offset_ms:  # resumed early in a lap: the previous lap's tail
                before = self._offset_ms - self._span_ms
                rows = [(r, before) for r in range(max(0, len(table) - (limit - len(rows))), len(table))] + rows
            candles = [
                Candle(symbol, self.timeframe, int(table.ts[r]) + offset, Decimal(table.open[r]),
                       Decimal(table.high[r]), Decimal(table.low[r]), Decimal(table.close[r]),
                       Decimal(table.volume[r]))
                for r, offset in rows
            ]
            for candle in candles:
                self._gap_log.see(symbol, candle.open_time_ms)
            if candles and symbol not in self._last:
                self._last[symbol] = (candles[-1].close, now)
            out[symbol] = candles
        return out

    def resume(self, last_open_ms: int) -> None:
        """Go on after the candle that opened at `last_open_ms` (market time, laps included): a restarted
        bot continues its own market instead of starting the files again. MarketDataError when the files
        hold nothing after it and do not loop. Call before the first backfill or poll."""
        if self._started:
            raise MarketDataError("replay: resume must come before the first backfill or poll")
        last_in_files = int(self._ts[-1])
        if not self._loop and last_open_ms >= last_in_files:
            raise MarketDataError(
                f"the replay files end at {_utc(last_in_files)} and do not loop, but this bot's market "
                f"already reached {_utc(last_open_ms)}"
            )
        self._resume_after_ms = last_open_ms

    def poll(self) -> list[Candle]:
        self._start(0)
        if self._done:
            return []
        now = self._clock.now_ms()
        out: list[Candle] = []
        if self._speed == 0:
            self._release_batch(out, now)
        else:
            steps = int((now - self._clock_start_ms) * self._speed // self._tf_ms)
            self._release_until(self._market_start_ms + steps * self._tf_ms, out, now)
        return out

    def tickers(self) -> dict[str, Ticker]:
        """The close of the newest released candle, stamped with the clock time it was released: when
        the data of a symbol runs out, its ticker stops getting younger and the feed goes stale."""
        return {s: Ticker(s, price, ts) for s, (price, ts) in self._last.items()}

    def gaps(self) -> list[dict]:
        return self._gap_log.gaps()

    def exhausted(self) -> bool:
        return self._done

    def close(self) -> None:
        pass
