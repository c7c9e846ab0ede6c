"""The dashboard driving a real bot: `main.py bot --mode ghost` on synthetic prices, and the supervisor.

One dashboard, one bot and (for STOP/START) one supervisor per module; the tests run in file order and
each leaves the bot ACTIVE and running for the next, except the last, which stops and restarts it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from control.client import send_command, wait_result
from e2e_helpers import DashboardPage
from models import CommandStatus, CommandType, HaltCause, TradingState

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

HEARTBEAT = re.compile(r"(\d+(?:\.\d)?) s ago")


def _ensure_active(store) -> None:
    if store.trading_state() is not TradingState.ACTIVE:
        command = send_command(store, CommandType.RESUME, {}, issued_by="e2e")
        result = wait_result(store, command.command_id, timeout_s=10)
        assert result is not None and result.status is CommandStatus.DONE, result


def test_status_when_real_bot_runs_then_mode_heartbeat_and_source_shown(page: Page, dashboard_url, bot_process):
    ui = DashboardPage.open(page, dashboard_url)

    ui.expect_status("Mode", "ghost")
    ui.expect_status("Bot", "running")
    ui.expect_status("Data source", "synthetic")
    ui.expect_status("Trading state", "ACTIVE")
    expect(ui.sidebar_status).to_contain_text("running")
    heartbeat = ui.status("Heartbeat")
    expect(heartbeat).to_contain_text(HEARTBEAT)
    age_s = float(HEARTBEAT.search(heartbeat.inner_text()).group(1))
    assert age_s < 5, f"heartbeat {age_s} s old"


def test_halt_then_resume_when_clicked_then_bot_answers_and_state_follows(page: Page, dashboard_url, bot_process,
                                                                           e2e_store):
    _ensure_active(e2e_store)
    ui = DashboardPage.open(page, dashboard_url)

    ui.press("HALT")
    ui.expect_result("Result: done")
    ui.expect_status("Trading state", "HALTED")
    assert e2e_store.trading_state() is TradingState.HALTED

    ui.press("RESUME")
    ui.expect_result("Result: done")
    ui.expect_status("Trading state", "ACTIVE")
    assert e2e_store.trading_state() is TradingState.ACTIVE


def test_kill_switch_when_clicked_in_ghost_mode_then_done_and_halted(page: Page, dashboard_url, bot_process,
                                                                      e2e_store):
    _ensure_active(e2e_store)
    ui = DashboardPage.open(page, dashboard_url)
    try:
        ui.press("KILL SWITCH")
        ui.expect_result("Result: done")
        ui.expect_status("Trading state", "HALTED")
        assert e2e_store.read_positions() == []
        flag = e2e_store.read_halt()
        assert flag.cause is HaltCause.KILL_SWITCH and flag.by == "dashboard", flag
    finally:
        _ensure_active(e2e_store)


def test_stop_then_start_when_clicked_then_bot_stops_and_the_supervisor_starts_it_again(
    page: Page, dashboard_url, bot_process, supervisor_process, e2e_store
):
    ui = DashboardPage.open(page, dashboard_url)
    ui.expect_status("Bot", "running")

    ui.press("STOP")
    ui.expect_result("Result: done")
    ui.expect_status("Bot", "stopped")
    bot_process.process.wait(timeout=20)  # the bot process this module started has really exited

    ui.choose_mode("ghost")
    ui.press("START", sent_as="START ghost")
    ui.expect_result("Result: done")
    ui.expect_status("Bot", "running")
    ui.expect_status("Mode", "ghost")
    assert e2e_store.read_state().get("supervised_pid")
