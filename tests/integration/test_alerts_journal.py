"""Alerts and the journal with real processes: a supervisor and its paper bot on a real Redis, the real CLI,
alerts through the real apprise to a real HTTP receiver on 127.0.0.1 that records what arrived."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
import pytest

from embedded_redis import free_port
from journal.store import Journal, journal_path
from models import CommandType, TradingState
from processes import BotFleet, run_cli, wait_for
from state import StateStore
from tests.webhook_receiver import Receiver
from test_control_plane import command, open_position

pytestmark = pytest.mark.slow
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    yield r
    r.down()


def fleet_with_alerts(redis_url: str, store: StateStore, tmp_path: Path, receiver: Receiver, **env: str) -> BotFleet:
    return BotFleet(
        store, redis_url, tmp_path, TB_ALERT_URLS=receiver.url, TB_JOURNAL__DIR=str(tmp_path / "journal"),
        TB_JOURNAL__POLL_SECONDS="0.2", TB_ALERTS__RETRY_SECONDS="[0.3]", TB_ALERTS__EVENTS="{paper_fill: 'on'}",
        TB_REDIS__RUN_MARKER_DIR=str(tmp_path / "run"), **env,
    )


def test_alerts_when_the_bot_lives_through_its_events_then_each_reaches_the_receiver_once_even_if_it_was_down(
    redis_url, store, tmp_path, receiver
):
    fleet = fleet_with_alerts(redis_url, store, tmp_path, receiver)
    try:
        fleet.start_supervisor("paper")  # the receiver is down: the start alert waits and is retried
        first = fleet.wait_bot_running(30)
        time.sleep(1.0)  # several retries fail meanwhile
        assert receiver.received == []
        receiver.up()
        wait_for(lambda: "bot_started" in receiver.kinds(), 15, "the start alert after the receiver came back")

        open_position(store, ETH, notional="200")  # a paper fill
        wait_for(lambda: "paper_fill" in receiver.kinds(), 15, "a paper fill alert")
        assert run_cli(["halt"], fleet.env).returncode == 0
        wait_for(lambda: "halt" in receiver.kinds(), 15, "the halt alert")
        assert run_cli(["close-all"], fleet.env).returncode == 0
        wait_for(lambda: "kill_switch" in receiver.kinds(), 15, "the kill switch alert")

        os.kill(first, signal.SIGSTOP)  # frozen: its heartbeat stops, the process lives
        wait_for(lambda: "bot_unresponsive" in receiver.kinds(), 20, "the unresponsive alert")
        os.kill(first, signal.SIGCONT)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: "bot_crashed" in receiver.kinds(), 20, "the crash alert")
        fleet.wait_bot_running(30, not_pid=first)
        wait_for(lambda: receiver.kinds().count("bot_started") == 2, 20, "the restart's start alert")
        assert run_cli(["stop"], fleet.env, timeout_s=40).returncode == 0
        wait_for(lambda: "bot_stopped" in receiver.kinds(), 20, "the stop alert")
        time.sleep(1.0)  # a repeat would arrive within a few polls
    finally:
        fleet.cleanup()

    kinds = receiver.kinds()
    for kind in ("bot_started", "paper_fill", "halt", "kill_switch", "bot_unresponsive", "bot_crashed", "bot_stopped"):
        assert kind in kinds, (kind, kinds)
    messages = [(m["title"], m["message"]) for m in receiver.received]
    assert len(messages) == len(set(messages)), f"an alert arrived twice: {messages}"
    assert kinds.count("halt") == 1 and kinds.count("kill_switch") == 1 and kinds.count("bot_crashed") == 1
    kill = next(m for m in receiver.received if "kill switch" in m["title"])
    assert "by cli" in kill["message"] and "done" in kill["message"]
    # the notification URL is a secret: nowhere in the logs, Redis or the journal file
    logs = "".join(path.read_text(errors="replace") for path in tmp_path.glob("*.log"))
    assert "bot started" in logs or "supervisor" in logs  # the logs were read at all
    assert Receiver.TOKEN not in logs
    for key in store.client.scan_iter(f"tb:{store.bot_id}:*"):
        assert Receiver.TOKEN not in repr(store.client.dump(key))
    for path in (tmp_path / "journal").iterdir():
        assert Receiver.TOKEN.encode() not in path.read_bytes()


def test_alerts_when_orders_keep_failing_then_one_circuit_breaker_alert(redis_url, store, tmp_path, receiver):
    receiver.up()
    fleet = fleet_with_alerts(redis_url, store, tmp_path, receiver, TB_VENUE__FAULTS__REJECT_RATE="1",
                              TB_RISK__CIRCUIT_BREAKER_FAILURES="2")
    try:
        fleet.start_supervisor("paper")
        fleet.wait_bot_running(30)
        for symbol in (BTC, ETH):
            command(store, CommandType.OPEN, {"symbol": symbol, "side": "long", "notional": "200"})
        wait_for(lambda: store.trading_state() is TradingState.HALTED, 15, "the circuit breaker's halt")
        wait_for(lambda: "circuit_breaker" in receiver.kinds(), 15, "the circuit breaker alert")
        time.sleep(1.0)
    finally:
        fleet.cleanup()
    assert receiver.kinds().count("circuit_breaker") == 1


def test_journal_when_redis_is_flushed_then_it_still_holds_the_trades_and_exports_them(
    redis_url, store, tmp_path, receiver
):
    receiver.up()
    fleet = fleet_with_alerts(redis_url, store, tmp_path, receiver)
    try:
        fleet.start_supervisor("paper")
        fleet.wait_bot_running(30)
        for symbol in (BTC, ETH):
            open_position(store, symbol, notional="200")
        assert run_cli(["close-all"], fleet.env).returncode == 0
        wait_for(lambda: len(store.read_trades()) == 2, 15, "two trades in Redis")
        path = journal_path(tmp_path / "journal", store.bot_id)
        wait_for(lambda: path.exists() and Journal(path).count(kinds=["trade"]) == 2, 15, "two trades in the journal")
        trades_in_redis = {t.trade_id: t.pnl for t in store.read_trades()}

        store.client.flushall()  # Redis loses everything; the bot halts with cause state_lost
        wait_for(lambda: "state_lost" in receiver.kinds(), 20, "the state-lost alert")
        assert store.read_trades() == []
    finally:
        fleet.cleanup()

    exported = run_cli(["export", "--what", "trades"], fleet.env)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))

    assert {r["trade_id"]: Decimal(r["pnl"]) for r in rows} == trades_in_redis
    assert all(r["mode"] == "paper" and r["exit_reason"] and r["bot_id"] == store.bot_id for r in rows)

    out = tmp_path / "orders.parquet"
    orders = run_cli(["export", "--what", "orders", "--format", "parquet", "--out", str(out)], fleet.env)
    assert orders.returncode == 0, orders.stderr
    table = pq.read_table(out).to_pandas()
    assert {"venue_order", "fill"} <= set(table["kind"])
    assert set(table.loc[table.kind == "fill", "symbol"]) == {BTC, ETH}


def test_export_when_dates_are_backwards_or_what_is_unknown_then_exit_2_with_one_line(redis_url, store, tmp_path):
    env = BotFleet(store, redis_url, tmp_path, TB_JOURNAL__DIR=str(tmp_path / "journal")).env
    backwards = run_cli(["export", "--what", "trades", "--from", "2025-05-10", "--to", "2025-05-01"], env)
    bad_date = run_cli(["export", "--what", "trades", "--from", "yesterday-ish"], env)

    assert backwards.returncode == 2 and "must be after" in backwards.stderr
    assert bad_date.returncode == 2 and "--from" in bad_date.stderr
    assert len(backwards.stderr.strip().splitlines()) == 1


def test_supervisor_when_its_journal_cannot_be_opened_then_the_bot_still_runs_and_the_reason_is_logged(
    redis_url, store, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal folder should be")
    fleet = BotFleet(store, redis_url, tmp_path, TB_JOURNAL__DIR=str(blocker / "journal"),
                     TB_REDIS__RUN_MARKER_DIR=str(tmp_path / "run"))
    try:
        fleet.start_supervisor("paper")
        fleet.wait_bot_running(30)
        reasons = [e.message for e in store.read_audit(200, kinds=["supervisor"]) if "journal not started" in e.message]
    finally:
        fleet.cleanup()
    assert reasons and "records stay in Redis only" in reasons[0]
