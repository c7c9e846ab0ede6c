"""The dashboard driving a real bot: `main.py bot --mode ghost` on synthetic prices, and the supervisor.

One dashboard, one bot and (for STOP/START) one supervisor per module; the tests run in file order and
each leaves the bot ACTIVE and running for the next, except the last, which stops and restarts it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from control.client import send_command, wait_result
from models import CommandStatus, CommandType, TradingState

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

UI_TIMEOUT_MS = 30_000
COMMAND_TIMEOUT_MS = 20_000
HEARTBEAT = re.compile(r"^(\d+(?:\.\d)?) s ago$")


def _open(page: Page, url: str) -> tuple[Locator, Locator]:
    page.goto(url)
    expect(page.get_by_role("tab", name="Account")).to_be_visible(timeout=UI_TIMEOUT_MS)
    return page.get_by_test_id("stMain"), page.get_by_test_id("stSidebar")


def _press(sidebar: Locator, label: str, sent_as: str | None = None) -> None:
    """Click a control and wait for *its* answer (the caption names the command that was sent)."""
    sidebar.get_by_role("button", name=label, exact=True).click()
    expect(sidebar.get_by_text(f"{sent_as or label} · sent")).to_be_visible(timeout=COMMAND_TIMEOUT_MS)


def _ensure_active(store) -> None:
    if store.trading_state() is not TradingState.ACTIVE:
        command = send_command(store, CommandType.RESUME, {}, issued_by="e2e")
        result = wait_result(store, command.command_id, timeout_s=10)
        assert result is not None and result.status is CommandStatus.DONE, result


def test_status_when_real_bot_runs_then_mode_heartbeat_and_source_shown(page: Page, dashboard_url, bot_process):
    main, sidebar = _open(page, dashboard_url)

    expect(main.get_by_text("ghost", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(main.get_by_text("running", exact=True)).to_be_visible()
    expect(main.get_by_text("synthetic", exact=True)).to_be_visible()
    expect(main.get_by_text("ACTIVE", exact=True)).to_be_visible()
    expect(sidebar.get_by_text("running", exact=True)).to_be_visible()
    heartbeat = main.get_by_text(HEARTBEAT)
    expect(heartbeat).to_be_visible()
    age_s = float(HEARTBEAT.match(heartbeat.inner_text().strip()).group(1))
    assert age_s < 5, f"heartbeat {age_s} s old"


def test_halt_then_resume_when_clicked_then_bot_answers_and_state_follows(page: Page, dashboard_url, bot_process,
                                                                           e2e_store):
    _ensure_active(e2e_store)
    main, sidebar = _open(page, dashboard_url)

    _press(sidebar, "HALT")
    expect(sidebar.get_by_text("Result: done")).to_be_visible()
    expect(main.get_by_text("HALTED", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert e2e_store.trading_state() is TradingState.HALTED

    _press(sidebar, "RESUME")
    expect(sidebar.get_by_text("Result: done")).to_be_visible()
    expect(main.get_by_text("ACTIVE", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert e2e_store.trading_state() is TradingState.ACTIVE


def test_kill_switch_when_clicked_in_ghost_mode_then_done_and_halted(page: Page, dashboard_url, bot_process,
                                                                      e2e_store):
    _ensure_active(e2e_store)
    main, sidebar = _open(page, dashboard_url)
    try:
        _press(sidebar, "KILL SWITCH")
        expect(sidebar.get_by_text("Result: done")).to_be_visible()
        expect(main.get_by_text("HALTED", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
        assert e2e_store.read_positions() == []
        assert "kill switch" in e2e_store.read_halt().reason
    finally:
        _ensure_active(e2e_store)


def test_stop_then_start_when_clicked_then_bot_stops_and_the_supervisor_starts_it_again(
    page: Page, dashboard_url, bot_process, supervisor_process, e2e_store
):
    main, sidebar = _open(page, dashboard_url)
    expect(main.get_by_text("running", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)

    _press(sidebar, "STOP")
    expect(sidebar.get_by_text("Result: done")).to_be_visible()
    expect(main.get_by_text("stopped", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    bot_process.process.wait(timeout=20)  # the bot process we started has really exited

    sidebar.get_by_label("Mode").click()  # the selectbox: ghost is the default, choose it explicitly anyway
    page.get_by_role("option", name="ghost", exact=True).click()
    _press(sidebar, "START", sent_as="START ghost")
    expect(sidebar.get_by_text("Result: done")).to_be_visible()
    expect(main.get_by_text("running", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(main.get_by_text("ghost", exact=True)).to_be_visible()
    assert e2e_store.read_state().get("supervised_pid")
