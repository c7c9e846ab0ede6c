"""Synthetic candles: a seeded, endless, offline market that still makes strategies fire.

Why: the bot must run (demo, CI, a laptop on a train) without Binance, and tests need candles that are
reproducible. Candle k of symbol s is a pure function of (seed, s, k): the random numbers of a block of
`BLOCK` candles come from a generator seeded with (seed, symbol, block), so the same seed gives the same
market whatever the wall time, the backfill size or the order of calls.

The path is a log-price random walk with, per block, a volatility regime (calm / normal / wild) and a
drift (down / flat / up), plus "impulses": 3-5 candle moves of 0.5-1.5 % on 2.5-5x volume, the pattern
the momentum strategy looks for. Some candles are missing (`gap_probability`); the hole is reported by
`gaps()` when the next candle arrives, as a real feed would.

k = 0 is the last closed candle at the first backfill/poll ("now"), so `start_prices` are today's
prices; backfill walks back to negative k. After that a new candle is released every `candle_seconds`
of the injected clock, each one timeframe later in market time.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal

import numpy as np

from clock import Clock
from marketdata.base import align_down, timeframe_ms
from marketdata.gaps import GapLog
from models import Candle, Ticker

BLOCK = 240  # candles per regime block: four hours of 1m candles, long enough for a trend to show
_BASE_VOL_1M = 0.0007  # stdev of a 1m log return in the normal regime (BTC-like)
_VOL_REGIMES = (0.5, 1.0, 2.2)
_DRIFT_PER_VOL = (-0.12, 0.0, 0.0, 0.12)  # drift as a fraction of volatility: trends in half of the blocks
_IMPULSE_RATE = 1 / 150  # impulses per candle: a few per hour per symbol, so strategies fire "now and then"
_BASE_NOTIONAL_1M = Decimal("2000000")  # quote volume of an average 1m candle
_CACHE_BLOCKS = 16


def _symbol_key(symbol: str) -> int:
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")


def tick_for(price: Decimal) -> Decimal:
    """About five significant digits, like Binance's ticks (BTC 0.1, ETH 0.01)."""
    exponent = math.floor(math.log10(float(price))) - 5
    return Decimal(1).scaleb(exponent)


class _Block:
    """The random makings of BLOCK consecutive candles of one symbol."""

    __slots__ = ("returns", "cum", "wick_up", "wick_down", "volume", "missing")

    def __init__(self, seed: int, symbol_key: int, block: int, tf_minutes: float, gap_probability: float):
        rng = np.random.default_rng(np.random.SeedSequence([seed % 2**64, symbol_key, block % 2**64]))
        vol = _BASE_VOL_1M * math.sqrt(tf_minutes) * _VOL_REGIMES[rng.integers(len(_VOL_REGIMES))]
        drift = vol * _DRIFT_PER_VOL[rng.integers(len(_DRIFT_PER_VOL))]
        returns = drift + vol * rng.standard_normal(BLOCK)
        volume_multiple = np.ones(BLOCK)
        for _ in range(rng.poisson(BLOCK * _IMPULSE_RATE)):
            length = int(rng.integers(3, 6))
            start = int(rng.integers(0, BLOCK - length))
            move = rng.uniform(0.005, 0.015) * rng.choice((-1.0, 1.0))
            returns[start:start + length] += math.log1p(move) / length
            volume_multiple[start:start + length] *= rng.uniform(2.5, 5.0)
        self.returns = returns
        self.cum = np.cumsum(returns)
        self.wick_up = np.abs(rng.standard_normal(BLOCK)) * vol * 0.6
        self.wick_down = np.abs(rng.standard_normal(BLOCK)) * vol * 0.6
        regime_volume = math.sqrt(vol / (_BASE_VOL_1M * math.sqrt(tf_minutes)))
        self.volume = rng.lognormal(0.0, 0.35, BLOCK) * volume_multiple * regime_volume * tf_minutes
        self.missing = rng.random(BLOCK) < gap_probability


