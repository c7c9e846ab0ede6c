"""The venue's symbol rules (tick, lot, market lot, minimum notional) from exchangeInfo, with when they were read.

Binance changes these filters without notice, so they are read at start-up and again once they are
older than the refresh interval; a failed refresh keeps the rules last read (and says so) rather than
stopping the bot on a call that only checks for news.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from errors import ExchangeError, OrderRejectedError
from simulator.symbols import SymbolRules, rules_from_filters

log = logging.getLogger(__name__)


def rules_from_markets(markets: Mapping[str, Mapping[str, Any]]) -> dict[str, SymbolRules]:
    """SymbolRules for every ccxt market whose exchangeInfo entry (market['info']) has the vital filters."""
    out = {}
    for symbol, market in markets.items():
        info = market.get("info") or {}
        rules = rules_from_filters(symbol, str(info.get("symbol", market.get("id", ""))), info.get("filters") or [])
        if rules is not None:
            out[symbol] = rules
    return out


class RulesCache:
    def __init__(self, venue: str, load_markets: Callable[[], Mapping[str, Mapping[str, Any]]], refresh_s: float,
                 *, monotonic: Callable[[], float] = time.monotonic, wall_ms: Callable[[], int] | None = None):
        self.venue = venue
        self._load = load_markets
        self.refresh_s = refresh_s
        self._monotonic = monotonic
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._rules: dict[str, SymbolRules] = {}
        self._read_at = float("-inf")
        self.read_at_ms: int | None = None  # wall time of the exchangeInfo the rules came from

    def load(self) -> dict[str, SymbolRules]:
        self._rules = rules_from_markets(self._load())
        self._read_at = self._monotonic()
        self.read_at_ms = self._wall_ms()
        return dict(self._rules)

    def all(self) -> dict[str, SymbolRules]:
        self._refresh_if_old()
        return dict(self._rules)

    def get(self, symbol: str) -> SymbolRules:
        self._refresh_if_old()
        try:
            return self._rules[symbol]
        except KeyError:
            raise OrderRejectedError(f"{self.venue} lists no trading rules for {symbol}: Invalid symbol.", -1121) from None

    def _refresh_if_old(self) -> None:
        if self._monotonic() - self._read_at < self.refresh_s:
            return
        try:
            self.load()
        except ExchangeError as exc:
            self._read_at = self._monotonic()  # not again on every call: at the next interval
            log.warning("%s: exchangeInfo refresh failed, keeping the rules read at %s: %s",
                        self.venue, self.read_at_ms, exc)
