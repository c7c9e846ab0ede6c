"""The dashboard driving a real paper bot that trades: START paper from the page and see its trades, HALT and
see no new entries, the kill switch ending flat at the venue, and a frozen bot shown as unresponsive.

One dashboard and one supervisor per module; the bot is the one the supervisor starts when the first test
presses START. It trades the real candles of ../shared/data/klines (BTC and SOL) replayed at 40 candles a
second with the bare EMA crossing (`configs/ema_cross.yaml`'s rules, long only), so it enters within
seconds. Every position is held at least MIN_HOLD_CANDLES of market time (no stop or take-profit in
reach, no other exit): a position seen freshly opened is still open when a click reaches the bot.

The tests run in file order and share the bot: each starts from a running bot (resumed if halted).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from control.client import send_command, wait_result
from e2e_helpers import PROJECT_ROOT, UI_TIMEOUT_MS, DashboardPage, Managed
from models import CommandStatus, CommandType, ExitReason, HaltCause, Trade, TradingState
from state import StateStore
from tests.integration.processes import read_venue, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

BTC, SOL = "BTC/USDT:USDT", "SOL/USDT:USDT"
KLINES = PROJECT_ROOT.parent / "shared" / "data" / "klines"
FILES = {
    BTC: KLINES / "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    SOL: KLINES / "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}
MINUTE_MS = 60_000
CANDLES_PER_S = 40
SPEED = CANDLES_PER_S * 60  # market seconds per wall second
MIN_HOLD_CANDLES = 20 * CANDLES_PER_S  # 20 s of wall time
# a position younger than this has at least 10 s of its hold left: time for a click to reach the bot on a
# busy machine (the page takes seconds to answer a press while it redraws the charts)
FRESH_CANDLES = MIN_HOLD_CANDLES - 10 * CANDLES_PER_S
HEARTBEAT_TIMEOUT_S = 5
TRADING_ENV = {
    "TB_BOT__SYMBOLS": f"[{BTC}, {SOL}]",
    "TB_MARKET_DATA__SOURCE": "replay",
    "TB_MARKET_DATA__REPLAY__FILES": json.dumps({symbol: str(path) for symbol, path in FILES.items()}),
    "TB_MARKET_DATA__REPLAY__SPEED": str(SPEED),
    "TB_MARKET_DATA__REPLAY__LOOP": "true",
    "TB_MARKET_DATA__BACKFILL_CANDLES": "100",
    "TB_STRATEGY__ENABLED": "[ema_cross]",
    "TB_STRATEGY__MIN_CONFIDENCE": "0",
    "TB_STRATEGY__ENTRY_SIDES": "long",
    "TB_SIZING__METHOD": "fixed_notional",
    "TB_SIZING__FIXED_NOTIONAL": "1000",
    "TB_STOPS__METHOD": "none",
    "TB_EXITS__TAKE_PROFIT_ENABLED": "false",
    "TB_EXITS__TRAILING__ENABLED": "false",
    "TB_EXITS__EMERGENCY_ENABLED": "false",
    "TB_EXITS__VOLUME_EXHAUSTION_ENABLED": "false",
    "TB_EXITS__TIME_LIMIT_ENABLED": "false",
    "TB_EXITS__MIN_HOLD_SECONDS": str(MIN_HOLD_CANDLES * 60),
    "TB_RISK__DAILY_LOSS_LIMIT_PCT": "100",
    "TB_RISK__WEEKLY_LOSS_LIMIT_PCT": "100",
    "TB_BOT__TICK_SECONDS": "0.1",
    "TB_BOT__HEARTBEAT_SECONDS": "0.5",
    "TB_CONTROL__HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT_S),
    "TB_CONTROL__RESTART_BACKOFF_SECONDS": "[0.5]",
}
SUPERVISOR_START_S = 60
NUMBER = re.compile(r"^[+-]?[\d,]+(?:\.\d+)?$")


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def process_env(process_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The dashboard and the supervisor (and so the bot) read the same settings: the trading ones."""
    if not all(path.exists() for path in FILES.values()):
        pytest.skip(f"real candles not found at {KLINES} (../shared/data is absent)")
    journal = tmp_path_factory.mktemp("journal")
    return {**process_env, **TRADING_ENV, "TB_JOURNAL__DIR": str(journal)}


