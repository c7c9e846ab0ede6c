"""Scoring signals by what the price did next: forward returns at fixed horizons.

Every signal is appended to the `signals` stream when it happens (kind=signal, with whether it was
taken and why not). When its last horizon has passed, an outcome record (kind=outcome) follows with
the return at each horizon in the signal's direction and whether it was right. Signals still waiting
for their horizons live in the `signals_pending` hash, so a restart loses none; a signal is scored only
on candles of the feed it came from (`feed`), so a bot restarted on another source leaves it waiting.

A return whose window holds a gap in the market data (a candle of the symbol opening after the close of
the one before) is not a return over its horizon: a "60-minute" return across an exchange outage spanned
300-330 minutes. Such a horizon is flagged and not scored: `ret_<h>` and `correct_<h>` stay empty,
`gap_<h>` says how many minutes the return really spanned and `ret_<h>_across_gap` keeps the raw figure.
The gap is told from the candles this process saw, so a bot restart's own downtime is not flagged.
"""

from __future__ import annotations

from decimal import Decimal

from engine.candles import close_time_ms
from typing import Any

from models import Candle, Signal
from stores import EngineStore, Memory

PENDING = Memory.PENDING_SIGNALS
_NEVER = 2**63


class SignalScorer:
    def __init__(self, store: EngineStore | None, horizons_minutes: tuple[int, ...], feed: str = ""):
        self.store = store
        self.feed = feed  # a signal is scored on the feed it came from, never on another's prices
        self.horizons = tuple(sorted(horizons_minutes))
        self._horizon_keys = tuple((f"{h}m", h * 60_000) for h in self.horizons)  # built once, not per candle
        self.pending: dict[str, dict] = {}
        self._last_close: dict[str, int] = {}  # per symbol, the close time of the last candle seen
        # the same records by symbol: a candle looks only at its own symbol's signals (with 100 symbols,
        # scanning every pending signal on every candle was the largest cost of a live tick in memory)
        self._by_symbol: dict[str, dict[str, dict]] = {}
        # per symbol, the earliest time one of its pending signals reaches its next horizon: a candle before
        # it changes none of them (most candles), unless a gap opens before it; absent: look at them all
        self._due: dict[str, int] = {}

    def load(self) -> None:
        if self.store is not None:
            self.pending = self.store.recall(PENDING)
        self._by_symbol = {}
        self._due = {}
        for signal_id, p in self.pending.items():
            self._by_symbol.setdefault(p["symbol"], {})[signal_id] = p

    def pending_for(self, symbol: str) -> bool:
        return bool(self._by_symbol.get(symbol))

    def record(self, signal: Signal, *, taken: bool, why_not: str = "") -> str:
        signal_id = f"{signal.symbol}|{signal.ts_ms}|{signal.strategy}|{signal.side.value}"
        record = {
            "kind": "signal",
            "signal_id": signal_id,
            "symbol": signal.symbol,
            "side": signal.side.value,
            "strength": f"{signal.strength:.3f}",
            "strategy": signal.strategy,
            "reason": signal.reason,
            "price": signal.price,
            "ts_ms": signal.ts_ms,
            "taken": taken,
            "why_not": why_not,
        }
        pending: dict[str, Any] = {"symbol": signal.symbol, "side": signal.side.value, "price": str(signal.price),
                                   "ts_ms": signal.ts_ms, "returns": {}, "feed": self.feed}
        self.pending[signal_id] = pending
        self._by_symbol.setdefault(signal.symbol, {})[signal_id] = pending
        due = self._due.get(signal.symbol)
        if due is not None:
            self._due[signal.symbol] = min(due, self._next_due(pending))
        if self.store is not None:
            self.store.append_signal(record)
            self.store.remember(PENDING, signal_id, pending)
        return signal_id

    def on_candle(self, candle: Candle) -> list[dict]:
        """Fill in horizons this candle reaches; returns the outcome records completed."""
        done: list[dict] = []
        now = close_time_ms(candle)
        # the last close is kept for every candle, signals pending or not: a gap is judged against it
        last = self._last_close.get(candle.symbol)
        gap_before = last is not None and candle.open_time_ms > last
        if last is None or now > last:
            self._last_close[candle.symbol] = now
        mine = self._by_symbol.get(candle.symbol)
        if not mine:
            return done
        if not gap_before and now < self._due.get(candle.symbol, now):
            return done
        for signal_id, p in list(mine.items()):
            if p.get("feed", self.feed) != self.feed:
                continue  # another feed's signal waits for its own feed's candles
            changed = False
            if gap_before and last is not None and last >= p["ts_ms"]:  # the hole lies inside this signal's window
                p["gap"] = True
                changed = True
            returns, since = p["returns"], now - p["ts_ms"]
            for key, horizon_ms in self._horizon_keys:
                if since < horizon_ms:
                    break  # the horizons are in order: the later ones are not reached either
                if key not in returns:
                    sign = 1 if p["side"] == "long" else -1
                    ret = (candle.close / Decimal(p["price"]) - 1) * 100 * sign
                    returns[key] = str(ret.quantize(Decimal("0.0001")))
                    if p.get("gap"):
                        p.setdefault("spans", {})[key] = since // 60_000
                    changed = True
            if len(returns) == len(self.horizons):
                outcome = {"kind": "outcome", "signal_id": signal_id, "symbol": p["symbol"], "side": p["side"], "ts_ms": p["ts_ms"]}
                spans = p.get("spans", {})
                for key, ret in p["returns"].items():
                    if key in spans:  # across a gap: flagged, not scored
                        outcome[f"ret_{key}"] = ""
                        outcome[f"correct_{key}"] = ""
                        outcome[f"ret_{key}_across_gap"] = ret
                        outcome[f"gap_{key}"] = f"{spans[key]} min across a market data gap; not scored"
                        continue
                    outcome[f"ret_{key}"] = ret
                    outcome[f"correct_{key}"] = Decimal(ret) > 0
                del self.pending[signal_id]
                del mine[signal_id]
                if self.store is not None:
                    self.store.append_signal(outcome)
                    self.store.forget(PENDING, signal_id)
                done.append(outcome)
            elif changed and self.store is not None:
                self.store.remember(PENDING, signal_id, p)
        self._due[candle.symbol] = min((self._next_due(p) for p in mine.values() if p.get("feed", self.feed) == self.feed),
                                       default=_NEVER)
        return done

    def _next_due(self, p: dict) -> int:
        """When the pending signal reaches the first horizon it has no return for yet."""
        returns = p["returns"]
        for key, horizon_ms in self._horizon_keys:
            if key not in returns:
                return p["ts_ms"] + horizon_ms
        return p["ts_ms"]  # complete (not kept pending): due at once
