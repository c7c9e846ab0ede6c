"""Every record of one run uses one clock: a kill switch the supervisor runs for a dead bot stamps its
orders and fills with the simulated venue's market time, so the trade the restarted bot books from them
is not a 568-day hold from 2025 market time to 2026 wall time (a real bot on replayed candles)."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from models import CommandStatus, CommandType, ExitReason
from state import StateStore, connect

from processes import BotFleet, now_ms, read_venue, wait_for
from test_control_plane import command

pytestmark = pytest.mark.slow

SOL_FILE = "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv"
DAY_MS = 86_400_000


def test_close_all_when_the_supervisor_flattens_for_a_dead_replay_bot_then_the_trade_is_on_market_time(
        redis_server, tmp_path, shared_klines):
    data = tmp_path / SOL_FILE
    data.write_text("\n".join((shared_klines / SOL_FILE).read_text().splitlines()[:3001]) + "\n")
    store = StateStore(connect(redis_server.url), "sc" + uuid.uuid4().hex[:10])
    fleet = BotFleet(store, redis_server.url, tmp_path, TB_BOT__SYMBOLS="[SOL/USDT:USDT]",
                     TB_MARKET_DATA__SOURCE="replay", TB_MARKET_DATA__REPLAY__FILES=f"{{SOL/USDT:USDT: {data}}}",
                     TB_MARKET_DATA__REPLAY__SPEED="60", TB_MARKET_DATA__REPLAY__LOOP="false")
    try:
        bot = fleet.start_bot()
        fleet.wait_bot_running()
        opened = command(store, CommandType.OPEN, {"symbol": "SOL/USDT:USDT", "side": "long", "notional": "300"})
        assert opened.status is CommandStatus.DONE, opened
        os.killpg(bot.pid, signal.SIGKILL)
        wait_for(lambda: not bot.alive(), 5, "the bot's death")
        store.write_state(running="0")  # as the supervisor would after seeing it die
        fleet._start("supervisor", ["supervise", "--no-bot"])
        wait_for(lambda: store.read_state().get("supervisor_pid"), 10, "the supervisor")

        flat = command(store, CommandType.CLOSE_ALL, timeout_s=30)
        assert flat.status is CommandStatus.DONE and flat.handled_by == "supervisor", flat
        assert read_venue(store) == ([], [])
        fleet.start_bot()  # books the supervisor's close at reconcile
        fleet.wait_bot_running(not_pid=bot.pid)
        trade = wait_for(lambda: next((t for t in store.read_trades() if t.exit_reason is ExitReason.KILL_SWITCH), None),
                         10, "the kill-switch trade")
    finally:
        fleet.cleanup()
        store.wipe()

    assert trade.exit_ms - trade.entry_ms < DAY_MS, (trade.entry_ms, trade.exit_ms)
    assert trade.exit_ms < now_ms() - 365 * DAY_MS  # the replay's 2025, not today's wall clock