@pytest.fixture(scope="module")
def supervisor(process_env: dict[str, str], e2e_store: StateStore,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Managed]:
    """`main.py supervise --no-bot`: the bot is started by the page's START."""
    logs = tmp_path_factory.mktemp("supervisor")
    process = Managed("supervisor", [_python(), "main.py", "supervise", "--no-bot"], process_env,
                      logs / "supervisor.log")
    try:
        process.wait_until(lambda: bool(e2e_store.read_state().get("supervisor_heartbeat_ms")), SUPERVISOR_START_S,
                           "supervisor heartbeat in Redis")
        yield process
    finally:
        bot_pid = _bot_pid(e2e_store)
        if bot_pid:
            _signal_bot(bot_pid, signal.SIGCONT)  # a test that failed while the bot was frozen
        process.stop()
        if bot_pid:
            _signal_bot(bot_pid, signal.SIGKILL)  # only if the supervisor could not stop it


def _python() -> str:
    venv = PROJECT_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else "python3"


def _bot_pid(store: StateStore) -> int | None:
    text = store.read_state().get("pid") or ""
    return int(text) if text.isdigit() else None


def _signal_bot(pid: int, sig: int) -> None:
    """Only a process that is one of our bots (a pid can be reused once it exited)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if any(part.endswith(b"main.py") for part in cmdline) and b"bot" in cmdline:
        os.kill(pid, sig)


# ------------------------------------------------------------------------------------------- helpers


def market_ms(store: StateStore) -> int:
    """The newest candle the bot has processed (market time)."""
    return int(store.read_state().get("last_candle_open_ms") or 0)


def number(text: str) -> Decimal:
    """A price or amount as the page shows it ('94,321.5', '+1.23') as a Decimal."""
    assert NUMBER.match(text.strip()), f"not a number: {text!r}"
    return Decimal(text.strip().replace(",", ""))


def grid_rows(page: Page, header: str) -> list[dict[str, str]] | None:
    """The rows of the table with a column titled `header`, by column title (the columns in view); None
    while the page shows no such table."""
    return page.evaluate("""header => {
        const grid = [...document.querySelectorAll('[data-testid=stDataFrame]')]
            .find(g => [...g.querySelectorAll('th')].some(h => h.textContent.trim() === header));
        if (!grid) return null;
        const headers = [...grid.querySelectorAll('thead th')].map(h => h.textContent.trim());
        return [...grid.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
            [...tr.querySelectorAll('td')].map((td, i) => [headers[i], td.textContent.trim()])));
    }""", header)


def open_paper_tab(page: Page, url: str, bot_id: str) -> DashboardPage:
    ui = DashboardPage.open(page, f"{url}/?tab=Paper&bot={bot_id}")
    expect(ui.main.get_by_role("heading", name="Open positions")).to_be_visible(timeout=UI_TIMEOUT_MS)
    return ui


def heartbeat_age_shown(ui: DashboardPage) -> float:
    """The status strip's heartbeat age in seconds ('6.3 s ago', '12 s ago', '1 min 5 s ago')."""
    text = ui.status("Heartbeat").inner_text()
    found = re.search(r"(?:(\d+) min )?(\d+(?:\.\d)?) s ago", text)
    assert found, text
    return int(found.group(1) or 0) * 60 + float(found.group(2))


def ensure_trading(store: StateStore) -> None:
    """A running paper bot, ACTIVE: what each test starts from (the first test starts it from the page)."""
    if store.read_state().get("running") != "1":
        answer(store, CommandType.START, {"mode": "paper"}, timeout_s=60)
    if store.trading_state() is not TradingState.ACTIVE:
        answer(store, CommandType.RESUME, {})


def answer(store: StateStore, command: CommandType, args: dict, timeout_s: float = 15) -> None:
    sent = send_command(store, command, args, issued_by="e2e")
    result = wait_result(store, sent.command_id, timeout_s=timeout_s)
    assert result is not None and result.status is CommandStatus.DONE, result


def fresh_position(store: StateStore) -> str | None:
    """A symbol whose position opened less than FRESH_CANDLES ago, at the venue and in the bot's book:
    its minimum hold keeps it open for the next seconds."""
    now = market_ms(store)
    positions, _ = read_venue(store)
    held = {p.symbol for p in positions}
    for p in store.read_positions():
        if p.symbol in held and p.opened_ms and now - p.opened_ms < FRESH_CANDLES * MINUTE_MS:
            return p.symbol
    return None


