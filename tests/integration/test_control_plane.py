"""The control plane with real processes: a real bot (`main.py bot --mode paper`) and supervisor
(`main.py supervise`) on the synthetic feed and the simulated venue, a real Redis, the real CLI.

Every test ends in the documented state (README "Commands and what they do") with nothing lost: the
venue itself (its snapshot in Redis) is read to confirm flat, not only what the bot published.
Processes are shared per class where tests can share them, and always ended by pid (process group).
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
from embedded_redis import free_port
from models import Command, CommandResult, CommandStatus, CommandType, TradingState
from stores import Memory
from state import StateStore, connect

from processes import BotFleet, now_ms, process_env, read_venue, run_cli, wait_consumed, wait_for

pytestmark = pytest.mark.slow

ETH, BTC, SOL = "ETH/USDT:USDT", "BTC/USDT:USDT", "SOL/USDT:USDT"


# --------------------------------------------------------------------------------------- helpers


def command(store: StateStore, command_type: CommandType, args: dict | None = None, timeout_s: float = 8.0) -> CommandResult:
    """Send through the command client and wait for the final result (fails the test on silence)."""
    sent = send_command(store, command_type, args or {}, issued_by="test")
    result = wait_result(store, sent.command_id, timeout_s)
    assert result is not None and result.status.is_final, f"{command_type.value}: no final result ({result})"
    return result


def open_position(store: StateStore, symbol: str, side: str = "long", notional: str = "500") -> None:
    for _ in range(5):
        result = command(store, CommandType.OPEN, {"symbol": symbol, "side": side, "notional": notional})
        if "already sent in this candle" not in result.detail:
            break
        time.sleep(0.25)  # one entry per symbol, side and candle: the next candle comes within 0.2 s
    assert result.status is CommandStatus.DONE, result


def ensure_active(store: StateStore) -> None:
    if store.trading_state() is not TradingState.ACTIVE:
        result = command(store, CommandType.RESUME)
        assert result.status is CommandStatus.DONE, result
    assert store.trading_state() is TradingState.ACTIVE


def venue_symbols(store: StateStore) -> set[str]:
    return {p.symbol for p in read_venue(store)[0]}


def assert_flat(store: StateStore) -> None:
    """Flat at the venue itself and in what the bot / supervisor published."""
    positions, orders = read_venue(store)
    assert positions == [] and orders == [], f"venue not flat: {positions} {orders}"
    assert store.read_positions() == []


def holdings(store: StateStore) -> tuple:
    """What a command could change: positions (not their marks), open orders, trading state, halt flag."""
    positions, orders = read_venue(store)
    return (
        sorted((p.symbol, p.side.value, p.qty, p.entry_price) for p in positions),
        sorted((o.client_order_id, o.status.value, o.qty) for o in orders),
        sorted((p.symbol, p.qty) for p in store.read_positions()),
        store.trading_state(),
        store.read_halt(),
    )


def final_results(store: StateStore, command_id: str) -> list[CommandResult]:
    return [r for r in store.read_command_results(1000) if r.command_id == command_id and r.status.is_final]


def send_at(store: StateStore, command_type: CommandType, args: dict | None = None, *, issued_at_ms: int | None = None) -> Command:
    cmd = Command(uuid.uuid4().hex, command_type, issued_at_ms or now_ms(), "test", dict(args or {}))
    store.send_command(cmd)
    return cmd


def new_fleet(redis_url: str, tmp: Path, **env: str) -> BotFleet:
    return BotFleet(StateStore(connect(redis_url), "cp" + uuid.uuid4().hex[:10]), redis_url, tmp, **env)


# ========================================================================= a bot alone (no supervisor)


@pytest.fixture(scope="class")
def lone_bot(redis_server, tmp_path_factory) -> Iterator[BotFleet]:
    fleet = new_fleet(redis_server.url, tmp_path_factory.mktemp("lone"))
    try:
        fleet.start_bot()
        fleet.wait_bot_running()
        yield fleet
    finally:
        fleet.cleanup()
        fleet.store.wipe()


class TestBotAlone:
    def test_halt_when_sent_right_behind_an_open_then_halted_no_entry_order_open_and_later_opens_refused(self, lone_bot):
        store = lone_bot.store
        ensure_active(store)

        opened = send_at(store, CommandType.OPEN, {"symbol": ETH, "side": "long", "notional": "400"})
        halted = send_at(store, CommandType.HALT)
        late = send_at(store, CommandType.OPEN, {"symbol": BTC, "side": "short", "notional": "400"})

        halt_result = wait_result(store, halted.command_id, 8)
        assert halt_result.status is CommandStatus.DONE and halt_result.handled_by == "bot"
        assert store.trading_state() is TradingState.HALTED
        assert store.read_halt() is not None
        late_result = wait_result(store, late.command_id, 8)
        assert late_result.status is CommandStatus.REJECTED and "halted" in late_result.detail.lower()
        positions, orders = read_venue(store)
        assert [o for o in orders if not o.reduce_only] == [], "an entry order is left open"
        assert BTC not in {p.symbol for p in positions}
        open_result = wait_result(store, opened.command_id, 8)
        assert open_result.status in (CommandStatus.DONE, CommandStatus.REJECTED)
        if open_result.status is CommandStatus.DONE:  # it ran first: its position is protected, not lost
            assert ETH in {p.symbol for p in positions}
            assert {o.order_type.value for o in orders if o.symbol == ETH} == {"stop_market", "take_profit_market"}
        unresolved = [i.client_order_id for i, status in store.read_intents() if status in ("pending", "unknown")]
        assert unresolved == [], "an order intent was left unresolved"
        again = command(store, CommandType.OPEN, {"symbol": SOL, "side": "long", "notional": "100"})
        assert again.status is CommandStatus.REJECTED and "halted" in again.detail.lower()

    def test_send_when_the_same_command_id_is_sent_twice_then_it_runs_once(self, lone_bot):
        store = lone_bot.store
        ensure_active(store)
        assert SOL not in venue_symbols(store)
        cmd = Command(uuid.uuid4().hex, CommandType.OPEN, now_ms(), "test", {"symbol": SOL, "side": "long", "notional": "300"})
        orders_before = len([e for e in store.read_audit(2000, kinds=["order"]) if e.message.startswith(SOL)])

        store.send_command(cmd)
        second = store.send_command(cmd)
        wait_consumed(store, "bot", second)

        assert [r.status for r in final_results(store, cmd.command_id)] == [CommandStatus.DONE]
        assert store.command_claimed_by(cmd.command_id) == "bot"
        runs = [e for e in store.read_audit(2000, kinds=["command"]) if e.data.get("command_id") == cmd.command_id]
        assert len(runs) == 1
        entries = [e for e in store.read_audit(2000, kinds=["order"]) if e.message.startswith(SOL)]
        assert len(entries) == orders_before + 1
        sol = [p for p in read_venue(store)[0] if p.symbol == SOL]
        assert len(sol) == 1 and sol[0].qty * sol[0].entry_price < Decimal("330")  # one 300 USDT entry, not two

    def test_open_when_repeated_within_one_candle_after_a_close_then_its_result_matches_the_venue(self, lone_bot):
        store = lone_bot.store
        ensure_active(store)
        assert BTC not in venue_symbols(store)
        open_position(store, BTC, "short", "200")
        assert command(store, CommandType.CLOSE, {"symbol": BTC}).status is CommandStatus.DONE

        again = command(store, CommandType.OPEN, {"symbol": BTC, "side": "short", "notional": "200"})

        # the entry id is per candle: within the same candle the venue would hand back the first (filled)
        # entry, which used to be reported "opened" and booked while the venue held nothing
        held = BTC in venue_symbols(store)
        if again.status is CommandStatus.DONE:
            assert held and BTC in store.recall(Memory.OPEN_TRADES)
        else:
            assert again.status is CommandStatus.REJECTED and "already sent" in again.detail, again
            assert not held and BTC not in store.recall(Memory.OPEN_TRADES)
        if held:
            assert command(store, CommandType.CLOSE, {"symbol": BTC}).status is CommandStatus.DONE

    @pytest.mark.parametrize("second_side", ["long", "short"])
    def test_open_when_the_symbol_already_has_a_position_then_rejected_with_the_reason_and_the_venue_unchanged(
            self, lone_bot, second_side):
        store = lone_bot.store
        ensure_active(store)
        assert BTC not in venue_symbols(store)
        open_position(store, BTC, "short", "200")

        def btc_holdings() -> tuple:
            positions, orders = read_venue(store)
            return (sorted((p.side.value, p.qty, p.entry_price) for p in positions if p.symbol == BTC),
                    sorted((o.client_order_id, o.status.value, o.qty) for o in orders if o.symbol == BTC),
                    {k: v for k, v in store.recall(Memory.OPEN_TRADES).get(BTC, {}).get("state", {}).items()
                     if k in ("trade_id", "side", "qty")})  # the peak follows the market meanwhile

        before = btc_holdings()
        trades_before = len(store.read_trades(1000))

        # a long would net the short down (one-way mode) and be booked as a long the venue never held
        again = command(store, CommandType.OPEN, {"symbol": BTC, "side": second_side, "notional": "200"})

        assert again.status is CommandStatus.REJECTED, again
        assert "position_open" in again.detail and "already has a short position" in again.detail, again.detail
        assert btc_holdings() == before
        assert len(store.read_trades(1000)) == trades_before
        assert command(store, CommandType.CLOSE, {"symbol": BTC}).status is CommandStatus.DONE
        closed = [t for t in store.read_trades(1000) if t.symbol == BTC][-1]
        assert closed.side.value == "short" and closed.exit_reason.value == "manual"

    GARBAGE = {
        "random_bytes": (lambda cid: {b"\xff\xfe\x00" + os.urandom(8): b"\x80\x81\xc3(" + os.urandom(64)}, "command_id"),
        "missing_fields": (lambda cid: {"command_id": cid, "type": "halt"}, "issued_at_ms"),
        "payload_100kb": (
            lambda cid: {"command_id": cid, "type": "open", "issued_at_ms": str(now_ms()), "issued_by": "test",
                         "args": json.dumps({"symbol": BTC, "side": "long", "notional": "10", "pad": "x" * 100_000})},
            "too large",
        ),
        "bad_json_args": (
            lambda cid: {"command_id": cid, "type": "close", "issued_at_ms": str(now_ms()), "issued_by": "test",
                         "args": '{"symbol": "BTC/USDT:USDT",'},
            "not valid json",
        ),
        "unknown_type": (
            lambda cid: {"command_id": cid, "type": "liquidate-everything", "issued_at_ms": str(now_ms()),
                         "issued_by": "test", "args": "{}"},
            "unknown command type",
        ),
        "nan_notional": (
            lambda cid: {"command_id": cid, "type": "open", "issued_at_ms": str(now_ms()), "issued_by": "test",
                         "args": json.dumps({"symbol": ETH, "side": "long", "notional": "NaN"})},
            "notional",
        ),
    }

    @pytest.mark.parametrize("case", list(GARBAGE))
    def test_garbage_when_put_on_the_stream_then_rejected_with_a_reason_and_nothing_changes(self, lone_bot, case):
        store = lone_bot.store
        make, reason = self.GARBAGE[case]
        before = holdings(store)
        cid = uuid.uuid4().hex

        entry_id = store.send_raw_command(make(cid))

        result_id = cid if case != "random_bytes" else f"entry:{entry_id}"
        result = wait_for(lambda: store.read_command_result(result_id), 5, f"a result for {case}")
        assert result.status is CommandStatus.REJECTED
        assert reason in result.detail.lower(), result.detail
        wait_consumed(store, "bot", entry_id)
        assert lone_bot.heartbeats(), "the bot stopped heartbeating"
        assert holdings(store) == before

    def test_cli_halt_when_bot_running_then_exit_0_and_open_refused_with_exit_1(self, lone_bot):
        store = lone_bot.store
        ensure_active(store)

        halt = run_cli(["halt"], lone_bot.env)
        refused = run_cli(["open", BTC, "--side", "long", "--notional", "100"], lone_bot.env)

        assert halt.returncode == 0, halt.stderr
        assert "halt: done" in halt.stdout
        assert store.trading_state() is TradingState.HALTED
        assert refused.returncode == 1
        assert "rejected" in refused.stderr and "halted" in refused.stderr.lower()
        assert "Traceback" not in refused.stderr

    def test_cli_status_json_when_bot_running_then_exit_0(self, lone_bot):
        status = run_cli(["status", "--json"], lone_bot.env)

        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True and report["mode"] == "paper" and report["venue"] == "sim"

    def test_halt_when_sent_while_the_bot_is_down_then_the_restarted_bot_is_halted_before_trading(self, lone_bot):
        store = lone_bot.store
        ensure_active(store)
        old = lone_bot.wait_bot_running()
        os.killpg(old, signal.SIGKILL)
        wait_for(lambda: not lone_bot.children[-1].alive(), 5, "the bot's death")

        halt = send_at(store, CommandType.HALT)  # raw on the stream, not the command client: no flag written by us
        assert store.read_halt() is None
        lone_bot.start_bot()
        new = lone_bot.wait_bot_running(not_pid=old)

        result = wait_result(store, halt.command_id, 8)
        assert result.status is CommandStatus.DONE and result.handled_by == "bot"
        assert store.trading_state() is TradingState.HALTED
        assert store.read_state()["trading_state"] == TradingState.HALTED.value
        assert lone_bot.live_bot_pid() == new
        refused = command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "100"})
        assert refused.status is CommandStatus.REJECTED and "halted" in refused.detail.lower()


# ==================================================================================== a busy bot


def test_close_all_when_bot_busy_with_positions_in_three_symbols_then_flat_and_halted_quickly(redis_url, bot_id, store, tmp_path):
    fleet = BotFleet(store, redis_url, tmp_path, TB_BOT__SLOW_TICK_SECONDS="2")
    try:
        fleet.start_bot()
        fleet.wait_bot_running()
        for symbol in (ETH, BTC, SOL):
            open_position(store, symbol)
        assert venue_symbols(store) == {ETH, BTC, SOL}

        result = command(store, CommandType.CLOSE_ALL)

        assert result.status is CommandStatus.DONE, result
        assert result.handled_by == "bot"
        assert result.elapsed_ms < 1000, f"kill switch took {result.elapsed_ms} ms"
        assert "flat confirmed" in result.detail
        assert store.trading_state() is TradingState.HALTED
        assert_flat(store)
        status = json.loads(run_cli(["status", "--json"], fleet.env).stdout)
        assert status["positions"] == [] and status["open_orders"] == [] and status["trading_state"] == "HALTED"
        closed = {t.symbol for t in store.read_trades() if t.exit_reason.value == "kill_switch"}
        assert closed == {ETH, BTC, SOL}
    finally:
        fleet.cleanup()


# ============================================================================ the CLI without a bot


def test_cli_status_json_when_no_bot_is_running_then_exit_1(redis_url, bot_id):
    status = run_cli(["status", "--json"], process_env(redis_url, bot_id))

    assert status.returncode == 1
    assert json.loads(status.stdout)["running"] is False


def test_cli_status_json_when_redis_unreachable_then_exit_2(bot_id):
    status = run_cli(["status", "--json"], process_env(f"redis://127.0.0.1:{free_port()}/0", bot_id))

    assert status.returncode == 2
    assert json.loads(status.stdout)["error"].startswith("cannot reach Redis")
    assert "Traceback" not in status.stderr


@pytest.mark.parametrize(
    "yaml_text, key",
    [
        ("bot:\n  id: x\n  symbolz: [BTC/USDT:USDT]\n", "bot.symbolz"),
        ("venue:\n  leverage: -3\n", "venue.leverage"),
        ("venue:\n  starting_balance: -100\n", "venue.starting_balance"),
    ],
    ids=["unknown_key", "negative_leverage", "negative_balance"],
)
def test_cli_bot_when_config_invalid_then_exit_2_with_one_line_naming_the_key(redis_url, bot_id, tmp_path, yaml_text, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text)

    run = run_cli(["bot", "--mode", "paper", "--config", str(bad)], process_env(redis_url, bot_id))

    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert key in lines[0] and "bad.yaml" in lines[0]
    assert "Traceback" not in run.stderr


# ========================================================================== bot under the supervisor


@pytest.fixture(scope="class")
def supervised(redis_server, tmp_path_factory) -> Iterator[BotFleet]:
    # heartbeat timeout 3 s, as in production longer than takeover_wait + 1.5 s
    fleet = new_fleet(redis_server.url, tmp_path_factory.mktemp("supervised"), TB_CONTROL__HEARTBEAT_TIMEOUT_SECONDS="3")
    try:
        fleet.start_supervisor()
        fleet.wait_bot_running()
        yield fleet
    finally:
        fleet.cleanup()
        fleet.store.wipe()


class TestSupervised:
    def test_start_when_stale_then_rejected_as_stale(self, supervised):
        store = supervised.store
        pid = supervised.wait_bot_running()

        stale = send_at(store, CommandType.START, {"mode": "paper"}, issued_at_ms=now_ms() - 60_000)

        result = wait_result(store, stale.command_id, 5)
        assert result.status is CommandStatus.REJECTED and result.handled_by == "supervisor"
        assert "stale" in result.detail
        assert supervised.live_bot_pid() == pid

    def test_close_all_when_bot_frozen_then_supervisor_flattens_within_3s_and_the_thawed_bot_keeps_it_flat(self, supervised):
        store = supervised.store
        pid = supervised.wait_bot_running()
        ensure_active(store)
        open_position(store, ETH)
        open_position(store, BTC, "short")
        os.kill(pid, signal.SIGSTOP)
        try:
            sent = send_command(store, CommandType.CLOSE_ALL, issued_by="test")
            result = wait_result(store, sent.command_id, 3.0)
            assert result is not None and result.status is CommandStatus.DONE, result
            assert result.handled_by == "supervisor"
            assert result.elapsed_ms < 3000
            assert_flat(store)
            assert store.trading_state() is TradingState.HALTED
        finally:
            os.kill(pid, signal.SIGCONT)
        supervised.wait_bot_running()
        time.sleep(1.0)  # five candles per symbol through the thawed bot

        assert supervised.live_bot_pid() == pid
        assert_flat(store)
        assert wait_result(store, sent.command_id, 0).status is CommandStatus.DONE
        assert store.trading_state() is TradingState.HALTED
        wait_for(lambda: {t.symbol for t in store.read_trades() if t.exit_reason.value == "kill_switch"} >= {ETH, BTC},
                 5, "both kill-switch trades booked by the thawed bot")
        assert store.recall(Memory.OPEN_TRADES) == {}

    def test_close_all_when_bot_killed_then_flat_within_3s(self, supervised):
        store = supervised.store
        pid = supervised.wait_bot_running()
        ensure_active(store)
        open_position(store, ETH, "short")
        open_position(store, SOL)
        os.killpg(pid, signal.SIGKILL)

        sent = send_command(store, CommandType.CLOSE_ALL, issued_by="test")
        result = wait_result(store, sent.command_id, 3.0)

        assert result is not None and result.status is CommandStatus.DONE, result
        assert result.elapsed_ms < 3000
        assert_flat(store)
        assert store.trading_state() is TradingState.HALTED
        supervised.wait_bot_running(not_pid=pid)
        assert_flat(store)
        wait_for(lambda: {t.symbol for t in store.read_trades() if t.exit_reason.value == "kill_switch"} >= {ETH, SOL},
                 5, "both kill-switch trades booked by the restarted bot")

    def test_halt_when_sent_while_the_bot_restarts_then_halted_when_it_is_back(self, supervised):
        store = supervised.store
        pid = supervised.wait_bot_running()
        ensure_active(store)
        os.killpg(pid, signal.SIGKILL)

        halt = send_at(store, CommandType.HALT)  # raw on the stream: no flag written first, unlike the command client
        new = supervised.wait_bot_running(not_pid=pid)

        result = wait_result(store, halt.command_id, 5)
        assert result.status is CommandStatus.DONE, result
        assert store.trading_state() is TradingState.HALTED
        assert store.read_state()["trading_state"] == TradingState.HALTED.value
        assert supervised.live_bot_pid() == new
        refused = command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "100"})
        assert refused.status is CommandStatus.REJECTED and "halted" in refused.detail.lower()

    def test_close_all_when_bot_freezes_after_claiming_it_then_the_supervisor_finishes_it(self, supervised):
        store = supervised.store
        pid = supervised.wait_bot_running()
        ensure_active(store)
        open_position(store, ETH)
        open_position(store, SOL, "short")
        venue_lock = store.venue_store("sim").lock(timeout_s=10, blocking_timeout_s=5)
        assert venue_lock.acquire()  # the bot will claim the kill switch, then wait for the venue
        try:
            sent = send_command(store, CommandType.CLOSE_ALL, issued_by="test")
            wait_for(lambda: store.command_claimed_by(sent.command_id) == "bot", 3, "the bot's claim")
            os.kill(pid, signal.SIGSTOP)
        finally:
            venue_lock.release()
        try:
            result = wait_result(store, sent.command_id, 6.0)
            assert result is not None and result.status is CommandStatus.DONE, result
            assert result.handled_by == "supervisor"
            assert_flat(store)
        finally:
            os.kill(pid, signal.SIGCONT)
        supervised.wait_bot_running()
        time.sleep(0.5)  # the thawed bot finishes its own attempt

        assert_flat(store)
        assert [r.status for r in final_results(store, sent.command_id)] == [CommandStatus.DONE]
        assert store.trading_state() is TradingState.HALTED

    def test_stop_then_start_when_supervised_then_graceful_exit_and_running_again(self, supervised):
        store = supervised.store
        pid = supervised.wait_bot_running()
        ensure_active(store)
        open_position(store, BTC)

        stop = run_cli(["stop"], supervised.env)

        assert stop.returncode == 0, stop.stderr
        wait_for(lambda: store.read_state().get("running") == "0" and store.read_state().get("last_summary"), 8,
                 "the bot's graceful exit", on_timeout=supervised.logs)
        summary = json.loads(store.read_state()["last_summary"])
        assert "stop command" in summary["reason"]
        assert any(BTC in p for p in summary["open_positions"])  # positions stay, with a warning
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2],
                 5, "the bot process to exit")
        time.sleep(0.7)  # longer than the restart backoff: a clean stop is not restarted
        assert store.read_state().get("running") == "0"

        start = run_cli(["start", "--mode", "paper"], supervised.env)

        assert start.returncode == 0, start.stderr
        assert "heartbeat seen" in start.stdout
        new = supervised.wait_bot_running(not_pid=pid)
        assert store.read_state()["mode"] == "paper"
        assert BTC in venue_symbols(store)  # nothing lost across the stop
        assert supervised.live_bot_pid() == new


def test_crash_loop_when_bot_keeps_dying_then_halted_with_alert_and_no_restart(redis_url, bot_id, store, tmp_path):
    fleet = BotFleet(store, redis_url, tmp_path, TB_CONTROL__CRASH_LOOP_MAX_RESTARTS="1",
                     TB_CONTROL__RESTART_BACKOFF_SECONDS="[0.3]")
    try:
        fleet.start_supervisor()
        killed: list[int] = []
        for _ in range(2):
            pid = wait_for(lambda: (p := int(store.read_state().get("supervised_pid") or 0)) not in (0, *killed) and p,
                           15, "a new bot process", on_timeout=fleet.logs)
            fleet.bot_pids.add(pid)
            os.killpg(pid, signal.SIGKILL)
            killed.append(pid)

        alert = wait_for(lambda: store.read_state().get("alert"), 5, "the crash-loop alert", on_timeout=fleet.logs)
        assert "crash loop" in alert
        assert store.trading_state() is TradingState.HALTED
        assert "crash loop" in store.read_halt().reason
        time.sleep(1.0)  # three restart backoffs
        assert int(store.read_state()["supervised_pid"]) == killed[-1]
        assert fleet.children[0].alive(), "the supervisor itself must keep running"
        assert any("ALERT" in e.message for e in store.read_audit(200, kinds=["supervisor"]))
    finally:
        fleet.cleanup()


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"TB_BOT__SYMBOLS": "[FOO/USDT:USDT]"}, "bot.symbols: no trading rules (tick, lot, minimum notional) for FOO/USDT:USDT"),
        ({"TB_VENUE__EXCHANGE_INFO_PATH": "/nonexistent/exchange_info.json"},
         "venue.exchange_info_path: /nonexistent/exchange_info.json not found"),
    ],
    ids=["unknown_symbol", "missing_rules_file"],
)
def test_cli_bot_when_a_symbol_or_its_rules_file_is_unknown_then_exit_2_with_one_line_and_nothing_traded(
        redis_url, bot_id, env, expected):
    run = run_cli(["bot", "--mode", "paper"], process_env(redis_url, bot_id, **env))

    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert StateStore(connect(redis_url), bot_id).read_trades() == []
