"""Live candles and prices from Binance USDⓈ-M futures' public REST endpoints (no API keys).

Why REST polling and not websockets: one tick per second needs at most one request per symbol per
closed candle plus one bulk price request, well inside Binance's weight limits, and it keeps the loop
simple and testable against a local stand-in with the real ccxt client.

- Only closed candles are returned: a candle counts as closed `CLOSE_GRACE_MS` after its nominal
  close, so a local clock that runs a little fast does not pick up a candle that is still forming.
- poll() asks Binance only for symbols whose next candle can have closed, so an idle tick costs nothing.
- tickers() is ONE request for every symbol: ccxt `fetch_last_prices` (/fapi/v2/ticker/price, weight 2).
  `fetch_tickers` (/fapi/v1/ticker/24hr for all symbols) would also be one request, but weighs 40: once a
  second that is the whole 2400/min budget, and ccxt's throttle would stall every call for 2 s.
"""

from __future__ import annotations

import ccxt

from clock import Clock
from errors import MarketDataError
from marketdata.base import align_down, timeframe_ms
from marketdata.ccxt_binance import DEFAULT_TIMEOUT_S, fetch_range, make_exchange, to_candle, to_decimal, translated
from marketdata.gaps import GapLog
from models import Candle, Ticker

CLOSE_GRACE_MS = 2_000


class BinanceSource:
    name = "binance"

    def __init__(
        self,
        symbols: tuple[str, ...] | list[str],
        timeframe: str,
        clock: Clock,
        *,
        exchange: ccxt.Exchange | None = None,
        api_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ):
        """Loads Binance's markets at once: an unreachable Binance or an unknown symbol fails here, at
        start-up, with a clear message, never later in the middle of trading."""
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.fallback_reason: str | None = None
        self._tf_ms = timeframe_ms(timeframe)
        self._clock = clock
        self._exchange = exchange if exchange is not None else make_exchange(api_url, timeout_s)
        try:
            with translated("load the list of markets", self._exchange):
                self._exchange.load_markets()
        except MarketDataError as exc:
            raise MarketDataError(
                f"{exc} (market_data.source=binance never falls back: use auto, synthetic or replay to run offline)"
            ) from exc.__cause__
        unknown = [s for s in self.symbols if s not in self._exchange.markets]
        if unknown:
            raise MarketDataError(
                f"binance has no market {', '.join(unknown)} (use ccxt unified symbols such as BTC/USDT:USDT)"
            )
        self._gap_log = GapLog(self._tf_ms)
        self._next_open: dict[str, int] = {}  # per symbol: open time of the next candle to deliver

    @property
    def exchange(self) -> ccxt.Exchange:
        return self._exchange

    def _closed_until(self) -> int:
        """Open time of the oldest candle not yet closed (exclusive bound of closed open times)."""
        return align_down(self._clock.now_ms() - CLOSE_GRACE_MS, self._tf_ms)

    def _fetch(self, symbol: str, since_ms: int, until_ms: int) -> list[Candle]:
        candles: list[Candle] = []
        for page in fetch_range(self._exchange, symbol, self.timeframe, self._tf_ms, since_ms, until_ms):
            for row in page:
                candle = to_candle(symbol, self.timeframe, row)
                self._gap_log.see(symbol, candle.open_time_ms)
                candles.append(candle)
        return candles

    def backfill(self, limit: int) -> dict[str, list[Candle]]:
        until = self._closed_until()
        out: dict[str, list[Candle]] = {}
        for symbol in self.symbols:
            candles = self._fetch(symbol, until - limit * self._tf_ms, until)
            out[symbol] = candles
            self._next_open[symbol] = candles[-1].open_time_ms + self._tf_ms if candles else until
        return out

    def poll(self) -> list[Candle]:
        until = self._closed_until()
        out: list[tuple[int, int, Candle]] = []
        for index, symbol in enumerate(self.symbols):
            since = self._next_open.setdefault(symbol, until - self._tf_ms)
            if since >= until:
                continue  # its next candle is still forming: no request
            candles = self._fetch(symbol, since, until)
            if candles:
                self._next_open[symbol] = candles[-1].open_time_ms + self._tf_ms
            out.extend((c.open_time_ms, index, c) for c in candles)
        out.sort(key=lambda item: item[:2])
        return [c for _, _, c in out]

    def tickers(self) -> dict[str, Ticker]:
        with translated("fetch prices", self._exchange):
            prices = self._exchange.fetch_last_prices(list(self.symbols))
        now = self._clock.now_ms()
        out: dict[str, Ticker] = {}
        for symbol in self.symbols:
            entry = prices.get(symbol)
            if not entry or entry.get("price") is None:
                continue
            ts = entry.get("timestamp") or now
            out[symbol] = Ticker(symbol, to_decimal(entry["price"]), int(ts))
        return out

    def gaps(self) -> list[dict]:
        return self._gap_log.gaps()

    def exhausted(self) -> bool:
        return False

    def close(self) -> None:
        """The sync ccxt client holds a requests.Session; closing it frees its sockets."""
        session = getattr(self._exchange, "session", None)
        if session is not None:
            session.close()
