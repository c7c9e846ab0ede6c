"""A sha256 per row of `benchmarks.backtest` of everything a backtest produced, to tell that a faster engine
decides exactly as the old one (run it in both trees: the hashes must be equal).

    python -m benchmarks.backtest_fingerprint [--rows ema1,ema3,default1,default3] [--verbose]

Each row prints three hashes: the whole (everything below), the results (trades, equity curve, metrics,
stops, signals: what the rules decided, which no change of the order path may move) and the order path
(the audit events, the store at the end, the venue's calls: which orders carried it out). A change that
places fewer orders for the same decisions (no take-profit where the rules switch it off) keeps the results
hash and moves the order-path one, on the rows whose rules it touches only.

Hashed per row: every trade's fields, the equity curve, the metrics, the stops, the halt, the audit events
(kind, time, message, data), the signal records as a reader sees them, what the store holds at the end
(the risk report, the state fields, the account, positions, orders, equity points and what it remembers), and what the venue saw: every
order call (the intent and the order it returned), every cancel, the fills of every candle and the orders
it holds at the end. The venue and the store are caught as they are built (their classes' `__init__`
wrapped here, not in the engine), so the backtest runs as `benchmarks.backtest` runs it.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any, Callable

from benchmarks.backtest import EMA_CONFIG, FILES, KLINES
from bot.backtest import Backtest, load_tables
from memory_store import InMemoryStore
from settings import load_settings
from simulator.exchange import SimExchange
from stores import Memory

ROWS = {
    "ema1": (EMA_CONFIG, 0, ["BTC/USDT:USDT"]),
    "ema3": (EMA_CONFIG, 0, list(FILES)),
    "default1": (None, None, ["BTC/USDT:USDT"]),
    "default3": (None, None, list(FILES)),
}


class _Witness:
    """What the venue saw, as text taken when it happened (an order changed later cannot rewrite it)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.exchanges: list[SimExchange] = []
        self.stores: list[InMemoryStore] = []

    def install(self) -> Callable[[], None]:
        saved = {name: getattr(SimExchange, name) for name in ("__init__", "submit", "cancel", "cancel_all", "on_candle")}
        saved_store = InMemoryStore.__init__
        witness = self

        def init(self: SimExchange, *args: Any, **kwargs: Any) -> None:
            saved["__init__"](self, *args, **kwargs)
            witness.exchanges.append(self)

        def call(name: str) -> Callable[..., Any]:
            def wrapped(self: SimExchange, *args: Any, **kwargs: Any) -> Any:
                try:
                    out = saved[name](self, *args, **kwargs)
                except Exception as exc:
                    witness.lines.append(f"{name} {args!r} {kwargs!r} raised {type(exc).__name__}: {exc}")
                    raise
                witness.lines.append(f"{name} {args!r} {kwargs!r} -> {out!r}")
                return out
            return wrapped

        def store_init(self: InMemoryStore, *args: Any, **kwargs: Any) -> None:
            saved_store(self, *args, **kwargs)
            witness.stores.append(self)

        SimExchange.__init__ = init  # type: ignore[method-assign]
        for name in ("submit", "cancel", "cancel_all", "on_candle"):
            setattr(SimExchange, name, call(name))
        InMemoryStore.__init__ = store_init  # type: ignore[method-assign]

        def uninstall() -> None:
            for name, fn in saved.items():
                setattr(SimExchange, name, fn)
            InMemoryStore.__init__ = saved_store  # type: ignore[method-assign]
        return uninstall


def fingerprint(row: str) -> tuple[str, dict[str, str]]:
    config, warmup, symbols = ROWS[row]
    settings = load_settings(config, environ={"TB_BOT__SYMBOLS": "[" + ", ".join(symbols) + "]"})
    tables = {s: load_tables(KLINES / FILES[s], [s], settings.bot.timeframe)[s] for s in symbols}
    witness = _Witness()
    uninstall = witness.install()
    try:
        result = Backtest(settings, tables, warmup=warmup).run()
    finally:
        uninstall()
    (exchange,), (store,) = witness.exchanges, witness.stores
    parts = {
        "trades": "\n".join(repr(t) for t in result.trades),
        "equity": repr(result.equity_curve),
        "metrics": repr((result.metrics, result.by_symbol, result.by_exit_reason, result.final_equity,
                         result.candles, result.candles_processed, result.halt)),
        "stops": repr(sorted(result.stops.items())),
        "audit": "\n".join(repr((e.kind, e.ts_ms, e.message, dict(e.data))) for e in store.audit_events),
        "signals": "\n".join(repr(r) for r in store.read_signals(count=len(store.signals))),
        "store": repr((store.risk, sorted(store.read_state().items()), store.account, store.positions, store.orders,
                       list(store.equity), [(m.value, store.recall(m)) for m in Memory])),
        "venue": "\n".join(witness.lines + [repr(exchange.orders_by_id()), repr(exchange.ledger())]),
    }
    digests = {name: hashlib.sha256(text.encode()).hexdigest()[:16] for name, text in parts.items()}
    whole = _digest(parts, sorted(parts))
    digests["results"] = _digest(parts, RESULTS)[:16]
    digests["orders"] = _digest(parts, sorted(set(parts) - set(RESULTS)))[:16]
    return whole, digests


RESULTS = ("equity", "metrics", "signals", "stops", "trades")  # what the rules decided (see the module)


def _digest(parts: dict[str, str], names: Any) -> str:
    return hashlib.sha256("\n".join(parts[name] for name in names).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backtest_fingerprint")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--verbose", action="store_true", help="a hash per part too")
    args = parser.parse_args(argv)
    for row in args.rows.split(","):
        whole, digests = fingerprint(row)
        print(f"{row:9} {whole}  results {digests.pop('results')}  orders {digests.pop('orders')}")
        if args.verbose:
            for name, digest in digests.items():
                print(f"          {name:8} {digest}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
