"""View tests of dashboard.py with Streamlit's AppTest against a real Redis seeded through StateStore.

Commands pressed in the sidebar are answered by a small stand-in for the bot (a thread that reads the
command stream and writes a result), so no test waits for the dashboard's 10 s timeout.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from models import Book
from state import StateStore
from stores import Memory
from ui import header, warm_up
from models import (
    Account, AuditEvent, Candle, CommandResult, CommandStatus, ExitReason, Mode, Order, OrderSide, OrderStatus,
    OrderType, Position, Side, Trade,
)

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
APP_TIMEOUT_S = 30


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def app(store, redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TB_BOT__ID", store.bot_id)

    def run(tab: str | None = None, log: bool = False) -> AppTest:
        """The page as a person opens it; `tab` opens that tab (as ?tab=… does), `log` the decision log."""
        at = AppTest.from_file(DASHBOARD, default_timeout=APP_TIMEOUT_S)
        if tab:
            at.query_params["tab"] = tab
        if log:
            at.session_state["decision_log_open"] = True
        return at.run()

    return run


class FakeHandler:
    """Answers every command on the stream with one result, as the bot or the supervisor would."""

    def __init__(self, store, status=CommandStatus.DONE, detail="", elapsed_ms=12.0):
        self.store, self.status, self.detail, self.elapsed_ms = store, status, detail, elapsed_ms
        self.seen: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self):
        last = "0-0"
        while not self._stop.is_set():
            for _, entries in self.store.client.xread({self.store.key("commands"): last}, block=50) or []:
                for entry_id, fields in entries:
                    last = entry_id
                    self.seen.append(fields)
                    self.store.write_command_result(CommandResult(
                        fields["command_id"], self.status, "fake-bot", self.detail, self.elapsed_ms, _now_ms()))


def _seed_running_bot(store, *, mode="paper", **state):
    now = _now_ms()
    fields = {
        "mode": mode, "venue": "sim", "trading_state": "ACTIVE", "heartbeat_ms": now, "running": "1",
        "data_source": "synthetic", "feed_stale": "0",
    }
    fields.update(state)
    store.write_state(**fields)
    return now


def _markdown(at) -> str:
    """The page's text: its markdown and its HTML blocks (the status strip is one)."""
    return "\n".join([m.value for m in at.markdown] + [h.proto.body for h in at.get("html")])


def _coloured(text: str, colour: str) -> str:
    """`text` as the status strip shows it in `colour` (ui/header.strip_html)."""
    return f'style="color: {header.COLOURS[colour]}">{text}<'


BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def _seed_everything(store, now):
    """A paper bot with an account, a position and its remembered stop and take-profit, trades in both modes,
    a signal with its outcome, candles, risk, metrics and a decision-log line."""
    store.write_account(Account(Decimal("10000.50"), Decimal("-12.30"), Decimal("500"), Decimal("9488.20")))
    store.write_positions([Position(BTC, Side.LONG, Decimal("0.01"), Decimal("95000"), leverage=3,
                                    mark_price=Decimal("94877"), unrealized_pnl=Decimal("-1.23"),
                                    liquidation_price=Decimal("63650.123456"))])
    store.remember(Memory.OPEN_TRADES, BTC, {"state": {
        "symbol": BTC, "side": "long", "qty": "0.01", "entry_price": "95000", "entry_ms": now - 600_000,
        "stop": "93100.5", "take_profit": "97850", "initial_stop": "93100.5", "peak_price": "95100",
        "breakeven_moved": False, "trailing_active": False, "strategy": "ema_trend", "trade_id": "x"}, "extra": {}})
    store.write_orders([Order("cid-7", BTC, OrderSide.SELL, OrderType.STOP_MARKET, Decimal("0.01"),
                              OrderStatus.NEW, stop_price=Decimal("93100.5"), reduce_only=True, created_ms=now)])
    for i, mode in enumerate((Mode.PAPER, Mode.GHOST)):
        store.append_trade(Trade(f"t{i}", ETH, Side.SHORT, Decimal("1"), Decimal("1800"), Decimal("1790"),
                                 now - 60_000, now - 1_000, Decimal("10"), Decimal("0.9"), Decimal("9.1"),
                                 ExitReason.TAKE_PROFIT, mode, strategy="mean_reversion",
                                 venue="sim" if mode is Mode.PAPER else ""))
    for ts, equity in ((now - 1000, Decimal("10000.50")), (now, Decimal("9988.20"))):
        store.append_equity(ts, equity, Decimal("10000.50"), equity - Decimal("10000.50"), book=Book.of(Mode.PAPER, "sim"))
    store.write_risk({"margin_use_pct": "5.0", "recommendation": "ACTIVE", "daily_pnl": "-16.3279118"})
    store.write_metrics("paper", {"trades": 1, "win_rate": 1.0, "profit_factor": 3.5, "sharpe": 1.1})
    store.write_metrics("ghost", {"trades": 7, "win_rate": 0.4286, "profit_factor": 1.25, "max_drawdown_pct": 2.5})
    store.append_signal({"kind": "signal", "signal_id": "s1", "symbol": SOL, "side": "long",
                         "strength": "0.7", "strategy": "momentum_spike", "reason": "jump 0.8%", "price": "145",
                         "ts_ms": now, "taken": True})
    store.append_signal({"kind": "outcome", "signal_id": "s1", "symbol": SOL, "side": "long", "ts_ms": now,
                         "ret_5m": "0.3", "correct_5m": True, "ret_60m": "1.25", "correct_60m": True})
    store.push_candles([Candle(BTC, "1m", now - i * 60_000, Decimal("95000.0"), Decimal("95100.1"),
                               Decimal("94900.0"), Decimal("95050.0"), Decimal("2")) for i in range(20, 0, -1)])
    store.audit(AuditEvent("order", now, "entry BTC/USDT:USDT long 0.01 @ 95000", {"symbol": BTC}))


def _cells(at) -> set[str]:
    return {str(v) for df in at.dataframe for v in df.value.to_numpy().ravel()}


class _CellText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._open = True
            self.cells.append("")

    def handle_endtag(self, tag):
        self._open = self._open and tag not in ("td", "th")

    def handle_data(self, data):
        if self._open:
            self.cells[-1] += data


def _html_cells(node) -> set[str]:
    """The cells of the HTML tables (ui/light_table.py) under `node`, as a person reads them."""
    out: set[str] = set()
    for element in node.get("html"):
        parser = _CellText()
        parser.feed(element.proto.body)
        out.update(parser.cells)
    return out


def _tab(at, name):
    return next(t for t in at.tabs if t.label == name)


def test_dashboard_when_state_seeded_then_four_tabs_and_the_status_strip_appear(app, store):
    _seed_running_bot(store)
    _seed_everything(store, _now_ms())

    at = app(log=True)

    assert not at.exception
    assert [t.label for t in at.tabs] == ["Account", "Paper", "Ghost", "Live"]
    strip = _markdown(at)
    assert "paper" in strip and "sim" in strip and _coloured("ACTIVE", "green") in strip and "running" in strip
    assert "UTC" in strip  # the page's one clock, labelled
    assert any("all times UTC" in c.value for c in at.caption)
    assert "entry BTC/USDT:USDT long 0.01 @ 95000" in _cells(at)  # the decision log
    assert not at.error


def test_tabs_when_one_is_open_then_only_its_panel_runs(app, store):
    _seed_running_bot(store)
    _seed_everything(store, _now_ms())

    at = app(tab="Live")

    assert any("Live trading is not enabled" in i.value for i in at.info)
    assert not [m for m in at.metric if m.label != warm_up.LABEL]  # the Account, Paper and Ghost panels did not run
    assert not at.dataframe or all("Exit reason" not in df.value.columns for df in at.dataframe)


