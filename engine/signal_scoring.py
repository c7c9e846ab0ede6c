"""Scoring signals by what the price did next: forward returns at fixed horizons.

Every signal is appended to the `signals` stream when it happens (kind=signal, with whether it was
taken and why not). When its last horizon has passed, an outcome record (kind=outcome) follows with
the return at each horizon in the signal's direction and whether it was right. Signals still waiting
for their horizons live in the `signals_pending` hash, so a restart loses none.
"""

from __future__ import annotations

from decimal import Decimal

from engine.candles import close_time_ms
from typing import Any

from models import Candle, Signal
from stores import EngineStore, Memory

PENDING = Memory.PENDING_SIGNALS


class SignalScorer:
    def __init__(self, store: EngineStore | None, horizons_minutes: tuple[int, ...]):
        self.store = store
        self.horizons = tuple(sorted(horizons_minutes))
        self.pending: dict[str, dict] = {}
        # the same records by symbol: a candle looks only at its own symbol's signals (with 100 symbols,
        # scanning every pending signal on every candle was the largest cost of a live tick in memory)
        self._by_symbol: dict[str, dict[str, dict]] = {}

    def load(self) -> None:
        if self.store is not None:
            self.pending = self.store.recall(PENDING)
        self._by_symbol = {}
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
        pending: dict[str, Any] = {"symbol": signal.symbol, "side": signal.side.value, "price": str(signal.price), "ts_ms": signal.ts_ms, "returns": {}}
        self.pending[signal_id] = pending
        self._by_symbol.setdefault(signal.symbol, {})[signal_id] = pending
        if self.store is not None:
            self.store.append_signal(record)
            self.store.remember(PENDING, signal_id, pending)
        return signal_id

    def on_candle(self, candle: Candle) -> list[dict]:
        """Fill in horizons this candle reaches; returns the outcome records completed."""
        done: list[dict] = []
        mine = self._by_symbol.get(candle.symbol)
        if not mine:
            return done
        now = close_time_ms(candle)
        for signal_id, p in list(mine.items()):
            changed = False
            sign = 1 if p["side"] == "long" else -1
            for h in self.horizons:
                key = f"{h}m"
                if key not in p["returns"] and now >= p["ts_ms"] + h * 60_000:
                    ret = (candle.close / Decimal(p["price"]) - 1) * 100 * sign
                    p["returns"][key] = str(ret.quantize(Decimal("0.0001")))
                    changed = True
            if len(p["returns"]) == len(self.horizons):
                outcome = {"kind": "outcome", "signal_id": signal_id, "symbol": p["symbol"], "side": p["side"], "ts_ms": p["ts_ms"]}
                for key, ret in p["returns"].items():
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
        return done