def entries_since(store: StateStore, since_ms: int) -> list[str]:
    """Trades and open positions that entered after `since_ms` (market time)."""
    late = [f"trade {t.trade_id} {t.symbol} entered {t.entry_ms}" for t in store.read_trades(1000)
            if t.entry_ms > since_ms]
    late += [f"position {p.symbol} opened {p.opened_ms}" for p in store.read_positions()
             if (p.opened_ms or 0) > since_ms]
    return late


def declined_long_signals(store: StateStore, since_ms: int) -> list[dict]:
    """Long signals after `since_ms` that would have opened a trade (no position in their symbol)."""
    return [s for s in store.read_signals(1000)
            if s.get("kind") == "signal" and s.get("side") == "long" and int(s.get("ts_ms") or 0) > since_ms
            and "already in a position" not in str(s.get("why_not"))]


def trade_on_page_matches(row: dict[str, str], trades: dict[tuple, Trade]) -> bool:
    key = (row["Symbol"], row["Side"], number(row["Entry"]), number(row["Exit"]))
    trade = trades.get(key)
    return trade is not None and number(row["P&L (USDT)"]) == trade.pnl.quantize(Decimal("0.01")) \
        and row["Exit reason"] == trade.exit_reason.value


# --------------------------------------------------------------------------------------------- tests


def test_start_when_paper_chosen_on_the_page_then_the_bot_trades_and_the_paper_tab_shows_its_trades(
        page: Page, dashboard_url, supervisor, e2e_store):
    assert e2e_store.read_state().get("running") != "1", "a bot was already running before START"
    ui = open_paper_tab(page, dashboard_url, e2e_store.bot_id)
    expect(ui.main.get_by_text("No paper trades yet.")).to_be_visible(timeout=UI_TIMEOUT_MS)

    ui.choose_mode("paper")
    ui.press("START", sent_as="START paper")
    ui.expect_result("Result: done")
    ui.expect_status("Mode", "paper")
    ui.expect_status("Venue", "sim")
    ui.expect_status("Bot", "running")

    # an open position, with its entry price, as the bot's book and the venue hold it
    rows = wait_for(lambda: grid_rows(page, "Take-profit"), 45, "row in the open positions table")
    venue_positions, _ = read_venue(e2e_store)
    venue_entries = {(p.symbol, p.side.value): p.entry_price for p in venue_positions}
    book = {(p.symbol, p.side.value): p.entry_price for p in e2e_store.read_positions()}
    seen = {(r["Symbol"], r["Side"]): number(r["Entry"]) for r in rows}
    closed = {(t.symbol, t.side.value, t.entry_price) for t in e2e_store.read_trades(1000)}
    for (symbol, side), entry in seen.items():  # still open, or closed since the page was drawn
        assert venue_entries.get((symbol, side)) == entry or (symbol, side, entry) in closed, (rows, venue_entries)
        assert book.get((symbol, side), entry) == entry, (rows, book)

    # closed trades in the history, each one a trade in Redis (same prices, P&L and exit reason)
    rows = wait_for(lambda: grid_rows(page, "Exit reason"), 45, "row in the trade history")
    expect(ui.main.get_by_text(re.compile(r"^\d+ of \d+ trades · net"))).to_be_visible()
    trades = {(t.symbol, t.side.value, t.entry_price, t.exit_price): t for t in e2e_store.read_trades(1000)}
    assert rows and all(trade_on_page_matches(r, trades) for r in rows), (rows, list(trades.values())[-5:])
    assert {r["Exit reason"] for r in rows} == {ExitReason.REVERSE_SIGNAL.value}, rows


