"""Five real bot processes on one Redis, each its own `bot.id`: the dashboard's bot list shows them all,
and a command to one reaches that one only."""

from __future__ import annotations

import uuid

from control.client import send_command, wait_result
from models import CommandStatus, CommandType, TradingState
from state import BotStatus, StateStore, connect
from tests.integration.processes import BotFleet, now_ms, wait_for
from ui import data

BOTS = 5


def test_five_bots_when_sharing_one_redis_then_listed_apart_and_a_halt_reaches_one_only(redis_url, tmp_path):
    prefix = "share" + uuid.uuid4().hex[:6]
    fleets = [BotFleet(StateStore(connect(redis_url), f"{prefix}{n}"), redis_url, tmp_path) for n in range(BOTS)]
    try:
        for fleet in fleets:
            fleet.start_bot("ghost")
        pids = [fleet.wait_bot_running(90) for fleet in fleets]
        assert len(set(pids)) == BOTS

        listed = {b.bot_id: b for b in data.bots(fleets[0].store, now_ms(), 10)}
        ours = {bot_id: b for bot_id, b in listed.items() if bot_id.startswith(prefix)}
        assert sorted(ours) == [f"{prefix}{n}" for n in range(BOTS)]
        assert {(b.mode, b.status) for b in ours.values()} == {("ghost", BotStatus.RUNNING)}

        target = fleets[2].store
        command = send_command(target, CommandType.HALT, {}, issued_by="test")
        result = wait_result(target, command.command_id, timeout_s=20)
        assert result is not None and result.status is CommandStatus.DONE, result

        assert target.trading_state() is TradingState.HALTED
        for fleet in fleets[:2] + fleets[3:]:
            assert fleet.store.trading_state() is TradingState.ACTIVE, fleet.store.bot_id
            assert fleet.store.read_halt() is None
            assert fleet.store.client.xlen(fleet.store.key("commands")) == 0  # nothing sent to it
        for fleet, pid in zip(fleets, pids):
            assert int(fleet.state()["pid"]) == pid  # each state hash names its own process
        wait_for(lambda: all(f.heartbeats() for f in fleets), 20, "every bot still beating")
    finally:
        for fleet in fleets:
            fleet.cleanup()
            fleet.store.wipe()
