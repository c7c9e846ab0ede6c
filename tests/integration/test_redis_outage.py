"""Redis trouble with real processes: a supervisor and its paper bot on the simulated venue, holding
positions, against a redis-server of the test's own that is frozen (SIGSTOP), restarted (with its AOF,
and once without its data) and flushed (FLUSHALL) while they run.

What a user checks afterwards: both processes are the same ones and alive, the heartbeat moves again,
no entry reached the venue meanwhile, close-all is answered and the venue is flat, every trade the
venue closed is in the trades stream exactly once — and lost state ends HALTED with the reason in
`main.py status --json`, until an operator resumes.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from control.client import send_command, wait_result
from embedded_redis import EmbeddedRedis, free_port, start_embedded_redis
from models import CommandResult, CommandStatus, CommandType, ExitReason, HaltCause, Mode, Side, Trade, TradingState
from state import StateStore, connect

from processes import BotFleet, read_venue, run_cli, wait_for

ETH, BTC = "ETH/USDT:USDT", "BTC/USDT:USDT"


# ----------------------------------------------------------------------------- a Redis of our own


class OwnRedis:
    """A redis-server this test may freeze, restart and flush; always ended by its own pid."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.runs = 0
        self.server = self._start(persist=True)

    def _start(self, *, persist: bool) -> EmbeddedRedis:
        self.runs += 1
        data_dir = self.root / ("redis" if persist else f"redis-empty-{self.runs}")
        return start_embedded_redis(self.port, data_dir, persist=persist)

    @property
    def url(self) -> str:
        return self.server.url

    def freeze(self) -> None:
        os.kill(self.server.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.server.process.pid, signal.SIGCONT)

    def restart(self, *, keep_data: bool) -> None:
        """SIGTERM (the AOF is flushed on the way out), then a new server on the same port: on the same
        AOF, or on an empty directory without persistence (the data is gone)."""
        self.server.stop()
        self.server = self._start(persist=keep_data)

    def stop(self) -> None:
        if self.server.process is not None and self.server.process.poll() is None:
            self.thaw()
        self.server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(own_redis: OwnRedis, tmp_path: Path) -> Iterator[BotFleet]:
    """A supervisor with its paper bot, first start of this bot id (no run marker anywhere)."""
    store = StateStore(connect(own_redis.url), "ro" + uuid.uuid4().hex[:10])
    fleet = BotFleet(store, own_redis.url, tmp_path, TB_REDIS__RUN_MARKER_DIR=str(tmp_path / "run"))
    try:
        fleet.supervisor = fleet.start_supervisor("paper")
        fleet.wait_bot_running(30)
        yield fleet
    finally:
        fleet.cleanup()


# --------------------------------------------------------------------------------------- helpers


def command(store: StateStore, command_type: CommandType, args: dict | None = None, timeout_s: float = 15.0) -> CommandResult:
    sent = send_command(store, command_type, args or {}, issued_by="test")
    result = wait_result(store, sent.command_id, timeout_s)
    assert result is not None and result.status is not CommandStatus.ACCEPTED, f"{command_type.value}: no final result ({result})"
    return result


def open_position(store: StateStore, symbol: str) -> None:
    for _ in range(10):
        result = command(store, CommandType.OPEN, {"symbol": symbol, "side": "long", "notional": "400"})
        if "already sent in this candle" not in result.detail:
            break
        time.sleep(0.25)  # one entry per symbol, side and candle: the next candle comes within 0.2 s
    assert result.status is CommandStatus.DONE, result


def entries_at_venue(store: StateStore) -> set[str]:
    """The entry orders the simulated venue filled, read from its own snapshot."""
    _, data = StateStore(store.client, store.bot_id).venue_store("sim").load()
    if not data:
        return set()
    return {o["client_order_id"] for o in json.loads(data)["orders"]
            if o["client_order_id"].endswith("-en") and o["status"] == "filled"}


def trades_rows(store: StateStore) -> list[Trade]:
    return store.read_trades(10_000)


def status_json(fleet: BotFleet) -> dict:
    done = run_cli(["status", "--json"], fleet.env)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def holding_two(fleet: BotFleet) -> tuple[int, set[str]]:
    store = fleet.store
    assert store.trading_state() is TradingState.ACTIVE, "a first-ever start on an empty Redis trades"
    open_position(store, ETH)
    open_position(store, BTC)
    assert {p.symbol for p in read_venue(store)[0]} == {ETH, BTC}
    return fleet.live_bot_pid(), entries_at_venue(store)


def wait_answering(store: StateStore, timeout_s: float = 20.0) -> None:
    def answers() -> bool:
        try:
            return bool(store.client.ping())
        except Exception:
            return False

    wait_for(answers, timeout_s, "Redis answering")


def assert_rode_it_out(fleet: BotFleet, bot_pid: int) -> None:
    """The same bot and supervisor, alive, and the heartbeat moving again."""
    wait_for(lambda: fleet.heartbeats(1.0), 20, "heartbeat after the outage", on_timeout=fleet.logs)
    assert alive(bot_pid), fleet.logs()
    assert fleet.supervisor.alive(), fleet.logs()
    assert fleet.live_bot_pid() == bot_pid, "the bot was restarted: it did not survive the outage"


def close_all_flat(fleet: BotFleet) -> None:
    done = run_cli(["close-all"], fleet.env, timeout_s=40)
    assert done.returncode == 0 and "done" in done.stdout, done.stdout + done.stderr + fleet.logs()
    positions, orders = read_venue(fleet.store)
    assert positions == [] and orders == [], f"venue not flat: {positions} {orders}"