def test_live_tab_when_the_checklist_is_shown_then_it_says_how_old_its_read_is(app, store):
    _seed_running_bot(store)

    at = app(tab="Live")

    assert any(c.value.startswith("Checklist read ") and c.value.endswith("s ago (read again every 10 s).")
               for c in at.caption), [c.value for c in at.caption]


def test_account_tab_when_seeded_then_what_the_venue_says_with_money_formatted(app, store):
    _seed_running_bot(store)
    _seed_everything(store, _now_ms())

    at = app()

    account = _tab(at, "Account")
    metrics = {m.label: m.value for m in account.metric}
    assert metrics["Equity (USDT)"] == "9,988.20"
    assert metrics["Wallet balance"] == "10,000.50"
    assert metrics["Unrealised P&L"] == "-12.30"
    assert metrics["Margin used"] == "500.00"
    assert metrics["Available"] == "9,488.20"
    assert metrics["Leverage"] == "3x"
    cells = _html_cells(account)  # small tables are HTML (no dataframe module on the page's first view)
    assert not account.dataframe
    assert {"63,650.1", "93,100.5", "97,850.0", "cid-7", "-16.33"} <= cells  # liq., stop, take-profit at tick
    assert "-16.3279118" not in cells


def test_paper_tab_when_seeded_then_portfolio_positions_with_levels_history_and_checklist(app, store):
    _seed_running_bot(store, started_at_ms=_now_ms() - 3_600_000)
    _seed_everything(store, _now_ms())

    at = app(tab="Paper")

    paper = _tab(at, "Paper")
    cards = {m.label: m.value for m in paper.metric}
    assert cards["Starting capital"] == "10,000.00 USDT"
    assert cards["Current value"] == "9,988.20 USDT"
    assert cards["P&L (USDT)"] == "-11.80"
    assert cards["P&L %"] == "-0.12 %"
    assert cards["Trades completed"] == "1"
    frames = [df.value for df in paper.dataframe]
    positions, history = frames[0], frames[1]
    assert (positions.iloc[0]["Stop"], positions.iloc[0]["Take-profit"]) == ("93,100.5", "97,850.0")
    assert list(history["P&L (USDT)"]) == ["+9.10"] and list(history["Exit reason"]) == ["take_profit"]
    checklist = "\n".join(m.value for m in paper.markdown)
    assert "4 of 5 checks pass" in checklist
    assert "At least 5 trades" in checklist and "1 completed" in checklist
    assert [b.label for b in paper.get("download_button")] == ["Download CSV"]


def test_paper_tab_when_filtered_by_exit_reason_then_only_those_trades(app, store):
    now = _now_ms()
    _seed_running_bot(store)
    for i, reason in enumerate((ExitReason.STOP_LOSS, ExitReason.TAKE_PROFIT, ExitReason.STOP_LOSS)):
        store.append_trade(Trade(f"p{i}", ETH, Side.LONG, Decimal("1"), Decimal("1800"), Decimal("1790"),
                                 now - 60_000 * (i + 2), now - 60_000 * (i + 1), Decimal("-10"), Decimal("0.9"),
                                 Decimal("-10.9") + i, reason, Mode.PAPER, venue="sim"))

    at = app(tab="Paper")
    at.selectbox(key="paper_f_reason").select("stop_loss").run()

    [history] = [df.value for df in _tab(at, "Paper").dataframe if "Exit reason" in df.value.columns]
    assert list(history["Exit reason"]) == ["stop_loss", "stop_loss"]
    assert any("2 of 3 trades" in c.value for c in _tab(at, "Paper").caption)