def test_halt_when_pressed_while_trading_then_halted_and_no_entry_after_it(page: Page, dashboard_url, supervisor,
                                                                          e2e_store):
    ensure_trading(e2e_store)
    ui = open_paper_tab(page, dashboard_url, e2e_store.bot_id)
    ui.expect_status("Trading state", "ACTIVE")
    try:
        ui.press("HALT")
        ui.expect_result("Result: done")
        ui.expect_status("Trading state", "HALTED")
        assert e2e_store.trading_state() is TradingState.HALTED
        halted_at = market_ms(e2e_store)

        # the bot goes on with its candles and its signals, and a long signal that would have opened a
        # trade comes and is declined
        declined = wait_for(lambda: declined_long_signals(e2e_store, halted_at), 45, "long signal after the halt",
                            interval_s=0.1, on_timeout=lambda: f"(market time {market_ms(e2e_store) - halted_at} ms on)")
        assert all(s["taken"] == "0" and s["why_not"].startswith("halted") for s in declined), declined
        passed = int(declined[0]["ts_ms"])
        wait_for(lambda: market_ms(e2e_store) > passed + 10 * MINUTE_MS, 15, "candles after the signal")
        assert entries_since(e2e_store, halted_at) == []
        ui.expect_status("Trading state", "HALTED")
        assert e2e_store.read_halt().cause is HaltCause.OPERATOR
    finally:
        ensure_trading(e2e_store)


def test_kill_switch_when_pressed_in_paper_with_an_open_position_then_flat_at_the_venue_and_halted(
        page: Page, dashboard_url, supervisor, e2e_store):
    ensure_trading(e2e_store)
    ui = open_paper_tab(page, dashboard_url, e2e_store.bot_id)
    ui.expect_status("Mode", "paper")
    try:
        symbol = wait_for(lambda: fresh_position(e2e_store), 45, "freshly opened position")
        ui.press("KILL SWITCH")
        ui.expect_result("Result: done")
        ui.expect_status("Trading state", "HALTED")
        expect(ui.main.get_by_text("No open paper positions.")).to_be_visible(timeout=UI_TIMEOUT_MS)

        positions, orders = read_venue(e2e_store)
        assert (positions, orders) == ([], []), "the venue still holds positions or resting orders"
        assert e2e_store.read_positions() == []
        assert e2e_store.trading_state() is TradingState.HALTED
        flag = e2e_store.read_halt()
        assert flag.cause is HaltCause.KILL_SWITCH and flag.by == "dashboard", flag
        closed = [t for t in e2e_store.read_trades(1000) if t.exit_reason is ExitReason.KILL_SWITCH]
        assert symbol in {t.symbol for t in closed}, f"{symbol} was not closed by the kill switch: {closed}"
        wait_for(lambda: any(r["Exit reason"] == ExitReason.KILL_SWITCH.value and r["Symbol"] == symbol
                         for r in grid_rows(page, "Exit reason") or []), 30, "kill-switch trade in the history")
    finally:
        ensure_trading(e2e_store)


def test_bot_when_frozen_while_the_page_is_open_then_shown_unresponsive_with_its_heartbeat_age_and_recovers(
        page: Page, dashboard_url, supervisor, e2e_store):
    ensure_trading(e2e_store)
    ui = open_paper_tab(page, dashboard_url, e2e_store.bot_id)
    ui.expect_status("Bot", "running")
    pid = _bot_pid(e2e_store)
    assert pid, e2e_store.read_state()
    # SIGSTOP, not SIGKILL: the supervisor restarts a bot that died, but leaves a frozen one to the operator
    _signal_bot(pid, signal.SIGSTOP)
    try:
        ui.expect_status("Bot", "unresponsive", timeout_ms=(HEARTBEAT_TIMEOUT_S + 20) * 1000)
        banner = ui.main.get_by_text(re.compile(r"The bot is unresponsive: last heartbeat \d+(\.\d)? s ago"))
        expect(banner).to_be_visible()
        expect(ui.sidebar_status).to_contain_text("unresponsive")
        # the age keeps growing while it is frozen, and the strip never calls it running meanwhile
        first = heartbeat_age_shown(ui)
        assert first > HEARTBEAT_TIMEOUT_S, first

        def older_and_not_running() -> bool:
            assert ui.status("Bot").inner_text().split()[-1] == "unresponsive", ui.status("Bot").inner_text()
            return heartbeat_age_shown(ui) >= first + 2

        wait_for(older_and_not_running, 20, "older heartbeat on the page")
        assert _bot_pid(e2e_store) == pid, "the frozen bot was replaced"
    finally:
        _signal_bot(pid, signal.SIGCONT)
    ui.expect_status("Bot", "running")
    expect(banner).to_have_count(0)
    assert _bot_pid(e2e_store) == pid
