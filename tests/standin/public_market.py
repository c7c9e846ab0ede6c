"""The public half of the stand-in: recorded candles and exchangeInfo, answered as Binance USDⓈ-M does.

Klines come from ../shared/data/klines, exchangeInfo from nautilus_trader's recorded response (read at run
time, never copied into the repository), with SOLUSDT cloned from BTCUSDT because the recording lacks it.
The recording predates Binance's 2023-11 filter change, so by default the filters Binance serves today are
laid over it (BTCUSDT LOT_SIZE.minQty 0.001 and MIN_NOTIONAL 50, ETHUSDT MIN_NOTIONAL 20):
`filters="recorded"` serves the file as it is.

"Now" for the market is `market_ms()`: klines open after it do not exist yet; tickers are the close of the
candle open at it, which is served with its final recorded values (Binance would show it half-formed).
Where the futures account has a mark for a symbol (it has seen that candle), tickers and premiumIndex show it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from models import Candle
from tests.standin.replies import error, mandatory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
KLINES_DIR = SHARED_DATA / "klines"
EXCHANGE_INFO = (
    SHARED_DATA / "binance_api/nautilus/tests/integration_tests/adapters/binance/resources/http_responses/"
    "http_futures_market_exchange_info.json"
)
MAX_KLINES = 1500  # Binance USDⓈ-M's limit per klines request
DEFAULT_KLINES = 500
INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000}
_FILE_NAME = re.compile(r"binance_usdm_([A-Z0-9]+)_(\d+[mhd])")
DEFAULT_NOW_MS = 1_747_699_200_000  # 2025-05-20 00:00 UTC, inside every recorded file
FUNDING_EVERY_MS = 8 * 3_600_000

# What Binance serves today where it differs from the recording (../shared/data/README.md).
CURRENT_FILTERS: dict[str, dict[str, dict[str, str]]] = {
    "BTCUSDT": {"LOT_SIZE": {"minQty": "0.001"}, "MIN_NOTIONAL": {"notional": "50"}},
    "ETHUSDT": {"MIN_NOTIONAL": {"notional": "20"}},
}


@dataclass(frozen=True)
class Series:
    interval_ms: int
    ts: np.ndarray  # int64 open times
    values: np.ndarray  # object strings: open, high, low, close, volume per row


@functools.lru_cache(maxsize=16)
def _load_series(path: str, interval_ms: int) -> Series:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return Series(interval_ms, frame["timestamp_ms"].astype("int64").to_numpy(),
                  frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=object))


def discover_klines(directory: Path = KLINES_DIR) -> dict[tuple[str, str], Path]:
    """{(BTCUSDT, 1m): path} for every binance_usdm_<ID>_<interval>*.csv in `directory`."""
    found = {}
    for path in sorted(Path(directory).glob("binance_usdm_*.csv")):
        match = _FILE_NAME.match(path.name)
        if match:
            found[(match.group(1), match.group(2))] = path
    return found


def _sol_entry(btc: dict) -> dict:
    sol = copy.deepcopy(btc)
    sol.update(symbol="SOLUSDT", pair="SOLUSDT", baseAsset="SOL", pricePrecision=4, quantityPrecision=0,
               onboardDate=1600000000000)
    for f in sol["filters"]:
        if f["filterType"] == "PRICE_FILTER":
            f.update(minPrice="0.4200", maxPrice="6857", tickSize="0.0100")
        elif f["filterType"] in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            f.update(stepSize="1", minQty="1", maxQty="1000000" if f["filterType"] == "LOT_SIZE" else "5000")
        elif f["filterType"] == "MIN_NOTIONAL":
            f.update(notional="5")
    return sol


def load_exchange_info(path: Path = EXCHANGE_INFO, filters: str = "recorded") -> dict:
    """The recorded exchangeInfo with SOLUSDT added; `filters="current"` lays CURRENT_FILTERS over it."""
    if filters not in ("recorded", "current"):
        raise ValueError(f"filters must be 'recorded' or 'current', not {filters!r}")
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    names = {s["symbol"] for s in info["symbols"]}
    if "SOLUSDT" not in names:
        btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
        info["symbols"].append(_sol_entry(btc))
    if filters == "current":
        for entry in info["symbols"]:
            for f in entry.get("filters", []):
                f.update(CURRENT_FILTERS.get(entry["symbol"], {}).get(f["filterType"], {}))
    return info


class PublicMarket:
    """Answers the public endpoints. `market_ms` says where the market is; `mark_of(market_id)` is the
    futures account's mark (None where it has none)."""

    def __init__(self, klines: dict[tuple[str, str], Path], exchange_info: Path, filters: str,
                 market_ms: Callable[[], int], server_ms: Callable[[], int],
                 mark_of: Callable[[str], str | None] = lambda market_id: None,
                 funding_rate: Decimal = Decimal("0.0001")):
        self.klines_files = dict(klines)
        self.funding_rate = format(Decimal(funding_rate).quantize(Decimal("0.00000001")), "f")
        self.exchange_info_path = Path(exchange_info)
        self.filters = filters
        self.market_ms, self.server_ms, self.mark_of = market_ms, server_ms, mark_of
        self._exchange_info: dict | None = None

    def exchange_info(self) -> dict:
        if self._exchange_info is None:
            self._exchange_info = load_exchange_info(self.exchange_info_path, self.filters)
        return self._exchange_info

    def symbol_entry(self, market_id: str) -> dict | None:
        return next((s for s in self.exchange_info()["symbols"] if s["symbol"] == market_id), None)

    def routes(self) -> dict[str, Callable[[dict], object]]:
        return {
            "/fapi/v1/ping": lambda q: {},
            "/fapi/v1/exchangeInfo": lambda q: {**self.exchange_info(), "serverTime": self.server_ms()},
            "/fapi/v1/klines": self.klines,
            "/fapi/v1/ticker/price": self.ticker_price,
            "/fapi/v2/ticker/price": self.ticker_price,
            "/fapi/v1/ticker/24hr": self.ticker_24hr,
            "/fapi/v1/ticker/bookTicker": self.book_ticker,
            "/fapi/v1/premiumIndex": self.premium_index,
        }

    # ------------------------------------------------------------------------------ candles

    def series(self, market_id: str, interval: str = "1m") -> Series:
        path = self.klines_files.get((market_id, interval))
        if path is None:
            if any(m == market_id for m, _ in self.klines_files):
                raise error(400, -1120, "Invalid interval.")
            raise error(400, -1121, "Invalid symbol.")
        return _load_series(str(path), INTERVAL_MS[interval])

    def market_ids(self) -> list[str]:
        return sorted({m for m, i in self.klines_files if i == "1m"})

    def visible_end(self, series: Series) -> int:
        """Index one past the last candle that has opened by the market's now."""
        return int(np.searchsorted(series.ts, self.market_ms(), side="right"))

    def candle_at(self, market_id: str, open_ms: int, symbol: str) -> Candle | None:
        """The recorded 1m candle of `market_id` that opens at `open_ms`, as the simulator's Candle."""
        series = self.series(market_id)
        row = int(np.searchsorted(series.ts, open_ms, side="left"))
        if row >= len(series.ts) or int(series.ts[row]) != open_ms:
            return None
        o, h, lo, c, v = (Decimal(x) for x in series.values[row])
        return Candle(symbol, "1m", open_ms, o, h, lo, c, v)

    def klines(self, query: dict) -> list:
        for name in ("symbol", "interval"):
            if name not in query:
                raise mandatory(name)
        if query["interval"] not in INTERVAL_MS:
            raise error(400, -1120, "Invalid interval.")
        series = self.series(query["symbol"], query["interval"])
        try:
            limit = int(query.get("limit", DEFAULT_KLINES))
            start = int(query["startTime"]) if "startTime" in query else None
            end = int(query["endTime"]) if "endTime" in query else None
        except ValueError:
            raise error(400, -1100, "Illegal characters found in a parameter.") from None
        if not 1 <= limit <= MAX_KLINES:
            raise error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        lo = int(np.searchsorted(series.ts, start, side="left")) if start is not None else 0
        hi = self.visible_end(series)
        if end is not None:
            hi = min(hi, int(np.searchsorted(series.ts, end, side="right")))
        rows = range(lo, min(hi, lo + limit)) if start is not None else range(max(lo, hi - limit), hi)
        tf = series.interval_ms
        out = []
        for r in rows:
            o, h, l, c, v = series.values[r]
            ts = int(series.ts[r])
            quote = format(float(v) * float(c), ".8f")
            out.append([ts, o, h, l, c, v, ts + tf - 1, quote, 100, "0", "0", "0"])
        return out

    # ------------------------------------------------------------------------------ tickers

    def last(self, market_id: str) -> str | None:
        """The market's price now: the account's mark where it has one, else the recorded close."""
        mark = self.mark_of(market_id)
        if mark is not None:
            return mark
        series = self.series(market_id)
        end = self.visible_end(series)
        return series.values[end - 1][3] if end else None

    def _per_symbol(self, query: dict, one: Callable[[str], dict | None]) -> list | dict:
        if "symbol" in query:
            body = one(query["symbol"])
            if body is None:
                raise error(400, -1121, "Invalid symbol.")
            return body
        return [b for b in (one(m) for m in self.market_ids()) if b is not None]

    def ticker_price(self, query: dict):
        now = self.server_ms()

        def one(market_id):
            last = self.last(market_id)
            return None if last is None else {"symbol": market_id, "price": last, "time": now}

        return self._per_symbol(query, one)

    def book_ticker(self, query: dict):
        """One tick either side of the price: the stand-in has no order book."""
        now = self.server_ms()

        def one(market_id):
            last = self.last(market_id)
            entry = self.symbol_entry(market_id)
            if last is None or entry is None:
                return None
            tick = Decimal(next(f["tickSize"] for f in entry["filters"] if f["filterType"] == "PRICE_FILTER"))
            price = Decimal(last)
            return {"symbol": market_id, "bidPrice": format(price - tick, "f"), "bidQty": "1.000",
                    "askPrice": format(price + tick, "f"), "askQty": "1.000", "time": now, "lastUpdateId": now}

        return self._per_symbol(query, one)

    def ticker_24hr(self, query: dict):
        now = self.market_ms()

        def one(market_id):
            series = self.series(market_id)
            end = self.visible_end(series)
            if not end:
                return None
            begin = int(np.searchsorted(series.ts, now - 86_400_000, side="right"))
            window = series.values[begin:end]
            last_s = self.last(market_id) or window[-1][3]
            opened, last = float(window[0][0]), float(last_s)
            volume = float(np.sum(window[:, 4].astype("float64")))
            return {
                "symbol": market_id, "priceChange": f"{last - opened:.8f}",
                "priceChangePercent": f"{(last / opened - 1) * 100:.3f}", "weightedAvgPrice": last_s,
                "lastPrice": last_s, "lastQty": "0.001", "openPrice": window[0][0],
                "highPrice": repr(float(np.max(window[:, 1].astype("float64")))),
                "lowPrice": repr(float(np.min(window[:, 2].astype("float64")))),
                "volume": f"{volume:.3f}", "quoteVolume": f"{volume * last:.2f}",
                "openTime": int(series.ts[begin]), "closeTime": now, "firstId": 1, "lastId": 2, "count": 2,
            }

        return self._per_symbol(query, one)

    def premium_index(self, query: dict):
        """The funding rate is the one the simulator settles with."""
        now = self.market_ms()

        def one(market_id):
            last = self.last(market_id)
            if last is None:
                return None
            return {
                "symbol": market_id, "markPrice": last, "indexPrice": last, "estimatedSettlePrice": last,
                "lastFundingRate": self.funding_rate, "interestRate": "0.00010000",
                "nextFundingTime": now - now % FUNDING_EVERY_MS + FUNDING_EVERY_MS, "time": self.server_ms(),
            }

        return self._per_symbol(query, one)
