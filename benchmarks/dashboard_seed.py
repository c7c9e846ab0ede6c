"""A bot's records as a long paper and ghost run leaves them, written straight into Redis for the
dashboard benchmark and for looking at the page: trades, signals with their outcomes, the decision log,
equity, candles, an account with positions (and their stops and take-profits), orders, risk, metrics.

Seeded and deterministic (random.Random(seed)); money as Decimal; prices on each symbol's tick.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

from analytics.metrics import compute_metrics, to_jsonable
from models import (
    Book,
    Account, Candle, ExitReason, Mode, Order, OrderSide, OrderStatus, OrderType, Position, Side,
    Trade, to_record,
)
from state import StateStore
from stores import Memory

SYMBOLS = {  # symbol: (price, tick)
    "BTC/USDT:USDT": (Decimal("95000"), Decimal("0.1")),
    "ETH/USDT:USDT": (Decimal("1800"), Decimal("0.01")),
    "SOL/USDT:USDT": (Decimal("145"), Decimal("0.01")),
}
STRATEGIES = ("ema_trend", "mean_reversion", "momentum_spike")
REASONS = (ExitReason.TAKE_PROFIT, ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP, ExitReason.TIME_LIMIT,
           ExitReason.VOLUME_EXHAUSTION, ExitReason.BREAKEVEN_STOP)
KINDS = ("signal", "sizing", "skip", "order", "fill", "exit", "command", "state")
MINUTE = 60_000
BATCH = 2000


def _tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value() * tick


def _pipe_xadd(store: StateStore, stream: str, rows: list[dict[str, str]]) -> None:
    for start in range(0, len(rows), BATCH):
        pipe = store.client.pipeline(transaction=False)
        for fields in rows[start:start + BATCH]:
            pipe.xadd(store.key(stream), fields)
        pipe.execute()


def seed(store: StateStore, *, trades: int = 50_000, signals: int = 100_000, audit: int = 20_000,
         equity: int = 5_000, now_ms: int, seed_value: int = 7, mode: str = "paper") -> dict[str, Any]:
    """Writes the records; returns what was written (counts). Streams are written uncapped."""
    rng = random.Random(seed_value)
    symbols = list(SYMBOLS)
    start_ms = now_ms - (max(trades, signals // 2, 1) + 240) * MINUTE  # the last exit is before now

    trade_rows: list[dict[str, str]] = []
    paper_trades: list[Trade] = []
    ghost_trades: list[Trade] = []
    t0 = start_ms
    for i in range(trades):
        symbol = symbols[i % len(symbols)]
        price, tick = SYMBOLS[symbol]
        side = Side.LONG if rng.random() < 0.6 else Side.SHORT
        entry = _tick(price * Decimal(str(1 + rng.uniform(-0.05, 0.05))), tick)
        move = Decimal(str(rng.gauss(0.001, 0.01)))
        exit_price = _tick(entry * (1 + (move if side is Side.LONG else -move)), tick)
        qty = (Decimal("1000") / entry).quantize(Decimal("0.001"))
        gross = (exit_price - entry) * qty * (1 if side is Side.LONG else -1)
        fees = ((entry + exit_price) * qty * Decimal("0.0004")).quantize(Decimal("0.00000001"))
        entry_ms = t0 + i * MINUTE
        exit_ms = entry_ms + rng.randint(1, 240) * MINUTE
        trade = Trade(f"t{i}", symbol, side, qty, entry, exit_price, entry_ms, exit_ms, gross, fees, gross - fees,
                      rng.choice(REASONS), Mode.PAPER if i % 2 == 0 else Mode.GHOST, strategy=rng.choice(STRATEGIES),
                      venue="sim" if i % 2 == 0 else "")
        trade_rows.append(to_record(trade))
        if i >= trades - 4000:  # the bot computes its metrics over its newest trades
            (paper_trades if trade.mode is Mode.PAPER else ghost_trades).append(trade)
    _pipe_xadd(store, "trades", trade_rows)

    signal_rows = []
    n_signals = signals // 2  # each signal and its outcome: `signals` entries in the stream
    for i in range(n_signals):
        symbol = symbols[i % len(symbols)]
        price, tick = SYMBOLS[symbol]
        ts = start_ms + i * MINUTE
        direction = "long" if rng.random() < 0.55 else "short"
        signal_id = f"{symbol}|{ts}|{STRATEGIES[i % 3]}|{direction}"
        taken = rng.random() < 0.3
        signal_rows.append({
            "kind": "signal", "signal_id": signal_id, "symbol": symbol, "side": direction,
            "strength": f"{rng.random():.3f}", "strategy": STRATEGIES[i % 3], "reason": "ema cross with volume 1.8x",
            "price": str(_tick(price, tick)), "ts_ms": str(ts), "taken": "True" if taken else "False",
            "why_not": "" if taken else "max_positions: 3 open",
        })
        outcome = {"kind": "outcome", "signal_id": signal_id, "symbol": symbol, "side": direction, "ts_ms": str(ts)}
        for h in (5, 15, 60):
            ret = Decimal(str(rng.gauss(0.02, 0.4))).quantize(Decimal("0.0001"))
            outcome[f"ret_{h}m"] = str(ret)
            outcome[f"correct_{h}m"] = "True" if ret > 0 else "False"
        signal_rows.append(outcome)
    _pipe_xadd(store, "signals", signal_rows)

    audit_rows = []
    for i in range(audit):
        kind = KINDS[i % len(KINDS)]
        symbol = symbols[i % len(symbols)]
        audit_rows.append({"kind": kind, "ts_ms": str(now_ms - (audit - i) * 3000),
                           "message": f"{kind} {symbol} #{i}: entry planned at {SYMBOLS[symbol][0]}",
                           "data": json.dumps({"symbol": symbol})})
    _pipe_xadd(store, "audit", audit_rows)

    balance = Decimal("10000")
    equity_rows = []
    for i in range(equity):
        balance += Decimal(str(rng.gauss(0.05, 3))).quantize(Decimal("0.00000001"))
        equity_rows.append({"ts_ms": str(now_ms - (equity - i) * 5000), "equity": str(balance),
                            "wallet": str(balance), "unrealized": "0"})
    _pipe_xadd(store, f"equity:{Book.of(mode, 'sim').key}", equity_rows)  # the book the bot writes now

    candles = []
    for symbol, (price, tick) in SYMBOLS.items():
        close = price
        for i in range(500):
            open_ = close
            close = _tick(open_ * Decimal(str(1 + rng.gauss(0, 0.001))), tick)
            high = max(open_, close) + tick * rng.randint(0, 20)
            low = min(open_, close) - tick * rng.randint(0, 20)
            candles.append(Candle(symbol, "1m", now_ms - (500 - i) * MINUTE, open_, high, low, close,
                                  Decimal(rng.randint(1, 400))))
    store.push_candles(candles)

    last = {c.symbol: c for c in candles}
    positions: list[Position] = []
    open_trades: dict[str, dict[str, Any]] = {}
    stops: dict[str, Decimal] = {}
    for symbol in symbols[:2]:
        price, tick = SYMBOLS[symbol]
        mark = last[symbol].close
        entry = _tick(mark * Decimal("0.995"), tick)
        qty = (Decimal("2000") / entry).quantize(Decimal("0.001"))
        positions.append(Position(symbol, Side.LONG, qty, entry, leverage=3, mark_price=mark,
                                  unrealized_pnl=(mark - entry) * qty, isolated_margin=entry * qty / 3,
                                  liquidation_price=_tick(entry * Decimal("0.67"), tick), opened_ms=now_ms - 90 * MINUTE))
        stop, take_profit = _tick(entry * Decimal("0.98"), tick), _tick(entry * Decimal("1.03"), tick)
        stops[symbol] = stop
        open_trades[symbol] = {"state": {
            "symbol": symbol, "side": "long", "qty": str(qty), "entry_price": str(entry), "entry_ms": now_ms - 90 * MINUTE,
            "stop": str(stop), "take_profit": str(take_profit), "initial_stop": str(stop), "peak_price": str(mark),
            "breakeven_moved": False, "trailing_active": False, "strategy": "ema_trend", "trade_id": f"open-{symbol}",
        }, "extra": {}}
    store.write_positions(positions)
    for symbol, value in open_trades.items():
        store.remember(Memory.OPEN_TRADES, symbol, value)
    store.write_orders([
        Order(f"stop-{p.symbol}", p.symbol, OrderSide.SELL, OrderType.STOP_MARKET, p.qty, OrderStatus.NEW,
              stop_price=stops[p.symbol], reduce_only=True, created_ms=now_ms - 89 * MINUTE)
        for p in positions
    ])
    unrealized = sum((p.unrealized_pnl for p in positions), Decimal(0))
    margin = sum((p.isolated_margin for p in positions), Decimal(0))
    store.write_account(Account(balance, unrealized, margin, balance - margin, now_ms))
    store.write_risk({"margin_use_pct": "8.1", "exposure_pct": "40.2", "daily_pnl": "-16.3279118",
                      "weekly_pnl": "112.5", "daily_loss_pct": "0.16", "recommendation": "ACTIVE", "reason": "",
                      "ts_ms": now_ms})
    store.write_metrics("paper", to_jsonable(compute_metrics(paper_trades, starting_equity=Decimal("10000"))))
    store.write_metrics("ghost", to_jsonable(compute_metrics(ghost_trades, starting_equity=Decimal("10000"))))
    store.write_state(mode=mode, venue="sim", trading_state="ACTIVE", heartbeat_ms=now_ms, progress_ms=now_ms,
                      running="1", data_source="synthetic", feed_stale="0", started_at_ms=now_ms - 3600_000,
                      pnl_today="-16.3279118", symbols=",".join(symbols))
    return {"trades": trades, "signals": len(signal_rows), "audit": audit, "equity": equity,
            "candles": len(candles), "positions": len(positions)}