def test_ghost_tab_when_seeded_then_summary_checklist_signals_and_breakdowns(app, store):
    _seed_running_bot(store, mode="ghost")
    _seed_everything(store, _now_ms())

    at = app(tab="Ghost")

    ghost = _tab(at, "Ghost")
    cards = {m.label: m.value for m in ghost.metric}
    assert cards["Total signals"] == "1"
    assert cards["Profitable if executed"] == "1 of 1 (100.0 %)"
    assert cards["Expectancy (USDT/trade)"] == "+9.10"
    assert cards["Accuracy"] == "100.0 %"
    assert cards["Profit factor"] == "—"  # from the ghost trades on screen (one win, no loss), not a stored hash
    signals = ghost.dataframe[0].value
    assert signals.iloc[0]["60m return"] == "+1.25 %"
    assert signals.iloc[0]["Made (USDT)"] == "+12.50"  # 1,000 USDT (the default size) × 1.25 %
    checklist = "\n".join(m.value for m in ghost.markdown)
    assert "At least 100 signals in 24 h" in checklist and "1 in the 24 h up to the newest signal" in checklist
    cells = {str(v) for df in ghost.dataframe for v in df.value.to_numpy().ravel()}
    assert {"momentum_spike", "mean_reversion", SOL} <= cells  # per strategy and per symbol


def test_status_when_bot_stopped_then_never_green_active_next_to_stopped(app, store):
    _seed_running_bot(store, running="0")
    at = app()
    strip = _markdown(at)
    assert _coloured("stopped", "gray") in strip
    assert _coloured("last ACTIVE", "gray") in strip and _coloured("ACTIVE", "green") not in strip


def test_mode_selector_when_bot_runs_paper_then_shows_paper(app, store):
    _seed_running_bot(store, mode="paper")
    at = app()
    assert at.sidebar.selectbox(key="start_mode").value == "paper"


@pytest.mark.parametrize(
    ("chosen", "then_state", "then_shown"),
    [
        ("ghost", {"running": "0"}, "ghost"),  # a stop keeps the choice (the page's selector stays one element)
        ("paper", {"running": "0"}, "paper"),
        ("ghost", {"mode": "ghost"}, "ghost"),  # the bot now runs what was chosen
        ("paper", {"mode": "ghost"}, "ghost"),  # a new running mode moves the selector to it
    ],
)
def test_mode_selector_when_the_running_mode_changes_then_one_selector_follows_it(app, store, chosen, then_state,
                                                                                   then_shown):
    _seed_running_bot(store, mode="paper")
    at = app()
    at.sidebar.selectbox(key="start_mode").select(chosen).run()
    store.write_state(**then_state)
    at.run()
    assert [s.key for s in at.sidebar.selectbox if s.label == "Mode"] == ["start_mode"]
    assert at.sidebar.selectbox(key="start_mode").value == then_shown


def test_start_when_running_in_another_mode_then_asks_to_switch_and_sends_nothing_yet(app, store):
    # the confirmed switch itself (a click inside the dialog) runs in a browser: test_dashboard_views_e2e.py
    _seed_running_bot(store, mode="paper")
    at = app()
    at.sidebar.selectbox(key="start_mode").select("ghost").run()
    at.sidebar.button(key="start").click().run()
    assert store.client.xrange(store.key("commands")) == []
    assert "Stop and start in ghost" in [b.label for b in at.button]


def test_start_when_already_running_in_that_mode_then_says_so_and_sends_nothing(app, store):
    _seed_running_bot(store, mode="paper")
    at = app()
    at.sidebar.button(key="start").click().run()
    assert store.client.xrange(store.key("commands")) == []
    assert [s.value for s in at.sidebar.success] == ["Result: already running in paper"]


