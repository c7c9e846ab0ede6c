"""The safety core under venue faults, with real processes: a real bot and supervisor on the simulated
venue (shared through a real Redis) whose order calls time out after being accepted, are rejected, or
fail outright (simulator/faults.py). What a user checks is read from the venue itself (its snapshot in
Redis), never from what the bot says about it.

- the kill switch ends flat under 30 % timeouts-after-accept and 20 % rejections, every time;
- a bot whose venue refuses everything trips its circuit breaker (HALTED, cause circuit_breaker) and
  hands an unfinished kill switch to the supervisor, which finishes it;
- a position whose stop went missing gets it back on the next candle, and after a crash at restart;
- a position adopted twice is closed twice: each close is done only when the venue says flat.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from clock import SimulatedClock
from exchange_client import SimVenueClient, load_symbol_rules_for
from models import CommandStatus, CommandType, HaltCause, OrderType, TradingState
from settings import load_settings
from simulator import SimConfig
from state import StateStore, connect

from processes import BotFleet, read_venue, unprotected, wait_for
from test_control_plane import assert_flat, command, ensure_active

pytestmark = pytest.mark.slow

ETH, BTC, SOL = "ETH/USDT:USDT", "BTC/USDT:USDT", "SOL/USDT:USDT"
FAULTS = {"TB_VENUE__FAULTS__TIMEOUT_AFTER_RATE": "0.3", "TB_VENUE__FAULTS__REJECT_RATE": "0.2"}
REFUSE_ALL = {"TB_VENUE__FAULTS__REJECT_RATE": "1"}


def new_fleet(redis_url: str, tmp: Path, **env: str) -> BotFleet:
    return BotFleet(StateStore(connect(redis_url), "sf" + uuid.uuid4().hex[:10]), redis_url, tmp, **env)


def venue_client(store: StateStore) -> SimVenueClient:
    """The simulated venue as the bot sees it, without faults: what a person at the exchange would see."""
    settings = load_settings(environ={})
    return SimVenueClient(SimConfig.from_settings(settings.venue), SimulatedClock(0), load_symbol_rules_for(settings),
                          store=store.venue_store("sim"))


def cancel_stops(venue: SimVenueClient, symbol: str) -> None:
    """The symbol's stops vanish from the venue (refused, expired, cancelled by hand)."""
    for order in venue.open_orders(symbol):
        if order.order_type is OrderType.STOP_MARKET:
            venue.cancel(symbol, order.client_order_id)


def open_until_held(store: StateStore, symbol: str, notional: str = "300", tries: int = 12) -> None:
    """Under faults an entry may be refused: ask again (next candle) until the venue holds the position."""
    for _ in range(tries):
        if symbol in {p.symbol for p in read_venue(store)[0]}:
            return
        command(store, CommandType.OPEN, {"symbol": symbol, "side": "long", "notional": notional}, timeout_s=20)
        time.sleep(0.25)
    assert symbol in {p.symbol for p in read_venue(store)[0]}, f"{symbol} never opened under faults"


# ================================================================ the kill switch under faults


def test_close_all_when_the_venue_times_out_30pct_after_accept_and_rejects_20pct_then_flat_every_time(redis_server, tmp_path):
    fleet = new_fleet(redis_server.url, tmp_path, **FAULTS, TB_CONTROL__KILL_SWITCH_SECONDS="3")
    try:
        fleet.start_supervisor("paper")
        fleet.wait_bot_running(30)
        store = fleet.store
        for run in range(3):
            ensure_active(store)
            for symbol in (BTC, ETH, SOL):
                open_until_held(store, symbol)
            # every open came back protected (or closed), faults or not
            wait_for(lambda: not unprotected(store), 5, f"run {run}: a stop for every position ({unprotected(store)})")

            result = command(store, CommandType.CLOSE_ALL, timeout_s=60)

            assert result.status is CommandStatus.DONE, f"run {run}: {result}"
            assert "flat confirmed by the venue" in result.detail
            assert_flat(store)
            assert store.trading_state() is TradingState.HALTED
    finally:
        fleet.cleanup()
        fleet.store.wipe()


