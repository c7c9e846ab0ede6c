"""The dashboard in a real browser, over state seeded in Redis (no bot process needed)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e_helpers import CommandAnswerer, Heartbeat, now_ms
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


def _open(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("tab", name="Account")).to_be_visible(timeout=UI_TIMEOUT_MS)


def test_dashboard_when_opened_then_four_tabs_and_the_seeded_status_show(page: Page, dashboard_url, seeded,
                                                                         tmp_path: Path):
    _open(page, dashboard_url)

    for name in ("Account", "Paper", "Ghost", "Live"):
        expect(page.get_by_role("tab", name=name)).to_be_visible()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("paper", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(main.get_by_text("ACTIVE", exact=True)).to_be_visible()
    expect(main.get_by_text("running", exact=True)).to_be_visible()
    expect(main.get_by_text("10,282.25")).to_be_visible()  # equity = wallet + unrealised, from Decimals
    expect(main.get_by_text("ETH/USDT:USDT").first).to_be_attached()
    for name in ("KILL SWITCH", "HALT", "RESUME", "START", "STOP"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    page.get_by_role("tab", name="Paper").click()
    expect(main.get_by_text("Paper trades", exact=True)).to_be_visible()
    page.get_by_role("tab", name="Ghost").click()
    expect(main.get_by_text("Signal accuracy", exact=True)).to_be_visible()
    page.get_by_role("tab", name="Live").click()
    expect(main.get_by_text("Live trading is not enabled")).to_be_visible()


def test_status_when_state_changes_in_redis_then_page_follows_without_reload(page: Page, dashboard_url, seeded):
    _open(page, dashboard_url)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("running", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)

    seeded.write_state(data_source="synthetic (auto: binance unreachable)", feed_stale="1")
    seeded.set_halt("daily loss limit", "risk-monitor", now_ms())
    try:
        expect(main.get_by_text("Synthetic prices.")).to_be_visible(timeout=10_000)
        expect(main.get_by_text("Market data feed is stale")).to_be_visible()
        expect(main.get_by_text("HALTED", exact=True)).to_be_visible()
    finally:
        seeded.clear_halt()
        seeded.write_state(data_source="synthetic", feed_stale="0")


def test_halt_when_clicked_then_command_goes_to_redis_and_answer_is_shown(page: Page, dashboard_url, seeded):
    _open(page, dashboard_url)
    sidebar = page.get_by_test_id("stSidebar")

    with CommandAnswerer(seeded, CommandStatus.DONE, elapsed_ms=7.0) as bot:
        sidebar.get_by_role("button", name="HALT", exact=True).click()
        expect(sidebar.get_by_text("Result: done in 7 ms")).to_be_visible(timeout=UI_TIMEOUT_MS)

    assert [(f["type"], f["issued_by"], json.loads(f["args"])) for f in bot.seen] == [("halt", "dashboard", {})]