def test_bot_selector_when_another_bot_chosen_then_its_views_and_commands_only(app, store):
    other = StateStore(store.client, store.bot_id + "b")
    try:
        _seed_running_bot(store, mode="paper")
        store.write_account(Account(Decimal("1111"), Decimal("0"), Decimal("0"), Decimal("1111")))
        _seed_running_bot(other, mode="ghost")
        other.write_account(Account(Decimal("2222"), Decimal("0"), Decimal("0"), Decimal("2222")))

        at = app()
        assert {m.label: m.value for m in _tab(at, "Account").metric}["Equity (USDT)"] == "1,111.00"
        at.sidebar.selectbox(key="bot").select(other.bot_id).run()
        assert {m.label: m.value for m in _tab(at, "Account").metric}["Equity (USDT)"] == "2,222.00"
        assert at.sidebar.selectbox(key="start_mode").value == "ghost"
        with FakeHandler(other, CommandStatus.DONE):
            at.sidebar.button(key="halt").click().run()

        assert [f["type"] for _, f in other.client.xrange(other.key("commands"))] == ["halt"]
        assert store.client.xrange(store.key("commands")) == []
    finally:
        other.wipe()


def test_mode_selector_when_another_bot_in_the_same_mode_is_selected_then_it_shows_that_bots_mode(app, store):
    other = StateStore(store.client, store.bot_id + "b")
    try:
        _seed_running_bot(store, mode="paper")
        _seed_running_bot(other, mode="paper")
        at = app()
        at.sidebar.selectbox(key="start_mode").select("ghost").run()  # a choice made for the first bot

        at.sidebar.selectbox(key="bot").select(other.bot_id).run()

        assert at.sidebar.selectbox(key="start_mode").value == "paper"  # what the other bot runs
    finally:
        other.wipe()


def test_decision_log_when_searched_then_only_matching_lines(app, store):
    now = _seed_running_bot(store)
    for i, message in enumerate(["entry BTC long", "skip ETH: max_positions", "exit BTC take_profit"]):
        store.audit(AuditEvent("order" if i != 1 else "skip", now + i, message))
    at = app(log=True)
    at.text_input(key="log_search").input("btc").run()
    log = at.dataframe[-1].value
    assert list(log["Message"]) == ["exit BTC take_profit", "entry BTC long"]


def test_dashboard_when_heartbeat_old_and_auto_fallback_and_stale_then_loud_banners(app, store):
    _seed_running_bot(store, heartbeat_ms=_now_ms() - 60_000, data_source="synthetic (auto: binance unreachable)",
                      feed_stale="1")
    store.set_halt("daily loss limit", "risk-monitor", _now_ms())

    at = app()

    errors = "\n".join(e.value for e in at.error)
    assert "Synthetic prices" in errors
    assert "feed is stale" in errors
    assert "unresponsive" in errors
    assert any("HALTED" in w.value and "daily loss limit" in w.value for w in at.warning)
    assert "unresponsive" in _markdown(at) and "HALTED" in _markdown(at)


