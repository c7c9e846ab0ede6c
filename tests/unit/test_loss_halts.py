"""The loss halts are typed causes of the one trading-state owner: the daily one lifts by itself at the next
UTC day (announced in the audit stream), the weekly one waits for a recorded review. The engine runs on the
real simulator and the in-memory store; market time crosses midnight."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from control.trading_state import TradingStateControl
from engine.command_handlers import BotCommandHandlers
from errors import CommandError
from memory_store import InMemoryStore
from models import Candle, Command, CommandType, HaltCause, Mode, Side, TradingState
from settings import load_settings

D = Decimal
BTC = "BTC/USDT:USDT"
MINUTE = 60_000
DAY = 86_400_000
MIDNIGHT = 1_747_008_000_000  # 2025-05-12 00:00 UTC, a Monday
EVENING = MIDNIGHT - 3 * 3_600_000  # 21:00 on Sunday the 11th


def candle(ts: int, price: str) -> Candle:
    p = D(price)
    return Candle(BTC, "1m", ts, p, p, p, p, D("1000"))


def paper_engine(store, **env: str):
    settings = load_settings(environ={
        "TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STRATEGY__ENABLED": "[]", "TB_STOPS__METHOD": "none", "TB_SIZING__METHOD": "fixed_notional",
        "TB_SIZING__FIXED_NOTIONAL": "1000",
        "TB_VENUE__LEVERAGE": "1", "TB_MARKET_DATA__STALE_AFTER_SECONDS": "1000000000", **env})
    clock = SimulatedClock(0)
    parts = assemble(settings, store, Mode.PAPER, market_clock=clock, wall_clock=SystemClock())
    return parts.engine


def lose_the_day(engine) -> None:
    """A 1 000 USDT long bought at 60 000 on Sunday evening; the price then falls 2 % (-20 USDT)."""
    engine.process([candle(EVENING + i * MINUTE, "60000") for i in range(3)])
    signal = engine.manual_signal(BTC, Side.LONG, D("1000"))
    assert engine.try_entry(signal, engine.windows[BTC].candles()) is None
    engine.process([candle(EVENING + (3 + i) * MINUTE, "58800") for i in range(3)])
    engine.publish()


def test_publish_when_the_day_loses_more_than_its_usdt_limit_then_halted_daily_and_lifted_at_midnight(store):
    engine = paper_engine(store, TB_RISK__MAX_DAILY_LOSS_USDT="10")
    lose_the_day(engine)

    flag = store.read_halt()
    assert flag is not None and flag.cause is HaltCause.DAILY_LOSS_LIMIT
    engine.process([candle(MIDNIGHT - 2 * MINUTE, "58800")])  # closes at 23:59: still the same day
    engine.publish()
    assert store.trading_state() is TradingState.HALTED

    engine.process([candle(MIDNIGHT - MINUTE, "58800")])  # closes at 00:00 UTC: a new day
    engine.publish()

    assert store.trading_state() is TradingState.ACTIVE and store.read_halt() is None
    lifted = [e for e in store.read_audit(200) if e.kind == "state" and e.data.get("cause") == "daily_loss_limit_lifted"]
    assert len(lifted) == 1 and "the UTC day 2025-05-11 ended; 2025-05-12 trades again" in lifted[0].message


def test_publish_when_the_operator_halted_on_top_of_the_daily_loss_then_midnight_does_not_lift_it(store):
    engine = paper_engine(store, TB_RISK__MAX_DAILY_LOSS_USDT="10")
    lose_the_day(engine)
    engine.trading.halt(HaltCause.KILL_SWITCH, "dashboard")

    engine.process([candle(MIDNIGHT + MINUTE, "58800")])
    engine.publish()

    assert store.trading_state() is TradingState.HALTED


def test_resume_when_the_daily_loss_is_still_over_its_limit_then_refused(store):
    engine = paper_engine(store, TB_RISK__MAX_DAILY_LOSS_USDT="10")
    lose_the_day(engine)
    handlers = BotCommandHandlers(engine, store, SystemClock(), lambda why: None, kill_switch_seconds=1)

    with pytest.raises(CommandError, match="the loss limit is still in force"):
        handlers.resume(Command("c1", CommandType.RESUME, 0, "cli"))

    assert store.read_halt().cause is HaltCause.DAILY_LOSS_LIMIT


def test_resume_when_the_weekly_loss_halted_without_a_review_then_refused_and_after_a_review_in_a_new_week_allowed(store):
    engine = paper_engine(store, TB_RISK__MAX_WEEKLY_LOSS_USDT="10")
    lose_the_day(engine)
    assert store.read_halt().cause is HaltCause.WEEKLY_LOSS_LIMIT
    handlers = BotCommandHandlers(engine, store, SystemClock(), lambda why: None, kill_switch_seconds=1)
    engine.process([candle(MIDNIGHT + i * MINUTE, "58800") for i in range(2)])  # Monday: a new week
    engine.publish()
    assert store.read_halt().cause is HaltCause.WEEKLY_LOSS_LIMIT  # a new week does not lift it

    with pytest.raises(CommandError, match="needs a recorded review"):
        handlers.resume(Command("c1", CommandType.RESUME, 0, "cli"))
    engine.trading.record_review("cli", "I have reviewed this week's losses")

    assert handlers.resume(Command("c2", CommandType.RESUME, 0, "cli")).startswith("ACTIVE")
    reviews = [e for e in store.read_audit(200) if e.kind == "review"]
    assert len(reviews) == 1 and reviews[0].data["by"] == "cli"


def test_halt_when_a_daily_loss_halt_is_in_force_and_the_kill_switch_follows_then_no_lifting_by_itself(store):
    owner = TradingStateControl(store, SystemClock())
    owner.halt_for_daily_loss("risk-monitor", "daily loss 26 USDT ≥ 25", MIDNIGHT - DAY)

    owner.halt(HaltCause.KILL_SWITCH, "cli")

    assert owner.lift_daily_loss(MIDNIGHT, "risk-monitor") is False
    assert store.trading_state() is TradingState.HALTED


@pytest.mark.parametrize(("day_start", "lifted"), [(MIDNIGHT - DAY, False), (MIDNIGHT, True)])
def test_lift_daily_loss_when_the_day_is_the_same_or_the_next_then_lifted_only_the_next(store, day_start, lifted):
    owner = TradingStateControl(store, SystemClock())
    owner.halt_for_daily_loss("risk-monitor", "daily loss", MIDNIGHT - DAY)

    assert owner.lift_daily_loss(day_start, "risk-monitor") is lifted
    assert (store.read_halt() is None) is lifted


def test_publish_when_the_report_is_not_written_then_the_daily_loss_halts_all_the_same_and_no_report_is_stored():
    # a backtest's hourly publish: the risk monitor must act exactly as the bot's, only the report waits
    store = InMemoryStore("halts")
    engine = paper_engine(store, TB_RISK__MAX_DAILY_LOSS_USDT="10")
    engine.process([candle(EVENING + i * MINUTE, "60000") for i in range(3)])
    assert engine.try_entry(engine.manual_signal(BTC, Side.LONG, D("1000")), engine.windows[BTC].candles()) is None
    engine.process([candle(EVENING + (3 + i) * MINUTE, "58800") for i in range(3)])

    assert engine.publish(report_to_store=False) == {}

    flag = store.read_halt()
    assert flag is not None and flag.cause is HaltCause.DAILY_LOSS_LIMIT
    assert store.risk == {} and store.read_state()["feed_stale"] == "0"
    report = engine.publish()
    assert store.risk == report and report["reason"] == "daily_loss_limit" and report["recommendation"] == TradingState.HALTED.value