def assert_nothing_lost(store: StateStore) -> None:
    """Every trade the venue closed (one filled entry each, all closed now) is one row in `trades`."""
    rows = trades_rows(store)
    assert len({(t.trade_id, t.exit_ms) for t in rows}) == len(rows), "a trade row was written twice"
    assert {f"{t.trade_id}-en" for t in rows} == entries_at_venue(store)


# ------------------------------------------------------------------------------------ the tests


def test_append_trade_when_written_again_after_a_lost_reply_then_one_row(store):
    trade = Trade(
        trade_id="ETH1700000000L", symbol=ETH, side=Side.LONG, qty=Decimal("0.1"), entry_price=Decimal("2000"),
        exit_price=Decimal("2010"), entry_ms=1_700_000_000_000, exit_ms=1_700_000_060_000, gross_pnl=Decimal("1"),
        fees=Decimal("0.2"), pnl=Decimal("0.8"), exit_reason=ExitReason.MANUAL, mode=Mode.PAPER, strategy="manual",
        slippage=Decimal("0"),
    )

    first, again = store.append_trade(trade), store.append_trade(trade)

    assert first is not None and again is None
    assert store.read_trades() == [trade]


@pytest.mark.parametrize("freeze_s", [
    pytest.param(5, id="5s"),
    pytest.param(60, id="60s", marks=[pytest.mark.slow, pytest.mark.soak]),
])
def test_freeze_when_redis_is_stopped_then_both_ride_it_out_no_entry_and_close_all_is_flat(own_redis, fleet, freeze_s):
    bot_pid, entries_before = holding_two(fleet)

    own_redis.freeze()
    try:
        time.sleep(freeze_s)  # the outage itself
    finally:
        own_redis.thaw()

    assert_rode_it_out(fleet, bot_pid)
    assert entries_at_venue(fleet.store) == entries_before, "an entry was sent during the outage"
    assert {p.symbol for p in read_venue(fleet.store)[0]} == {ETH, BTC}
    assert fleet.store.trading_state() is TradingState.ACTIVE
    close_all_flat(fleet)
    assert_nothing_lost(fleet.store)


def test_restart_when_redis_comes_back_on_its_aof_then_both_ride_it_out_and_nothing_is_lost(own_redis, fleet):
    bot_pid, entries_before = holding_two(fleet)

    own_redis.restart(keep_data=True)

    wait_answering(fleet.store)
    assert_rode_it_out(fleet, bot_pid)
    assert entries_at_venue(fleet.store) == entries_before
    status = status_json(fleet)
    assert status["trading_state"] == "ACTIVE", status  # data survived: no false alarm
    close_all_flat(fleet)
    assert_nothing_lost(fleet.store)


def test_restart_when_redis_comes_back_empty_then_halted_state_lost_and_the_kill_switch_answers(own_redis, fleet):
    bot_pid, _ = holding_two(fleet)

    own_redis.restart(keep_data=False)

    wait_answering(fleet.store)
    status = wait_for(lambda: (s := status_json(fleet))["trading_state"] == "HALTED" and s, 10, "HALTED after the loss",
                      on_timeout=fleet.logs)
    assert status["halt_reason"].startswith("state_lost by state-guard") and "paper account" in status["halt_reason"], status
    assert_rode_it_out(fleet, bot_pid)
    refused = command(fleet.store, CommandType.OPEN, {"symbol": ETH, "side": "long", "notional": "400"})
    assert refused.status is CommandStatus.REJECTED and "halted" in refused.detail, refused
    close_all_flat(fleet)
    assert entries_at_venue(fleet.store) == set(), "a position was opened on the fresh simulated account"


def test_flushall_when_halted_by_the_operator_then_halted_state_lost_until_resumed(own_redis, fleet):
    store = fleet.store
    bot_pid, _ = holding_two(fleet)
    assert command(store, CommandType.HALT).status is CommandStatus.DONE

    store.client.flushall()

    status = wait_for(lambda: (s := status_json(fleet))["halt_reason"] and s, 5, "the loss declared", on_timeout=fleet.logs)
    assert status["trading_state"] == "HALTED" and "Redis was flushed" in status["halt_reason"], status
    assert any("ALERT: state_lost" in e.message for e in store.read_audit(200, kinds=["state"]))
    refused = command(store, CommandType.OPEN, {"symbol": ETH, "side": "long", "notional": "400"})  # the reader healed
    assert refused.status is CommandStatus.REJECTED and "halted" in refused.detail, refused
    assert entries_at_venue(store) == set()
    assert_rode_it_out(fleet, bot_pid)

    assert command(store, CommandType.RESUME).status is CommandStatus.DONE
    open_position(store, ETH)  # an operator's resume, and only that, trades again

    close_all_flat(fleet)
    assert_nothing_lost(store)


def test_bot_start_when_redis_lost_the_state_of_its_last_run_then_halted_not_fresh(own_redis, tmp_path):
    store = StateStore(connect(own_redis.url), "rs" + uuid.uuid4().hex[:10])
    fleet = BotFleet(store, own_redis.url, tmp_path, TB_REDIS__RUN_MARKER_DIR=str(tmp_path / "run"))
    try:
        first = fleet.start_bot("paper")
        fleet.wait_bot_running(30)
        assert store.trading_state() is TradingState.ACTIVE  # the first-ever start on an empty Redis
        first.stop()
        store.client.flushall()

        fleet.start_bot("paper")
        fleet.wait_bot_running(30)

        halt = store.read_halt()
        assert halt is not None and halt.cause is HaltCause.STATE_LOST and "Redis holds no state" in halt.reason, halt
        assert status_json(fleet)["trading_state"] == "HALTED"
    finally:
        fleet.cleanup()