class SyntheticPath:
    """Candle k of one symbol, for any integer k (negative = before "now")."""

    def __init__(self, seed: int, symbol: str, start_price: Decimal, tf_minutes: float, gap_probability: float):
        self.symbol = symbol
        self.tick = tick_for(start_price)
        self._tick_f = float(self.tick)
        self._log_start = math.log(float(start_price))
        self._seed = seed
        self._key = _symbol_key(symbol)
        self._tf_minutes = tf_minutes
        self._gap_probability = gap_probability
        self._base_qty = float(_BASE_NOTIONAL_1M / start_price)
        self._blocks: dict[int, _Block] = {}
        self._totals: dict[int, float] = {}
        self._prefixes: dict[int, float] = {0: 0.0}  # block -> sum of the returns of blocks 0..b-1
        self._g0 = self._g(0)

    def _block(self, b: int) -> _Block:
        block = self._blocks.get(b)
        if block is None:
            if len(self._blocks) >= _CACHE_BLOCKS:
                self._blocks.pop(next(iter(self._blocks)))
            block = _Block(self._seed, self._key, b, self._tf_minutes, self._gap_probability)
            self._blocks[b] = block
            self._totals[b] = float(block.cum[-1])
        return block

    def _total(self, b: int) -> float:
        if b not in self._totals:
            self._block(b)
        return self._totals[b]

    def _prefix(self, b: int) -> float:
        """Log-price at the start of block b relative to the start of block 0, walked from the nearest
        known block so a long run costs one addition per new block."""
        if b not in self._prefixes:
            step = 1 if b > 0 else -1
            known = b - step
            while known not in self._prefixes:
                known -= step
            value = self._prefixes[known]
            while known != b:
                value = value + self._total(known) if step > 0 else value - self._total(known - 1)
                known += step
                self._prefixes[known] = value
        return self._prefixes[b]

    def _g(self, j: int) -> float:
        """Sum of returns 0..j (j >= 0), or minus the sum of j+1..-1 (j < 0)."""
        b, pos = divmod(j, BLOCK)
        return self._prefix(b) + float(self._block(b).cum[pos])

    def close_price(self, k: int) -> float:
        return math.exp(self._log_start + self._g(k) - self._g0)

    def _ticks(self, price: float, rounding=round) -> int:
        return max(1, int(rounding(price / self._tick_f)))

    def candle(self, k: int, timeframe: str, open_time_ms: int) -> Candle | None:
        """None when candle k is one the feed "lost" (a gap)."""
        b, pos = divmod(k, BLOCK)
        block = self._block(b)
        if block.missing[pos]:
            return None
        close_f = self.close_price(k)
        open_f = close_f / math.exp(float(block.returns[pos]))
        o, c = self._ticks(open_f), self._ticks(close_f)
        h = max(o, c, self._ticks(max(open_f, close_f) * (1 + float(block.wick_up[pos])), math.ceil))
        lo = min(o, c, self._ticks(min(open_f, close_f) * (1 - float(block.wick_down[pos])), math.floor))
        qty = max(0.001, round(self._base_qty * float(block.volume[pos]), 3))
        tick = self.tick
        return Candle(
            self.symbol, timeframe, open_time_ms,
            Decimal(o) * tick, Decimal(h) * tick, Decimal(lo) * tick, Decimal(c) * tick,
            Decimal(f"{qty:.3f}"),
        )

    def price(self, k: int) -> Decimal:
        return Decimal(self._ticks(self.close_price(k))) * self.tick


def _default_start_price(symbol: str, seed: int) -> Decimal:
    """A plausible, stable price for a symbol that has no configured start price: 1 .. 1000."""
    exponent = (_symbol_key(symbol) ^ (seed % 2**64)) % 3000 / 1000
    return Decimal(str(round(10**exponent, 2)))


