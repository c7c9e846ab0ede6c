"""Is the price we are about to trade on fresh? An entry on a frozen feed is a bet on a ghost.

`FeedWatch` remembers, per symbol, the clock time of the newest observation (use `Ticker.ts_ms`, which
every source reports in the clock's time domain) and answers with the injected clock, so the rule is
the same in live trading, replay and tests. A symbol is stale when its age reaches `stale_after_s`
(at the limit counts as stale: "within the allowed age" means strictly younger), or when it was never
observed at all.
"""

from __future__ import annotations

from clock import Clock
from errors import StaleDataError


class FeedWatch:
    def __init__(self, stale_after_s: float, clock: Clock):
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be positive, got {stale_after_s}")
        self._limit_ms = stale_after_s * 1000
        self._clock = clock
        self._last_ms: dict[str, int] = {}

    def observe(self, symbol: str, ts_ms: int) -> None:
        """Records a fresh observation; an older one than already seen changes nothing."""
        if ts_ms > self._last_ms.get(symbol, -1):
            self._last_ms[symbol] = ts_ms

    def age_s(self, symbol: str) -> float | None:
        """Seconds since the newest observation, None if never observed (never negative)."""
        last = self._last_ms.get(symbol)
        if last is None:
            return None
        return max(0, self._clock.now_ms() - last) / 1000

    def is_stale(self, symbol: str) -> bool:
        last = self._last_ms.get(symbol)
        return last is None or self._clock.now_ms() - last >= self._limit_ms

    def stale_symbols(self, symbols: tuple[str, ...] | list[str] | None = None) -> list[str]:
        """The stale ones among `symbols` (default: every symbol observed so far), in the given order."""
        names = list(self._last_ms) if symbols is None else list(symbols)
        return [s for s in names if self.is_stale(s)]

    def check(self, symbol: str) -> None:
        """Raises StaleDataError (with the age and the limit) when the symbol's price is stale."""
        if not self.is_stale(symbol):
            return
        age = self.age_s(symbol)
        limit = self._limit_ms / 1000
        if age is None:
            raise StaleDataError(f"{symbol}: no price received yet (limit {limit:g} s)")
        raise StaleDataError(f"{symbol}: last price is {age:g} s old (limit {limit:g} s)")