def test_dashboard_when_redis_unreachable_then_error_banner_and_no_traceback(app, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    at = app()
    assert not at.exception
    assert any("Redis is unreachable" in e.value for e in at.error)
    assert not at.tabs


def test_halt_when_pressed_then_command_on_stream_and_result_in_sidebar(app, store):
    _seed_running_bot(store)
    at = app()
    with FakeHandler(store, CommandStatus.DONE, elapsed_ms=12.0):
        at.sidebar.button(key="halt").click().run()

    [(_, fields)] = store.client.xrange(store.key("commands"))
    assert fields["type"] == "halt"
    assert fields["issued_by"] == "dashboard"
    assert json.loads(fields["args"]) == {}
    assert [s.value for s in at.sidebar.success] == ["Result: done in 12 ms"]
    assert any(c.value.startswith("HALT · sent") for c in at.sidebar.caption)


def test_start_when_pressed_with_paper_chosen_then_mode_sent_and_rejection_shown(app, store):
    _seed_running_bot(store, running="0")
    at = app()
    with FakeHandler(store, CommandStatus.REJECTED, detail="a bot is already running"):
        at.sidebar.selectbox(key="start_mode").select("paper").run()
        at.sidebar.button(key="start").click().run()

    [(_, fields)] = store.client.xrange(store.key("commands"))
    assert (fields["type"], json.loads(fields["args"])) == ("start", {"mode": "paper"})
    assert [e.value for e in at.sidebar.error] == ["Result: rejected: a bot is already running"]


@pytest.mark.parametrize(
    ("key", "command_type"),
    [("kill_switch", "close-all"), ("resume", "resume"), ("stop", "stop")],
)
def test_button_when_pressed_outside_live_then_its_command_is_sent(app, store, key, command_type):
    _seed_running_bot(store, mode="ghost")
    at = app()
    with FakeHandler(store, CommandStatus.FAILED, detail="venue down"):
        at.sidebar.button(key=key).click().run()

    [(_, fields)] = store.client.xrange(store.key("commands"))
    assert fields["type"] == command_type
    assert [e.value for e in at.sidebar.error] == ["Result: failed: venue down"]


def test_kill_switch_when_live_then_asks_first_and_sends_nothing(app, store):
    _seed_running_bot(store, mode="live")
    at = app()
    at.sidebar.button(key="kill_switch").click().run()

    assert store.client.xrange(store.key("commands")) == []
    assert "Close everything" in [b.label for b in at.button]


def test_dashboard_when_a_record_is_malformed_then_one_line_says_so_and_the_other_trades_show(app, store):
    _seed_running_bot(store)
    now = _now_ms()
    store.append_trade(Trade("good", ETH, Side.LONG, Decimal("1"), Decimal("1800"), Decimal("1810"), now - 60_000,
                             now, Decimal("10"), Decimal("1"), Decimal("9"), ExitReason.TAKE_PROFIT, Mode.PAPER,
                             venue="sim"))
    bad_id = store.client.xadd(store.key("trades"), {"trade_id": "broken", "pnl": "not a number"})

    at = app(tab="Paper")

    assert not at.exception
    [warning] = [w.value for w in at.warning]
    assert warning.startswith(f"1 trade record could not be read and is left out (first: entry {bad_id}: ")
    assert "\n" not in warning and "Traceback" not in warning
    [history] = [df.value for df in at.dataframe if "Exit reason" in df.value.columns]
    assert list(history["P&L (USDT)"]) == ["+9.00"]
    assert "running" in _markdown(at)


def test_paper_tab_when_redis_was_flushed_then_the_trade_history_comes_back_from_the_journal_and_reports_are_listed(
    app, store, tmp_path, monkeypatch
):
    from clock import SystemClock
    from journal.store import Journal, journal_path
    from journal.sync import JournalSync

    monkeypatch.setenv("TB_JOURNAL__DIR", str(tmp_path / "journal"))
    now = _now_ms()
    for i in range(3):
        store.append_trade(Trade(f"j{i}", ETH, Side.LONG, Decimal("1"), Decimal("1800"), Decimal("1810"),
                                 now - 60_000 * (i + 2), now - 60_000 * (i + 1), Decimal("10"), Decimal("0.9"),
                                 Decimal("9.1"), ExitReason.TAKE_PROFIT, Mode.PAPER, venue="sim"))
    journal = Journal(journal_path(tmp_path / "journal", store.bot_id), store.bot_id)
    JournalSync(store, journal, SystemClock(), bot_id=store.bot_id, default_mode="paper", daily_summary=False).sync_once()
    journal.close()
    reports = Path(__file__).resolve().parents[2] / "reports"
    report = reports / f"{store.bot_id}_month_2025-05_paper.html"
    reports.mkdir(exist_ok=True)
    report.write_text("<html>report</html>")
    try:
        store.client.flushall()
        _seed_running_bot(store)  # the bot back on an empty Redis

        paper = _tab(app(tab="Paper"), "Paper")
    finally:
        report.unlink()

    assert any("Older trades, from the journal" in h.value for h in paper.subheader)
    assert any("3 trade(s) of paper on sim that Redis no longer holds" in c.value for c in paper.caption)
    [older] = [df.value for df in paper.dataframe if "Exit reason" in df.value.columns and len(df.value) == 3]
    assert set(older["Exit reason"]) == {"take_profit"}
    assert any(report.name in m.value for m in paper.markdown)
