"""The dashboard in a real browser, over state seeded in Redis (no bot process needed)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e_helpers import CommandAnswerer, DashboardPage, Heartbeat, now_ms
from models import Account, CommandStatus, ExitReason, Mode, Position, Side, Trade

pytestmark = [
    pytest.mark.e2e,
    # pytest-base-url (pulled in by pytest-playwright) defines base_url the way pytest 9 deprecates
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

UI_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def seeded(e2e_store):
    """A paper bot that looks alive: state, account, a position, a trade; its heartbeat kept fresh."""
    now = now_ms()
    e2e_store.write_state(mode="paper", venue="sim", trading_state="ACTIVE", heartbeat_ms=now, running="1",
                          data_source="synthetic", feed_stale="0")
    e2e_store.write_account(Account(Decimal("10250.75"), Decimal("31.5"), Decimal("812.4"), Decimal("9469.85")))
    e2e_store.write_positions([Position("ETH/USDT:USDT", Side.LONG, Decimal("2.5"), Decimal("1800"),
                                        mark_price=Decimal("1812.6"), unrealized_pnl=Decimal("31.5"))])
    e2e_store.append_trade(Trade("t1", "SOL/USDT:USDT", Side.SHORT, Decimal("10"), Decimal("145"), Decimal("143.2"),
                                 now - 300_000, now - 60_000, Decimal("18"), Decimal("1.44"), Decimal("16.56"),
                                 ExitReason.TRAILING_STOP, Mode.PAPER, strategy="ema_trend"))
    e2e_store.append_equity(now - 60_000, Decimal("10219.25"), Decimal("10219.25"), Decimal("0"))
    e2e_store.append_equity(now, Decimal("10282.25"), Decimal("10250.75"), Decimal("31.5"))
    heartbeat = Heartbeat(e2e_store).start()
    yield e2e_store
    heartbeat.stop()


def test_dashboard_when_opened_then_four_tabs_and_the_seeded_status_show(page: Page, dashboard_url, seeded,
                                                                         tmp_path: Path):
    ui = DashboardPage.open(page, dashboard_url)

    for name in ("Account", "Paper", "Ghost", "Live"):
        expect(page.get_by_role("tab", name=name)).to_be_visible()
    ui.expect_status("Mode", "paper")
    ui.expect_status("Venue", "sim")
    ui.expect_status("Trading state", "ACTIVE")
    ui.expect_status("Bot", "running")
    ui.expect_status("Data source", "synthetic")
    expect(ui.main.get_by_text("10,282.25")).to_be_visible()  # equity = wallet + unrealised, from Decimals
    expect(ui.main.get_by_text("ETH/USDT:USDT").first).to_be_attached()
    for name in ("KILL SWITCH", "HALT", "RESUME", "START", "STOP"):
        expect(ui.sidebar.get_by_role("button", name=name, exact=True)).to_be_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    page.get_by_role("tab", name="Paper").click()
    expect(ui.main.get_by_text("Trade history", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Ghost").click()
    expect(ui.main.get_by_text("Signal accuracy", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Live").click()
    expect(ui.main.get_by_text("Live trading is not enabled")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_text("Decision log").click()


def test_status_when_state_changes_in_redis_then_page_follows_without_reload(page: Page, dashboard_url, seeded):
    ui = DashboardPage.open(page, dashboard_url)
    ui.expect_status("Bot", "running")

    seeded.write_state(data_source="synthetic (auto: binance unreachable)", feed_stale="1")
    seeded.set_halt("daily loss limit", "risk-monitor", now_ms())
    try:
        expect(ui.main.get_by_text("Synthetic prices.")).to_be_visible(timeout=10_000)
        expect(ui.main.get_by_text("Market data feed is stale")).to_be_visible()
        ui.expect_status("Trading state", "HALTED", timeout_ms=10_000)
        expect(ui.sidebar_status).to_contain_text("HALTED")
    finally:
        seeded.clear_halt()
        seeded.write_state(data_source="synthetic", feed_stale="0")


def test_halt_when_clicked_then_command_goes_to_redis_and_answer_is_shown(page: Page, dashboard_url, seeded):
    ui = DashboardPage.open(page, dashboard_url)

    with CommandAnswerer(seeded, CommandStatus.DONE, elapsed_ms=7.0) as bot:
        ui.press("HALT")
        ui.expect_result("Result: done in 7 ms")

    assert [(f["type"], f["issued_by"], json.loads(f["args"])) for f in bot.seen] == [("halt", "dashboard", {})]


def test_kill_switch_when_bot_is_live_then_a_dialog_asks_before_anything_is_sent(page: Page, dashboard_url, seeded):
    seeded.write_state(mode="live")
    try:
        ui = DashboardPage.open(page, dashboard_url)
        ui.expect_status("Mode", "live")
        dialog = page.get_by_role("dialog")

        with CommandAnswerer(seeded, CommandStatus.DONE, elapsed_ms=41.0) as bot:
            ui.sidebar.get_by_role("button", name="KILL SWITCH", exact=True).click()
            expect(dialog.get_by_text("The bot is trading")).to_be_visible(timeout=UI_TIMEOUT_MS)
            dialog.get_by_role("button", name="Cancel", exact=True).click()
            expect(dialog).to_be_hidden()
            assert bot.seen == []

            ui.sidebar.get_by_role("button", name="KILL SWITCH", exact=True).click()
            dialog.get_by_role("button", name="Close everything", exact=True).click()
            expect(ui.result.get_by_text("Result: done in 41 ms")).to_be_visible(timeout=UI_TIMEOUT_MS)

        assert [(f["type"], f["issued_by"]) for f in bot.seen] == [("close-all", "dashboard")]
    finally:
        seeded.write_state(mode="paper")
