"""The in-memory store builds the round trip's audit events only when they are read (a backtest reads
them once, at the end): read, they are the events the Redis store holds for the same round trip, in the
same order, among the events audited at once."""

from __future__ import annotations

import json
from decimal import Decimal

from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from memory_store import InMemoryStore
from models import AuditEvent, Candle, ExitReason, Mode, Side
from settings import load_settings

BTC = "BTC/USDT:USDT"
MINUTE = 60_000
T0 = 1_747_008_000_000


def candle(ts: int, price: str) -> Candle:
    p = Decimal(price)
    return Candle(BTC, "1m", ts, p, p, p, p, Decimal("1000"))


def round_trip(store) -> list[tuple[str, int, str, dict]]:
    settings = load_settings(environ={
        "TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STRATEGY__ENABLED": "[]", "TB_STOPS__METHOD": "none", "TB_SIZING__METHOD": "fixed_notional",
        "TB_SIZING__FIXED_NOTIONAL": "1000",
        "TB_VENUE__LEVERAGE": "1", "TB_MARKET_DATA__STALE_AFTER_SECONDS": "1000000000"})
    engine = assemble(settings, store, Mode.PAPER, market_clock=SimulatedClock(0), wall_clock=SystemClock()).engine
    engine.process([candle(T0 + i * MINUTE, "60000") for i in range(3)])
    assert engine.try_entry(engine.manual_signal(BTC, Side.LONG, Decimal("1000")), engine.windows[BTC].candles()) is None
    engine.process([candle(T0 + (3 + i) * MINUTE, "60600") for i in range(2)])
    engine.audit("command", "an event audited at once, between two built later", by="test")
    assert len(engine.close(BTC, ExitReason.MANUAL)) == 1
    # as Redis gives them back: data through JSON
    return [(e.kind, e.ts_ms, e.message, json.loads(json.dumps(dict(e.data), default=str))) for e in store.read_audit(1000)]


def test_read_audit_when_the_events_were_built_later_then_they_are_the_redis_stores_events_in_order(store):
    memory = InMemoryStore("audit")

    in_memory = round_trip(memory)

    assert [kind for kind, *_ in in_memory if kind in ("signal", "sizing", "order", "venue_order", "fill", "exit")] == [
        "signal", "sizing", "venue_order", "fill", "venue_order", "venue_order", "order", "venue_order", "fill", "exit"]
    assert [kind for kind, *_ in in_memory].index("command") < [kind for kind, *_ in in_memory].index("exit")
    assert in_memory == round_trip(store)


def test_audit_events_when_more_than_kept_then_the_newest_are_built_and_the_oldest_dropped():
    memory = InMemoryStore("audit", stream_kept=3)
    memory.audit(AuditEvent("command", 1, "first"))
    for ts in (2, 3, 4):
        memory.audit_later("signal", ts, lambda n: (f"signal {n}", {"n": n}), (ts,))

    assert [(e.kind, e.ts_ms, e.message, dict(e.data)) for e in memory.read_audit(10)] == [
        ("signal", 2, "signal 2", {"n": 2}), ("signal", 3, "signal 3", {"n": 3}), ("signal", 4, "signal 4", {"n": 4})]


def test_read_audit_when_some_kinds_are_asked_for_then_only_those_are_built_and_returned_in_order():
    memory = InMemoryStore("audit")
    built: list[int] = []

    def recipe(n: int) -> tuple[str, dict]:
        built.append(n)
        return f"event {n}", {"n": n}

    for ts, kind in ((1, "fill"), (2, "order"), (3, "fill"), (4, "order")):
        memory.audit_later(kind, ts, recipe, (ts,))
    memory.audit(AuditEvent("stop", 5, "stop moved", {"stop": "1"}))

    assert [(e.kind, e.ts_ms, e.message) for e in memory.read_audit(10, kinds=["order", "stop"])] == [
        ("order", 2, "event 2"), ("order", 4, "event 4"), ("stop", 5, "stop moved")]
    assert built == [2, 4]
    assert [e.message for e in memory.read_audit(2)] == ["event 4", "stop moved"]
