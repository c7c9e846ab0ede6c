"""`main.py reset`: a clean paper account, as a user starts over — refused while the bot runs, asks
first, and afterwards the next start is a first start (not "state lost", not the old trades)."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

import pytest

from models import CommandStatus, CommandType, TradingState
from state import StateStore, connect

from processes import PROJECT_ROOT, PYTHON, BotFleet, now_ms, run_cli, wait_for
from test_control_plane import assert_flat, command

pytestmark = pytest.mark.slow
ETH = "ETH/USDT:USDT"


def test_reset_when_run_between_two_paper_runs_then_the_second_starts_clean_and_trades(redis_server, tmp_path):
    store = StateStore(connect(redis_server.url), "rs" + uuid.uuid4().hex[:10])
    fleet = BotFleet(store, redis_server.url, tmp_path, TB_REDIS__RUN_MARKER_DIR=str(tmp_path / "run"))
    try:
        bot = fleet.start_bot()
        fleet.wait_bot_running()
        assert command(store, CommandType.OPEN, {"symbol": ETH, "side": "long", "notional": "300"}).status is CommandStatus.DONE
        assert command(store, CommandType.CLOSE, {"symbol": ETH}).status is CommandStatus.DONE
        assert len(store.read_trades()) == 1

        refused = run_cli(["reset", "--yes"], fleet.env)
        assert refused.returncode == 1 and "is running; stop it first" in refused.stderr
        assert len(store.read_trades()) == 1

        os.killpg(bot.pid, signal.SIGKILL)
        wait_for(lambda: not bot.alive(), 5, "the bot's death")
        # a dead bot's last heartbeat is fresh for heartbeat_timeout_seconds (1.5 s here): until it is old, a
        # bot on another host could be alive, and reset refuses
        wait_for(lambda: now_ms() - int(store.read_state().get("heartbeat_ms") or 0) > 1700, 10, "an old heartbeat")
        unconfirmed = subprocess.run([PYTHON, str(PROJECT_ROOT / "main.py"), "reset"], cwd=PROJECT_ROOT, env=fleet.env,
                                     input="not-the-id\n", capture_output=True, text=True, timeout=30)
        assert unconfirmed.returncode == 1 and "nothing deleted" in unconfirmed.stderr
        assert len(store.read_trades()) == 1

        done = subprocess.run([PYTHON, str(PROJECT_ROOT / "main.py"), "reset"], cwd=PROJECT_ROOT, env=fleet.env,
                              input=f"{store.bot_id}\n", capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert store.read_trades() == [] and store.read_state() == {}
        assert not (tmp_path / "run" / f"{store.bot_id}.json").exists()

        fleet.start_bot()
        fleet.wait_bot_running(not_pid=bot.pid)
        assert store.trading_state() is TradingState.ACTIVE and store.read_halt() is None  # a first start
        assert command(store, CommandType.OPEN, {"symbol": ETH, "side": "long", "notional": "300"}).status is CommandStatus.DONE
        assert command(store, CommandType.CLOSE, {"symbol": ETH}).status is CommandStatus.DONE
        assert len(store.read_trades()) == 1
        assert_flat(store)
    finally:
        fleet.cleanup()
        store.wipe()


def test_reset_when_the_bot_is_live_then_refused_and_nothing_deleted(redis_url, bot_id):
    store = StateStore(connect(redis_url), bot_id)
    store.write_state(mode="live", running="0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")} | {"REDIS_URL": redis_url, "TB_BOT__ID": bot_id}

    done = run_cli(["reset", "--yes"], env)

    assert done.returncode == 1 and "trades live" in done.stderr
    assert store.read_state()["mode"] == "live"
    store.wipe()
