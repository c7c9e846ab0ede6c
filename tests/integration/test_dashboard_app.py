"""View tests of dashboard.py with Streamlit's AppTest against a real Redis seeded through StateStore.

Commands pressed in the sidebar are answered by a small stand-in for the bot (a thread that reads the
command stream and writes a result), so no test waits for the dashboard's 10 s timeout.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from models import (
    Account, AuditEvent, Candle, CommandResult, CommandStatus, ExitReason, Mode, Order, OrderSide, OrderStatus,
    OrderType, Position, Side, Trade,
)
from models import Book

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
APP_TIMEOUT_S = 30


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def app(store, redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TB_BOT__ID", store.bot_id)

    def run() -> AppTest:
        return AppTest.from_file(DASHBOARD, default_timeout=APP_TIMEOUT_S).run()

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
    return "\n".join(m.value for m in at.markdown)


def test_dashboard_when_state_seeded_then_four_tabs_and_the_values_appear(app, store):
    now = _seed_running_bot(store)
    store.write_account(Account(Decimal("10000.50"), Decimal("-12.30"), Decimal("500"), Decimal("9488.20")))
    store.write_positions([Position("BTC/USDT:USDT", Side.LONG, Decimal("0.01"), Decimal("95000"),
                                    mark_price=Decimal("94877"), unrealized_pnl=Decimal("-1.23"))])
    store.write_orders([Order("cid-7", "BTC/USDT:USDT", OrderSide.SELL, OrderType.STOP_MARKET, Decimal("0.01"),
                              OrderStatus.NEW, stop_price=Decimal("93000"), reduce_only=True, created_ms=now)])
    for i, mode in enumerate((Mode.PAPER, Mode.GHOST)):
        store.append_trade(Trade(f"t{i}", "ETH/USDT:USDT", Side.SHORT, Decimal("1"), Decimal("1800"), Decimal("1790"),
                                 now - 60_000, now - 1_000, Decimal("10"), Decimal("0.9"), Decimal("9.1"),
                                 ExitReason.TAKE_PROFIT, mode, strategy="mean_reversion",
                                 venue="sim" if mode is Mode.PAPER else ""))
    store.append_equity(now, Decimal("9988.20"), Decimal("10000.50"), Decimal("-12.30"), book=Book.of(Mode.PAPER, "sim"))
    store.write_risk({"margin_use_pct": "5.0", "recommendation": "ACTIVE"})
    store.write_metrics("paper", {"trades": 1, "win_rate": 1.0, "profit_factor": 3.5, "sharpe": 1.1})
    store.write_metrics("ghost", {"trades": 7, "win_rate": 0.4286})
    store.append_signal({"kind": "signal", "signal_id": "s1", "symbol": "SOL/USDT:USDT", "side": "long",
                         "strength": "0.7", "strategy": "momentum_spike", "reason": "jump 0.8%", "price": "145",
                         "ts_ms": now, "taken": True})
    store.append_signal({"kind": "outcome", "signal_id": "s1", "side": "long", "ts_ms": now,
                         "ret_5m": "0.3", "correct_5m": True})
    store.push_candles([Candle("BTC/USDT:USDT", "1m", now - i * 60_000, Decimal("95000"), Decimal("95100"),
                               Decimal("94900"), Decimal("95050"), Decimal("2")) for i in range(20, 0, -1)])
    store.audit(AuditEvent("order", now, "entry BTC/USDT:USDT long 0.01 @ 95000"))

    at = app()

    assert not at.exception
    assert [t.label for t in at.tabs] == ["Account", "Paper", "Ghost", "Live"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Equity (USDT)"] == "9,988.20"
    assert metrics["Wallet balance"] == "10,000.50"
    assert metrics["Unrealised P&L"] == "-12.30"
    assert metrics["Available"] == "9,488.20"
    assert metrics["Win rate"] in ("100.0 %", "42.9 %")
    # paper tab, then ghost tab: each computed from its own book's trades, the ones its table shows
    assert [m.value for m in at.metric if m.label == "Trades"] == ["1", "1"]
    strip = _markdown(at)
    assert "paper" in strip and "sim" in strip and "ACTIVE" in strip and "running" in strip
    tables = [df.value for df in at.dataframe]
    cells = {str(v) for frame in tables for v in frame.to_numpy().ravel()}
    assert {"BTC/USDT:USDT", "cid-7", "+9.10", "momentum_spike", "+0.300 %", "take_profit"} <= cells
    assert "entry BTC/USDT:USDT long 0.01 @ 95000" in cells  # the decision log
    assert any("Live trading is not enabled" in i.value for i in at.info)
    assert not at.error


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


def test_dashboard_when_bot_said_it_stopped_then_status_stopped(app, store):
    _seed_running_bot(store, running="0")
    at = app()
    assert ":gray[stopped]" in _markdown(at)


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


def test_dashboard_when_a_record_is_malformed_then_that_panel_says_so_and_the_rest_lives(app, store):
    _seed_running_bot(store)
    store.client.xadd(store.key("trades"), {"trade_id": "broken", "pnl": "not a number"})

    at = app()

    assert not at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "Paper: could not be shown" in errors
    assert [t.label for t in at.tabs] == ["Account", "Paper", "Ghost", "Live"]
    assert any("Live trading is not enabled" in i.value for i in at.info)
    assert "running" in _markdown(at)
