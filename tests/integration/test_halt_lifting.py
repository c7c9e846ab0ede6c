"""A daily loss halt lifts by itself at the next UTC day — and nothing else lifts with it. The lifting and
the halts asked for under or over it are single atomic steps in the store (Lua on the real Redis), so a kill
switch that lands at midnight, or while a resume is being decided, stays in force. The in-memory store
(backtests) behaves the same: each case runs on both."""

from __future__ import annotations

import pytest

from clock import SimulatedClock
from control.trading_state import DAY_MS, TradingStateControl
from errors import CommandError
from memory_store import InMemoryStore
from models import HaltCause, TradingState

MIDNIGHT = 1_747_008_000_000  # 2025-05-12 00:00 UTC
YESTERDAY = MIDNIGHT - DAY_MS


@pytest.fixture(params=["redis", "memory"])
def any_store(request, store):
    return store if request.param == "redis" else InMemoryStore("halts")


# (halts asked for, in order: "daily" is the daily loss halt of yesterday; the others are causes), lifted at midnight?
CASES = [
    (["daily"], True),
    (["daily", "daily"], True),
    (["daily", HaltCause.KILL_SWITCH], False),   # the kill switch over it: kept by rank, no lifting
    (["daily", HaltCause.OPERATOR], False),
    (["daily", HaltCause.WEEKLY_LOSS_LIMIT], False),
    ([HaltCause.OPERATOR, "daily"], False),      # the daily halt replaces an operator's by rank: still no lifting
    ([HaltCause.KILL_SWITCH, "daily"], False),
    ([HaltCause.CIRCUIT_BREAKER], False),
]


@pytest.mark.parametrize(("asked", "lifted"), CASES, ids=lambda v: "+".join(getattr(c, "value", c) for c in v)
                         if isinstance(v, list) else str(v))
def test_lift_daily_loss_when_halts_were_asked_for_then_lifted_only_if_each_lifts_by_itself(any_store, asked, lifted):
    owner = TradingStateControl(any_store, SimulatedClock(YESTERDAY + 3_600_000))
    for what in asked:
        if what == "daily":
            owner.halt_for_daily_loss("risk-monitor", "daily loss 26 USDT ≥ 25", YESTERDAY)
        else:
            owner.halt(what, "cli")

    assert owner.lift_daily_loss(YESTERDAY, "risk-monitor") is False  # the same day never lifts
    assert owner.lift_daily_loss(MIDNIGHT, "risk-monitor") is lifted
    assert (any_store.read_halt() is None) is lifted
    assert any_store.trading_state() is (TradingState.ACTIVE if lifted else TradingState.HALTED)


def test_resume_when_a_halt_lands_after_the_decision_then_refused_and_the_new_halt_stays(any_store):
    owner = TradingStateControl(any_store, SimulatedClock(MIDNIGHT))
    owner.halt(HaltCause.OPERATOR, "dashboard")

    def kill_switch_lands_meanwhile(flag):  # called between the read and the clearing
        owner.halt(HaltCause.KILL_SWITCH, "supervisor", "bot frozen")
        return None

    with pytest.raises(CommandError, match=r"another halt was asked for while the resume was decided; it stays in force \(kill_switch\)"):
        owner.resume("cli", still_in_force=kill_switch_lands_meanwhile)
    assert any_store.read_halt().cause is HaltCause.KILL_SWITCH
    assert any_store.trading_state() is TradingState.HALTED
    assert owner.resume("cli").startswith("ACTIVE (lifted the kill_switch halt)")  # asked again: lifted


def test_flag_when_written_by_the_lua_script_then_read_back_exactly(store):
    owner = TradingStateControl(store, SimulatedClock(YESTERDAY + 61_000))
    owner.halt_for_daily_loss("risk-monitor", "daily loss 26 USDT ≥ 25 — “quotes” / slash", YESTERDAY)

    flag = store.read_halt()

    assert (flag.cause, flag.by, flag.ts_ms, flag.lifts_at_ms) == (HaltCause.DAILY_LOSS_LIMIT, "risk-monitor",
                                                                   YESTERDAY + 61_000, MIDNIGHT)
    assert flag.reason == "daily_loss_limit by risk-monitor: daily loss 26 USDT ≥ 25 — “quotes” / slash"


