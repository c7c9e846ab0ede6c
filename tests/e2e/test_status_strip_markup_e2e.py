"""The status strip as one HTML block (ui/header.strip_html): values a process wrote into Redis are shown as
text, never run or parsed as markup. Real Redis, the product's dashboard, Chromium."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from e2e_helpers import DashboardPage, Heartbeat, now_ms
from models import Account

INJECTED_SOURCE = '<img src=x onerror="window.__tb_pwned=1"><b id="tb-injected">bold</b>'
INJECTED_VENUE = '</div><script>window.__tb_pwned=2</script><i id="tb-injected-venue">v</i>'


@pytest.fixture(scope="module")
def injected(e2e_store):
    e2e_store.write_state(mode="paper", venue=INJECTED_VENUE, trading_state="ACTIVE", heartbeat_ms=now_ms(),
                          running="1", data_source=INJECTED_SOURCE, feed_stale="0")
    e2e_store.write_account(Account(Decimal("10000"), Decimal("0"), Decimal("0"), Decimal("10000")))
    heartbeat = Heartbeat(e2e_store).start()
    yield e2e_store
    heartbeat.stop()


def test_status_strip_when_redis_holds_markup_in_data_source_and_venue_then_it_shows_as_text(
        page: Page, dashboard_url, injected):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ui = DashboardPage.open(page, dashboard_url)
    expect(ui.status("Data source")).to_contain_text('<b id="tb-injected">bold</b>', timeout=30_000)
    expect(ui.status("Venue")).to_contain_text("<script>", timeout=30_000)
    assert page.locator("#tb-injected, #tb-injected-venue").count() == 0
    assert page.evaluate("() => window.__tb_pwned === undefined")
    assert dialogs == []
    # the strip's other cells are still there, each in its place (the venue's closing tags broke nothing)
    ui.expect_status("Mode", "paper")
    ui.expect_status("Trading state", "ACTIVE")
