"""The sidebar's Mode selector offers live only while the go-live gate could pass, and says why not
otherwise (AppTest of dashboard.py against a real Redis seeded through StateStore)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from control import go_live
from models import ExitReason, Mode, Side, Trade
from settings import load_settings

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
ETH = "ETH/USDT:USDT"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def app(store, redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TB_BOT__ID", store.bot_id)
    for name in go_live.KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def run() -> AppTest:
        return AppTest.from_file(DASHBOARD, default_timeout=30).run()

    return run


def _seed_gate_evidence(store, *, paper_trades=5, exit_reason=ExitReason.TAKE_PROFIT, approval=True, venue=None):
    """A stopped bot with the go-live evidence: clean paper trades, 100 scored ghost signals (60 right at 60m,
    wins larger than losses) and the operator's approval; `venue` records a live start's venue checks."""
    now = _now_ms()
    store.write_state(mode="paper", venue="sim", trading_state="ACTIVE", heartbeat_ms=now, running="0",
                      data_source="synthetic", feed_stale="0")
    for i in range(paper_trades):
        store.append_trade(Trade(f"p{i}", ETH, Side.LONG, Decimal("1"), Decimal("1800"), Decimal("1810"),
                                 now - 120_000, now - 60_000, Decimal("10"), Decimal("0.9"), Decimal("9.1"),
                                 exit_reason, Mode.PAPER, strategy="ema_trend", venue="sim"))
    for i in range(100):
        store.append_signal({"kind": "outcome", "signal_id": f"s{i}", "symbol": ETH, "side": "long", "ts_ms": now,
                             "ret_60m": "0.8" if i < 60 else "-0.4"})
    if approval:
        settings = load_settings()  # approved for the limits in force, as the Live tab's form records it
        text = go_live.approval_text(settings.live.max_position_usdt, settings.live.max_daily_loss_usdt)
        store.write_state(go_live_approval=json.dumps(
            go_live.approval_record(text, "test", now, go_live.approval_figures(settings))))
    if venue is not None:
        store.write_state(venue_checks=json.dumps({"checks": venue, "note": ""}))


def _modes(at) -> list[str]:
    return list(at.sidebar.selectbox(key="start_mode").options)


def _why_not(at) -> str:
    """The sidebar's captions as a person reads them (markdown's escapes removed)."""
    return "\n".join(c.value for c in at.sidebar.caption).replace("\\", "")


def test_mode_selector_when_the_gate_could_pass_then_live_is_offered(app, store, monkeypatch):
    monkeypatch.setenv("BINANCE_API_KEY", "k" * 16)
    monkeypatch.setenv("BINANCE_API_SECRET", "s" * 16)
    _seed_gate_evidence(store)  # the venue's checks not run yet: a live start asks the venue first
    at = app()
    assert _modes(at) == ["ghost", "paper", "live"]
    assert "Live is not offered" not in _why_not(at)


@pytest.mark.parametrize(("keys", "seed", "named"), [
    (False, {}, "API keys: BINANCE_API_KEY and BINANCE_API_SECRET must both be set"),
    (True, {"approval": False}, "approval: not recorded"),
    (True, {"paper_trades": 4}, "paper validated: 4 closed paper trades (need ≥ 5)"),
    (True, {"exit_reason": ExitReason.LIQUIDATION}, "5 not closed cleanly (liquidation)"),
    (True, {"venue": [["no withdrawal permission", False, "the key may withdraw: remove the permission"]]},
     "no withdrawal permission: the key may withdraw"),
])
def test_mode_selector_when_a_gate_condition_is_unmet_then_live_is_not_offered_and_the_reason_shown(
        app, store, monkeypatch, keys, seed, named):
    if keys:
        monkeypatch.setenv("BINANCE_API_KEY", "k" * 16)
        monkeypatch.setenv("BINANCE_API_SECRET", "s" * 16)
    _seed_gate_evidence(store, **seed)
    at = app()
    assert _modes(at) == ["ghost", "paper"]
    why = _why_not(at)
    assert "Live is not offered" in why and named in why
    assert "k" * 16 not in why and "s" * 16 not in why  # whether keys are set, never their text


@pytest.mark.parametrize(("running", "shown"), [("1", "paper"), ("0", "ghost")])
def test_mode_selector_when_live_was_chosen_and_the_gate_closes_then_it_falls_back_to_the_running_mode(
        app, store, monkeypatch, running, shown):
    monkeypatch.setenv("BINANCE_API_KEY", "k" * 16)
    monkeypatch.setenv("BINANCE_API_SECRET", "s" * 16)
    _seed_gate_evidence(store)
    store.write_state(running=running)  # paper, running or stopped
    at = app()
    at.sidebar.selectbox(key="start_mode").select("live").run()

    store.client.hdel(store.key("state"), "go_live_approval")  # the gate closes: live is no longer offered
    at.run()

    assert _modes(at) == ["ghost", "paper"]
    assert at.sidebar.selectbox(key="start_mode").value == shown  # never a mode the bot does not run, if it runs