class SyntheticSource:
    """The `synthetic` market data source (see the module docstring)."""

    name = "synthetic"

    def __init__(
        self,
        symbols: tuple[str, ...] | list[str],
        timeframe: str,
        clock: Clock,
        *,
        seed: int = 42,
        start_prices: dict[str, Decimal] | None = None,
        candle_seconds: float = 1.0,
        gap_probability: float = 0.0005,
    ):
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.fallback_reason: str | None = None  # set by open_market_data when "auto" fell back to us
        self.fallback_detail: str | None = None  # the error that made it fall back
        self._tf_ms = timeframe_ms(timeframe)
        self._clock = clock
        self._candle_ms = candle_seconds * 1000
        start_prices = start_prices or {}
        self._paths = {
            s: SyntheticPath(
                seed, s, Decimal(start_prices.get(s) or _default_start_price(s, seed)),
                self._tf_ms / 60_000, gap_probability,
            )
            for s in self.symbols
        }
        self._gap_log = GapLog(self._tf_ms)
        self._anchor_open_ms: int | None = None  # open time of candle k = 0
        self._anchor_clock_ms = 0
        self._emitted = 0  # the newest k released so far

    @classmethod
    def from_settings(cls, settings, clock: Clock) -> "SyntheticSource":
        """bot.symbols and bot.timeframe, generated as market_data.synthetic says."""
        synthetic = settings.market_data.synthetic
        return cls(
            settings.bot.symbols, settings.bot.timeframe, clock, seed=synthetic.seed,
            start_prices=dict(synthetic.start_prices), candle_seconds=synthetic.candle_seconds,
            gap_probability=synthetic.gap_probability,
        )

    def tick_size(self, symbol: str) -> Decimal:
        return self._paths[symbol].tick

    def _start(self) -> None:
        if self._anchor_open_ms is None:
            now = self._clock.now_ms()
            self._anchor_open_ms = align_down(now, self._tf_ms) - self._tf_ms
            self._anchor_clock_ms = now

    @property
    def anchor_open_ms(self) -> int | None:
        """Open time of candle k = 0: persist it, and `resume` continues the same market after a restart."""
        return self._anchor_open_ms

    def resume(self, anchor_open_ms: int, last_open_ms: int) -> None:
        """Continue a previous run's market: same path, market time going on from its last candle.

        Without this a restarted paper bot would see market time jump back behind the venue it trades on
        (synthetic time runs faster than the wall clock), and the venue would ignore the new candles."""
        last_k = (last_open_ms - anchor_open_ms) // self._tf_ms
        self._anchor_open_ms = anchor_open_ms
        self._emitted = last_k
        self._anchor_clock_ms = int(self._clock.now_ms() - last_k * self._candle_ms)

    def _open_time(self, k: int) -> int:
        assert self._anchor_open_ms is not None  # `_start` or `resume` ran before any candle is made
        return self._anchor_open_ms + k * self._tf_ms

    def _emit(self, symbol: str, k: int) -> Candle | None:
        candle = self._paths[symbol].candle(k, self.timeframe, self._open_time(k))
        if candle is not None:
            self._gap_log.see(symbol, candle.open_time_ms)
        return candle

    def backfill(self, limit: int) -> dict[str, list[Candle]]:
        self._start()
        first = self._emitted - limit + 1
        out: dict[str, list[Candle]] = {}
        for symbol in self.symbols:
            candles = (self._emit(symbol, k) for k in range(first, self._emitted + 1))
            out[symbol] = [c for c in candles if c is not None]
        return out

    def poll(self) -> list[Candle]:
        self._start()
        due = int((self._clock.now_ms() - self._anchor_clock_ms) // self._candle_ms)
        out: list[Candle] = []
        for k in range(self._emitted + 1, due + 1):
            for symbol in self.symbols:
                candle = self._emit(symbol, k)
                if candle is not None:
                    out.append(candle)
        self._emitted = max(self._emitted, due)
        return out

    def tickers(self) -> dict[str, Ticker]:
        self._start()
        now = self._clock.now_ms()
        return {s: Ticker(s, self._paths[s].price(self._emitted), now) for s in self.symbols}

    def gaps(self) -> list[dict]:
        return self._gap_log.gaps()

    def exhausted(self) -> bool:
        return False

    def close(self) -> None:
        pass
