"""Entry planning (engine/entries.py) and the engine's record of a refused entry.

The planner turns a signal into a sized, gated entry or a `Denial`; the engine writes every denial to
the decision log (audit `skip` with its reason code) and counts it. Limits are tested at their boundary.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from clock import SimulatedClock
from engine.candles import close_time_ms
from engine.entries import EntryPlanner, MarketContext, round_stop_to_tick
from risk.exits import ExitRules
from bot.assembly import EngineParts, assemble
from exchange_client import load_symbol_rules_for
from models import EntryPlan
from models import Candle, Denial, Mode, Side, Signal, TradingState
from risk.levels import resolve_risk
from risk.limits import effective_limits
from settings import Settings, load_settings
from state import StateStore

BTC = "BTC/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_000_000_000 - 1_746_000_000_000 % (15 * MINUTE)


# --------------------------------------------------------------------------------------- helpers


def settings() -> Settings:
    return load_settings(environ={"TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STRATEGY__ENABLED": "[]"})


def make_candles(closes: list[str], symbol: str = BTC) -> list[Candle]:
    """1m candles with the given closes; each low 0.05 below its close, each high 0.05 above."""
    out, previous = [], Decimal(closes[0])
    for i, raw in enumerate(closes):
        close = Decimal(raw)
        out.append(Candle(symbol, "1m", T0 + i * MINUTE, previous, max(previous, close) + Decimal("0.05"),
                          min(previous, close) - Decimal("0.05"), close, Decimal("10")))
        previous = close
    return out


def v_shape() -> list[Candle]:
    """Down to 98.5, back to 100: a swing low 1.6 % under the last close, a valid stop for a long."""
    down = [f"{100 - i * 0.1:.2f}" for i in range(16)]  # 100.00 .. 98.50
    up = [f"{98.5 + i * 0.1:.2f}" for i in range(1, 16)]  # 98.60 .. 100.00
    return make_candles(["100"] * 40 + down + up)


def rising() -> list[Candle]:
    """Every low above the one before: no swing low anywhere, so a long has no place for its stop."""
    return make_candles([f"{100 + i * 0.1:.2f}" for i in range(90)])


def long_signal(candles: list[Candle], strength: float = 0.9) -> Signal:
    last = candles[-1]
    return Signal(BTC, Side.LONG, strength, last.close, close_time_ms(last), "test", "a test signal")


def planner(s: Settings, mode: Mode = Mode.PAPER) -> EntryPlanner:
    exit_rules = ExitRules(s.exits, s.venue.taker_fee_rate)
    return EntryPlanner(
        risk=resolve_risk(s.sizing, s.strategy, s.stops), stops=s.stops, exit_rules=exit_rules,
        limits=effective_limits(s.risk, s.venue.leverage, mode), symbol_rules=load_symbol_rules_for(s),
    )


def context(**changes) -> MarketContext:
    values = dict(
        trading_state=TradingState.ACTIVE, equity=Decimal("10000"), wallet_balance=Decimal("10000"),
        margin_used=Decimal("0"), positions=(), price_age_s=1.0, stale_after_s=120.0, daily_pnl=Decimal("0"),
        weekly_pnl=Decimal("0"), leverage=3, buys_last_24h=0,
    )
    values.update(changes)
    return MarketContext(**values)


def ghost_engine(store: StateStore, candles: list[Candle]) -> tuple[EngineParts, SimulatedClock]:
    wall = SimulatedClock(1_800_000_000_000)
    parts = assemble(settings(), store, Mode.GHOST, market_clock=SimulatedClock(0), wall_clock=wall)
    parts.engine.warm_up({BTC: candles})
    return parts, wall


def skips(store: StateStore) -> list[tuple[str, str]]:
    return [(e.data.get("reason_code"), e.message) for e in store.read_audit(100, kinds=["skip"])]


# ------------------------------------------------------------------------------------- the planner


def test_plan_when_structure_gives_a_stop_then_an_entry_on_the_venues_grid():
    # Arrange
    candles = v_shape()

    # Act
    plan, sizing = planner(settings()).plan(long_signal(candles), candles, context())

    # Assert
    assert isinstance(plan, EntryPlan), plan
    assert plan.stop < plan.price < plan.take_profit
    assert plan.stop % Decimal("0.10") == 0 and plan.take_profit % Decimal("0.10") == 0  # BTC tick
    assert plan.qty % Decimal("0.001") == 0 and plan.qty > 0  # BTC step
    # fixed risk would put 1 % of equity (100) on a 1.7 stop distance: 5,900 notional, cut to the 25 % cap
    assert sizing is not None and sizing.method == "fixed_risk" and "capped at max position 2500" in sizing.detail
    assert plan.qty * plan.price == Decimal("2500")


def test_plan_when_no_swing_low_below_the_entry_then_denied_no_valid_stop():
    # Arrange
    candles = rising()

    # Act
    plan, sizing = planner(settings()).plan(long_signal(candles), candles, context())

    # Assert
    assert isinstance(plan, Denial) and plan.reason_code == "no_valid_stop", plan
    assert "no swing low below entry" in plan.detail
    assert sizing is None


def test_plan_when_the_swing_is_further_than_the_max_stop_then_denied_stop_too_far():
    # Arrange: down to 95 and back to 100 — a 5 % stop against a 3 % maximum (risk level 5)
    down = [f"{100 - i * 0.5:.2f}" for i in range(11)]
    up = [f"{95 + i * 0.5:.2f}" for i in range(1, 11)]
    candles = make_candles(["100"] * 40 + down + up)

    # Act
    plan, _ = planner(settings()).plan(long_signal(candles), candles, context())

    # Assert
    assert isinstance(plan, Denial) and plan.reason_code == "stop_too_far", plan


@pytest.mark.parametrize(
    "notional, denied",
    [("9.9", True), ("10", False)],  # BTC's minimum notional is 10 USDT
)
def test_plan_when_the_notional_is_at_the_venue_minimum_then_denied_only_below_it(notional: str, denied: bool):
    # Arrange
    candles = v_shape()

    # Act
    plan, _ = planner(settings()).plan(long_signal(candles), candles, context(), notional=Decimal(notional))

    # Assert
    if denied:
        assert isinstance(plan, Denial) and plan.reason_code == "below_min_notional", plan
    else:
        assert isinstance(plan, EntryPlan) and plan.qty * plan.price == Decimal("10"), plan


def test_plan_when_equity_is_too_small_for_the_minimum_then_denied_below_min_notional():
    # Arrange: 1 % of 20 USDT at risk over a ~1.7 USDT stop distance is about 1.2 USDT of notional
    candles = v_shape()

    # Act
    plan, sizing = planner(settings()).plan(long_signal(candles), candles, context(equity=Decimal("20")))

    # Assert
    assert isinstance(plan, Denial) and plan.reason_code == "below_min_notional", plan
    assert sizing is not None  # the sizing that led to it is still shown in the decision log


@pytest.mark.parametrize(
    "state, code",
    [(TradingState.HALTED, "halted"), (TradingState.REDUCING, "reducing"), (TradingState.ACTIVE, None)],
)
def test_plan_when_trading_state_is_not_active_then_denied_with_the_state(state: TradingState, code: str | None):
    # Arrange
    candles = v_shape()

    # Act
    plan, _ = planner(settings()).plan(long_signal(candles), candles, context(trading_state=state))

    # Assert
    assert (plan.reason_code if isinstance(plan, Denial) else None) == code


@pytest.mark.parametrize("age_s, code", [(120.0, None), (120.1, "stale_price")])
def test_plan_when_the_price_is_older_than_stale_after_then_denied_stale_price(age_s: float, code: str | None):
    # Arrange
    candles = v_shape()

    # Act
    plan, _ = planner(settings()).plan(long_signal(candles), candles, context(price_age_s=age_s, stale_after_s=120.0))

    # Assert
    assert (plan.reason_code if isinstance(plan, Denial) else None) == code


@pytest.mark.parametrize(
    "side, stop, expected",
    [
        (Side.LONG, "100.01", "100.1"), (Side.LONG, "100.10", "100.1"),  # a long's stop rounds up (tighter)
        (Side.SHORT, "100.19", "100.1"), (Side.SHORT, "100.10", "100.1"),  # a short's rounds down (tighter)
    ],
)
def test_round_stop_to_tick_when_between_ticks_then_towards_the_price(side: Side, stop: str, expected: str):
    assert round_stop_to_tick(side, Decimal(stop), Decimal("0.1")) == Decimal(expected)


# -------------------------------------------------------------------- the engine records denials


def test_try_entry_when_no_valid_stop_then_the_denial_is_audited_counted_and_nothing_is_opened(store: StateStore):
    # Arrange
    candles = rising()
    parts, _ = ghost_engine(store, candles)

    # Act
    outcome = parts.engine.try_entry(long_signal(candles), candles)

    # Assert
    assert isinstance(outcome, Denial) and outcome.reason_code == "no_valid_stop"
    assert [code for code, _ in skips(store)] == ["no_valid_stop"]
    assert "not taken: no_valid_stop" in skips(store)[0][1]
    assert parts.engine.stats.denials == {"no_valid_stop": 1}
    assert parts.executor.trade_states() == {} and parts.engine.stats.entries == 0


def test_try_entry_when_the_halt_flag_is_set_then_denied_halted_and_recorded(store: StateStore):
    # Arrange
    candles = v_shape()
    parts, _ = ghost_engine(store, candles)
    store.set_halt("halt by test", "test", 1)

    # Act
    outcome = parts.engine.try_entry(long_signal(candles), candles)

    # Assert
    assert isinstance(outcome, Denial) and outcome.reason_code == "halted"
    assert [code for code, _ in skips(store)] == ["halted"]
    assert parts.executor.trade_states() == {}


def test_try_entry_when_no_price_arrived_for_longer_than_stale_after_then_denied_stale_price(store: StateStore):
    # Arrange: the wall clock moves past market_data.stale_after_seconds without a new candle
    candles = v_shape()
    parts, wall = ghost_engine(store, candles)
    wall.advance(int(settings().market_data.stale_after_seconds * 1000) + 1000)

    # Act
    outcome = parts.engine.try_entry(long_signal(candles), candles)

    # Assert
    assert isinstance(outcome, Denial) and outcome.reason_code == "stale_price"
    assert [code for code, _ in skips(store)] == ["stale_price"]


def test_try_entry_when_the_manual_notional_is_below_the_minimum_then_denied_with_the_sizing_shown(store: StateStore):
    # Arrange
    candles = v_shape()
    parts, _ = ghost_engine(store, candles)

    # Act
    outcome = parts.engine.try_entry(long_signal(candles), candles, notional=Decimal("5"))

    # Assert
    assert isinstance(outcome, Denial) and outcome.reason_code == "below_min_notional"
    kinds = [e.kind for e in store.read_audit(100) if e.kind in ("signal", "sizing", "skip", "order")]
    assert kinds == ["signal", "sizing", "skip"]


def test_try_entry_when_everything_passes_then_one_position_and_an_order_in_the_decision_log(store: StateStore):
    # Arrange
    candles = v_shape()
    parts, _ = ghost_engine(store, candles)

    # Act
    outcome = parts.engine.try_entry(long_signal(candles), candles)

    # Assert
    assert outcome is None
    assert list(parts.executor.trade_states()) == [BTC]
    kinds = [e.kind for e in store.read_audit(100) if e.kind in ("signal", "sizing", "skip", "order")]
    assert kinds == ["signal", "sizing", "order"]
    assert parts.engine.stats.entries == 1 and parts.engine.stats.denials == {}