def test_close_all_when_the_venue_refuses_every_order_then_breaker_halts_and_the_supervisor_finishes_the_kill_switch(
        redis_server, tmp_path):
    # Arrange: a healthy bot opens two positions, then dies; it comes back on a venue that refuses every
    # order, and a supervisor (whose own venue calls go through) watches it
    fleet = new_fleet(redis_server.url, tmp_path)
    store = fleet.store
    try:
        first = fleet.start_bot()
        fleet.wait_bot_running()
        for symbol in (ETH, SOL):
            open_until_held(store, symbol)
        os.killpg(first.pid, signal.SIGKILL)
        wait_for(lambda: not first.alive(), 5, "the bot's death")
        healthy_env = dict(fleet.env)
        fleet.env.update(REFUSE_ALL, TB_CONTROL__KILL_SWITCH_SECONDS="1")
        fleet.start_bot()
        fleet.wait_bot_running(not_pid=first.pid)
        fleet.env = healthy_env
        fleet._start("supervisor", ["supervise", "--no-bot"])
        wait_for(lambda: store.read_state().get("supervisor_pid"), 10, "the supervisor")

        # Act 1: five entries refused in a row
        for _ in range(5):
            refused = command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "300"})
            assert refused.status is CommandStatus.REJECTED

        # Assert 1: the breaker halted the bot and said why
        flag = wait_for(store.read_halt, 5, "the circuit breaker's halt")
        assert flag.cause is HaltCause.CIRCUIT_BREAKER, flag
        assert "consecutive order failures" in flag.reason
        assert store.trading_state() is TradingState.HALTED
        events = [e for e in store.read_audit(500) if e.kind == "state" and e.data.get("cause") == "circuit_breaker"]
        assert events and events[-1].data["current"] == "HALTED" and events[-1].data["by"] == "circuit-breaker"

        # Act 2: the kill switch; the bot cannot close anything
        result = command(store, CommandType.CLOSE_ALL, timeout_s=40)

        # Assert 2: handed over, finished by the supervisor, flat at the venue
        assert result.status is CommandStatus.DONE, result
        assert result.handled_by == "supervisor"
        handed = [r for r in store.read_command_results(200) if r.command_id == result.command_id
                  and r.status is CommandStatus.HANDED_OVER]
        assert handed and handed[0].handled_by == "bot", store.read_command_results(200)
        assert_flat(store)
        # a resume lifts the breaker's halt (an operator decided), unlike a loss limit's
        assert command(store, CommandType.RESUME).status is CommandStatus.DONE
    finally:
        fleet.cleanup()
        store.wipe()


# ========================================================================= protection restored


def test_protection_when_a_stop_vanishes_then_placed_again_on_the_next_candle_and_after_a_crash(redis_server, tmp_path):
    fleet = new_fleet(redis_server.url, tmp_path)
    store = fleet.store
    venue = venue_client(store)
    try:
        bot = fleet.start_bot()
        fleet.wait_bot_running()
        open_until_held(store, ETH)
        assert not unprotected(store)

        # Act 1: the stop disappears from the venue while the bot runs (refused, expired, cancelled by hand)
        cancel_stops(venue, ETH)
        assert unprotected(store) == [ETH]

        # Assert 1: back within a few candles (0.2 s each)
        wait_for(lambda: not unprotected(store), 5, "the stop placed again")

        # Act 2: the bot is killed, the stop vanishes while it is down, the bot comes back
        os.killpg(bot.pid, signal.SIGKILL)
        wait_for(lambda: not bot.alive(), 5, "the bot's death")
        cancel_stops(venue, ETH)
        assert unprotected(store) == [ETH]
        fleet.start_bot()
        fleet.wait_bot_running(not_pid=bot.pid)

        # Assert 2: the restart protected it again, and said so
        wait_for(lambda: not unprotected(store), 5, "the stop placed again after the restart")
        assert any("no protective stop" in e.message for e in store.read_audit(500) if e.kind == "reconcile")
    finally:
        fleet.cleanup()
        store.wipe()


# ============================================================================ adopted positions


def test_close_when_a_position_is_adopted_a_second_time_then_the_second_close_also_ends_flat(redis_server, tmp_path):
    fleet = new_fleet(redis_server.url, tmp_path)
    store = fleet.store
    try:
        previous = None
        for round_ in range(2):
            bot = fleet.start_bot()
            fleet.wait_bot_running(not_pid=previous)
            ensure_active(store)
            open_until_held(store, ETH)
            # the bot dies and its memory of the trade is lost: the restarted bot must adopt the position
            os.killpg(bot.pid, signal.SIGKILL)
            wait_for(lambda: not bot.alive(), 5, "the bot's death")
            store.client.delete(store.key("exits"))
            again = fleet.start_bot()
            fleet.wait_bot_running(not_pid=bot.pid)

            result = command(store, CommandType.CLOSE, {"symbol": ETH})

            assert result.status is CommandStatus.DONE, f"round {round_}: {result}"
            assert ETH not in {p.symbol for p in read_venue(store)[0]}, f"round {round_}: 'closed' but still open"
            os.killpg(again.pid, signal.SIGKILL)
            wait_for(lambda: not again.alive(), 5, "the bot's death")
            previous = again.pid
    finally:
        fleet.cleanup()
        store.wipe()
