"""The decision log: why the bot did or did not trade (audit stream) and every signal with whether it
was taken (signals stream), after running candles through an engine built like the bot's."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clock import SimulatedClock, SystemClock
from bot.assembly import EngineParts, assemble
from engine.strategies.base import Strategy
from marketdata.replay import ReplaySource
from models import Candle, ExitReason, Mode, Side
from settings import load_settings
from memory_store import InMemoryStore

SOL = "SOL/USDT:USDT"
SOL_FILE = "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv"
MINUTE = 60_000
T0 = 1_746_000_000_000 - 1_746_000_000_000 % (15 * MINUTE)
CODES = ("low_confidence", "conflicting_signals", "a stronger signal", "no_valid_stop", "stop_too_far",
         "below_min_notional", "halted", "reducing", "stale_price", "max_positions", "loss_limit")


def ghost_engine(store: InMemoryStore, **env: str) -> EngineParts:
    settings = load_settings(environ={"TB_BOT__SYMBOLS": f"[{SOL}]", **env})
    return assemble(settings, store, Mode.GHOST, market_clock=SimulatedClock(0), wall_clock=SystemClock())


# ----------------------------------------------------------------------------- a replay of real candles


@pytest.fixture(scope="module")
def sol_candles(shared_klines: Path) -> tuple[dict[str, list[Candle]], list[Candle]]:
    source = ReplaySource({SOL: shared_klines / SOL_FILE}, "1m", SystemClock(), speed=0, loop=False, batch_candles=200)
    backfill = source.backfill(300)
    return backfill, source.poll()[:200]


def test_replay_when_signals_come_and_go_then_the_audit_explains_signals_sizing_orders_exits_and_skips(store, sol_candles):
    # Arrange: a confidence threshold that some real signals miss, so some are skipped
    backfill, candles = sol_candles
    parts = ghost_engine(store, TB_STRATEGY__MIN_CONFIDENCE="0.5")
    parts.engine.warm_up(backfill)

    # Act
    trades = parts.engine.process(candles)

    # Assert
    audit = store.read_audit(10_000)
    by_kind: dict[str, list] = {}
    for event in audit:
        by_kind.setdefault(event.kind, []).append(event)
    assert {"signal", "sizing", "order", "exit", "skip"} <= set(by_kind), sorted(by_kind)
    for e in by_kind["signal"]:
        assert re.match(rf"{re.escape(SOL)} (long|short) strength \d\.\d\d by \w+: .+", e.message), e.message
    for e in by_kind["sizing"]:
        assert re.match(rf"{re.escape(SOL)}: fixed_risk → qty [\d.]+ \(.+\)", e.message), e.message
    assert len(by_kind["order"]) == parts.engine.stats.entries >= 1
    for e in by_kind["order"]:
        assert e.data["client_order_id"] == f"{e.data['trade_id']}-en"
        assert "stop" in e.message and "take-profit" in e.message
    assert [e.data["trade_id"] for e in by_kind["exit"]] == [t.trade_id for t in trades] and trades
    for e, t in zip(by_kind["exit"], trades):
        assert f"closed by {t.exit_reason.value}: P&L" in e.message
    for e in by_kind["skip"]:
        assert any(code in e.message for code in CODES), e.message
    # every signal in the signals stream says whether it was taken, and why not when not
    records = [r for r in store.read_signals(1000) if r["kind"] == "signal"]
    assert records and all(r["taken"] == "1" or r["why_not"] for r in records)
    assert sum(r["taken"] == "1" for r in records) == parts.engine.stats.entries


# ------------------------------------------------------------------------ strategies that say one thing


class Says(Strategy):
    """A strategy with a fixed opinion on the newest candle (the registry's extension point, not a mock)."""

    def __init__(self, name: str, side: Side, strength: float):
        super().__init__(None)
        self.name, self.side, self.strength = name, side, strength

    @property
    def warmup(self) -> int:
        return 1

    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        side = np.zeros(len(frame), dtype=np.int64)
        side[-1] = self.side.sign
        strength = np.zeros(len(frame))
        strength[-1] = self.strength
        reason = pd.Series([""] * (len(frame) - 1) + [f"{self.name} says {self.side.value}"], index=frame.index, dtype=object)
        return pd.DataFrame({"side": side, "strength": strength, "reason": reason}, index=frame.index)


def v_shape() -> list[Candle]:
    """SOL-like prices: down to 98.5 and back to 100, so a long has a swing low for its stop."""
    closes = ["100"] * 40 + [f"{100 - i * 0.1:.2f}" for i in range(16)] + [f"{98.5 + i * 0.1:.2f}" for i in range(1, 16)]
    out, previous = [], Decimal(closes[0])
    for i, raw in enumerate(closes):
        close = Decimal(raw)
        out.append(Candle(SOL, "1m", T0 + i * MINUTE, previous, max(previous, close) + Decimal("0.05"),
                          min(previous, close) - Decimal("0.05"), close, Decimal("1000")))
        previous = close
    return out


def run_one_candle(store: InMemoryStore, strategies: list[Strategy]) -> EngineParts:
    candles = v_shape()
    parts = ghost_engine(store, TB_STRATEGY__ENABLED="[]", TB_STRATEGY__MIN_CONFIDENCE="0.5")
    parts.engine.strategies = strategies
    parts.engine.warm_up({SOL: candles[:-1]})
    parts.engine.on_candle(candles[-1])
    return parts


def signal_records(store: InMemoryStore) -> list[tuple[str, str, str]]:
    return [(r["strategy"], r["taken"], r["why_not"]) for r in store.read_signals(100) if r["kind"] == "signal"]


def test_on_candle_when_two_strategies_agree_then_the_stronger_is_taken_once_and_the_weaker_skipped(store: InMemoryStore):
    # Act
    parts = run_one_candle(store, [Says("alpha", Side.LONG, 0.9), Says("beta", Side.LONG, 0.6)])

    # Assert
    assert sorted(signal_records(store)) == [
        ("alpha", "1", ""), ("beta", "0", "a stronger signal in the same direction was kept"),
    ]
    assert parts.engine.stats.entries == 1
    skipped = [e.message for e in store.read_audit(100, kinds=["skip"])]
    assert skipped == [f"{SOL} long beta: a stronger signal in the same direction was kept"]
    assert "confirmed by beta" in store.read_audit(100, kinds=["signal"])[0].message


def test_on_candle_when_strategies_disagree_then_neither_trades_and_both_skips_say_so(store: InMemoryStore):
    # Act
    parts = run_one_candle(store, [Says("alpha", Side.LONG, 0.9), Says("beta", Side.SHORT, 0.8)])

    # Assert
    records = signal_records(store)
    assert sorted((s, taken) for s, taken, _ in records) == [("alpha", "0"), ("beta", "0")]
    assert all(why.startswith("conflicting_signals: ") for _, _, why in records)
    assert parts.engine.stats.entries == 0 and parts.executor.trade_states() == {}


def test_on_candle_when_a_signal_is_below_min_confidence_then_skipped_with_its_own_strength(store: InMemoryStore):
    # Act
    run_one_candle(store, [Says("alpha", Side.LONG, 0.3)])

    # Assert
    assert signal_records(store) == [
        ("alpha", "0", f"low_confidence: {SOL} long from alpha: strength 0.30 < min_confidence 0.50"),
    ]


def test_close_when_a_position_is_closed_by_hand_then_the_exit_names_the_reason_and_pnl(store: InMemoryStore):
    # Arrange
    parts = run_one_candle(store, [Says("alpha", Side.LONG, 0.9)])

    # Act
    trades = parts.engine.close(SOL, ExitReason.MANUAL, detail="closed by the test")

    # Assert
    exits = store.read_audit(100, kinds=["exit"])
    assert [e.data["trade_id"] for e in exits] == [trades[0].trade_id]
    assert exits[0].message.startswith(f"{SOL} long closed by manual: P&L ") and "(closed by the test)" in exits[0].message
