"""The password gate in a real browser: `main.py dashboard --address 0.0.0.0` with TB_DASHBOARD_PASSWORD,
a real ghost bot, a Redis with a password; the API keys sit in both processes' environment.

The page asks for the password and shows nothing else; a wrong one is refused; the right one shows
the tabs. No page ever shows a secret.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e_helpers import PROJECT_ROOT, Managed
from embedded_redis import free_port, start_embedded_redis
from redis_auth import RedisAuth
from state import StateStore, connect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")
UI_TIMEOUT_MS = 30_000
START_S = 60
DASHBOARD_PASSWORD = "leakcheck-dashpw-5d1e88"
SECRETS = {
    "BINANCE_API_KEY": "leakcheck-apikey-e2e-0c7f",
    "BINANCE_API_SECRET": "leakcheck-apisecret-e2e-a3b9",
    "TB_REDIS_PASSWORD": "leakcheck-redispw-e2e-61d4",
    "TB_DASHBOARD_PASSWORD": DASHBOARD_PASSWORD,
}


def _health_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def protected_dashboard(tmp_path_factory) -> Iterator[str]:
    """Locked Redis, a ghost bot and the dashboard on 0.0.0.0; the URL the browser opens."""
    tmp = tmp_path_factory.mktemp("auth")
    redis_server = start_embedded_redis(free_port(), tmp / "redis", persist=False,
                                        auth=RedisAuth(SECRETS["TB_REDIS_PASSWORD"]))
    store = StateStore(connect(redis_server.client_url), "e2eauth" + uuid.uuid4().hex[:6])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_") and k != "REDIS_URL"}
    env.update(SECRETS, REDIS_URL=redis_server.url, TB_BOT__ID=store.bot_id, TB_MARKET_DATA__SOURCE="synthetic",
               TB_DASHBOARD__REFRESH_SECONDS="1", PYTHONUNBUFFERED="1")
    port = free_port()
    started: list[Managed] = []
    try:
        bot = Managed("bot", [PYTHON, "main.py", "bot", "--mode", "ghost"], env, tmp / "bot.log")
        started.append(bot)
        bot.wait_until(lambda: bool(store.read_state().get("heartbeat_ms")), START_S, "heartbeat in Redis")
        dashboard = Managed("dashboard", [PYTHON, "main.py", "dashboard", "--address", "0.0.0.0", "--port", str(port)],
                            env, tmp / "dashboard.log")
        started.append(dashboard)
        dashboard.wait_until(lambda: _health_ok(port), START_S, "answer 'ok' on /_stcore/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in reversed(started):
            process.stop()
        store.wipe()
        redis_server.stop()


def _expect_no_secret(page: Page) -> None:
    text = page.locator("body").inner_text() + page.content()
    assert [name for name, value in SECRETS.items() if value in text] == []


def _sign_in(page: Page, password: str) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_dashboard_when_opened_on_a_wide_address_then_it_asks_for_the_password_and_shows_nothing_else(
        page: Page, protected_dashboard):
    page.goto(protected_dashboard)

    expect(page.get_by_label("Password", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("tab", name="Account")).to_have_count(0)
    expect(page.get_by_text("KILL SWITCH")).to_have_count(0)
    _expect_no_secret(page)


@pytest.mark.parametrize("wrong", ["", "leakcheck-dashpw-5d1e8", DASHBOARD_PASSWORD + " ", DASHBOARD_PASSWORD.upper()])
def test_sign_in_when_the_password_is_wrong_then_refused_and_nothing_shown(page: Page, protected_dashboard, wrong):
    page.goto(protected_dashboard)
    expect(page.get_by_label("Password", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)

    _sign_in(page, wrong)

    expect(page.get_by_text("Wrong password.")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("tab", name="Account")).to_have_count(0)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    _expect_no_secret(page)


def test_sign_in_when_the_password_is_right_then_the_tabs_show_and_no_secret_does(page: Page, protected_dashboard,
                                                                                  tmp_path: Path):
    page.goto(protected_dashboard)
    expect(page.get_by_label("Password", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)

    _sign_in(page, DASHBOARD_PASSWORD)

    for name in ("Account", "Paper", "Ghost", "Live"):
        expect(page.get_by_role("tab", name=name)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator(".tb-status-mode").get_by_text("ghost", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("redis://***@127.0.0.1:")).to_be_visible()  # the caption names Redis, redacted
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    for name in ("Ghost", "Live", "Paper", "Account"):
        page.get_by_role("tab", name=name).click()
        _expect_no_secret(page)
    page.get_by_text("Decision log").click()
    _expect_no_secret(page)
    page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