@pytest.mark.parametrize("raw", ["halted by hand", '{"reason": "x", "ts_ms": 5, "cause": "some_newer_cause"}',
                                 '{"reason": "no cause, no time"}', "[1, 2]"])
def test_resume_when_the_flag_is_unreadable_then_it_is_still_resumed_and_a_new_halt_replaces_it(store, raw):
    owner = TradingStateControl(store, SimulatedClock(MIDNIGHT))
    store.client.set(store.key("halt"), raw)  # written by hand, or by a newer version
    assert store.trading_state() is TradingState.HALTED  # an unreadable flag is still a halt

    assert owner.resume("cli").startswith("ACTIVE")
    assert store.read_halt() is None and store.trading_state() is TradingState.ACTIVE

    store.client.set(store.key("halt"), raw)
    assert owner.halt(HaltCause.KILL_SWITCH, "dashboard").cause is HaltCause.KILL_SWITCH
    assert store.read_halt().cause is HaltCause.KILL_SWITCH


def test_halt_when_the_reason_holds_a_lone_surrogate_then_the_halt_is_still_written(any_store):
    owner = TradingStateControl(any_store, SimulatedClock(MIDNIGHT))

    owner.halt(HaltCause.OPERATOR, "cli", "why: \ud800 broken text")

    assert any_store.trading_state() is TradingState.HALTED and any_store.read_halt() is not None


def test_lift_when_a_hand_written_flag_has_a_null_lifting_time_then_nothing_fails_and_nothing_lifts(store):
    owner = TradingStateControl(store, SimulatedClock(MIDNIGHT))
    store.client.set(store.key("halt"), '{"reason": "x", "by": "cli", "ts_ms": 1, "cause": "daily_loss_limit", '
                                        '"lifts_at_ms": null}')

    assert owner.lift_daily_loss(MIDNIGHT + DAY_MS, "risk-monitor") is False
    owner.halt_for_daily_loss("risk-monitor", "daily loss", MIDNIGHT)
    assert store.read_halt().lifts_at_ms is None  # the hand-written halt does not lift: neither does the pair


def test_resume_when_the_daily_halt_lifts_by_itself_meanwhile_then_answered_active(any_store):
    owner = TradingStateControl(any_store, SimulatedClock(MIDNIGHT))
    owner.halt_for_daily_loss("risk-monitor", "daily loss", YESTERDAY)

    def midnight_passes_meanwhile(flag):  # the engine's publish lifts it while the resume is decided
        assert owner.lift_daily_loss(MIDNIGHT, "risk-monitor")
        return None

    assert owner.resume("cli", still_in_force=midnight_passes_meanwhile) == "ACTIVE (the halt had lifted by itself)"
    assert any_store.trading_state() is TradingState.ACTIVE and any_store.read_halt() is None


@pytest.mark.parametrize("under", [HaltCause.CIRCUIT_BREAKER, HaltCause.OPERATOR, HaltCause.KILL_SWITCH])
def test_resume_when_a_weaker_halt_lands_under_the_one_decided_on_then_refused_and_halted(any_store, under):
    owner = TradingStateControl(any_store, SimulatedClock(MIDNIGHT))
    owner.halt(HaltCause.WEEKLY_LOSS_LIMIT, "risk-monitor", "weekly loss")  # stronger: its flag stays

    def breaker_trips_meanwhile(flag):
        owner.halt(under, "engine", "5 order failures")
        return None

    with pytest.raises(CommandError, match=r"another halt was asked for while the resume was decided"):
        owner.resume("cli", still_in_force=breaker_trips_meanwhile)
    assert any_store.trading_state() is TradingState.HALTED
    assert any_store.read_halt().cause is HaltCause.WEEKLY_LOSS_LIMIT
