"""`bot --mode live` and `start --mode live` as a user meets them: without keys exit 2, with keys but no
evidence a non-zero exit listing every unmet condition with its figure, even with Redis unreachable; the
typed approval lands in the audit stream; no secret is ever printed."""

from __future__ import annotations

import json

import pytest

from state import StateStore

from processes import process_env, run_cli

pytestmark = pytest.mark.slow
KEY, SECRET = "live-key-3f9a1c77e2", "live-secret-b41d08aa93c5"


def test_bot_live_when_no_keys_then_exit_2_and_it_says_which_variables(redis_url, bot_id):
    done = run_cli(["bot", "--mode", "live"], process_env(redis_url, bot_id))

    assert done.returncode == 2
    assert "BINANCE_API_KEY and BINANCE_API_SECRET" in done.stderr


@pytest.mark.parametrize("command", [["bot", "--mode", "live"], ["start", "--mode", "live"]])
def test_live_when_keys_but_no_evidence_then_refused_listing_every_unmet_condition_and_no_secret(redis_url, bot_id, command):
    done = run_cli(command, process_env(redis_url, bot_id, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET))

    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "live trading refused: 4 of 5 go-live conditions unmet" in out
    for line in ("venue checks: not run", "paper validated: 0 closed paper trades (need ≥ 5)",
                 "ghost validated: 0 scored signals (need ≥ 100)", "approval: not recorded"):
        assert line in out
    assert KEY not in out and SECRET not in out


def test_bot_live_when_redis_is_unreachable_then_still_refused_with_the_reason(bot_id):
    env = process_env("redis://127.0.0.1:1/0", bot_id, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET)

    done = run_cli(["bot", "--mode", "live"], env)

    assert done.returncode != 0
    assert "evidence: cannot be read from Redis" in done.stderr and SECRET not in done.stderr


def test_approve_live_when_typed_exactly_then_stored_with_figures_in_the_audit_stream(redis_url, bot_id):
    store = StateStore.open(redis_url, bot_id)
    env = process_env(redis_url, bot_id, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET)
    wrong = run_cli(["approve-live", "--ack", "yes"], env)
    assert wrong.returncode == 1 and "type exactly: I accept a 50 USDT maximum position" in wrong.stderr
    assert store.read_audit(50, kinds=["approval"]) == []

    text = ("I accept a 50 USDT maximum position and a 25 USDT daily loss limit; "
            "the kill switch is KILL SWITCH in the dashboard sidebar and main.py close-all")
    done = run_cli(["approve-live", "--ack", text], env)

    assert done.returncode == 0, done.stderr
    [event] = store.read_audit(50, kinds=["approval"])
    assert event.data["max_position_usdt"] == "50" and event.data["max_daily_loss_usdt"] == "25"
    assert json.loads(store.read_state()["go_live_approval"])["text"] == text
    refused = run_cli(["bot", "--mode", "live"], env)
    assert "3 of 5 go-live conditions unmet" in refused.stderr and "approval:" not in refused.stderr


def test_start_live_from_the_dashboard_when_no_evidence_then_the_supervisor_refuses_listing_what_is_unmet(
    store, redis_url, tmp_path
):
    from control.client import send_command, wait_result
    from models import CommandStatus, CommandType

    from processes import BotFleet, wait_for

    fleet = BotFleet(store, redis_url, tmp_path, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET)
    try:
        fleet._start("supervisor", ["supervise", "--no-bot"])

        def reading() -> bool:  # the supervisor reads only what arrives after its consumer group exists
            try:
                return any(g["name"] == "supervisor" for g in store.client.xinfo_groups(store.key("commands")))
            except Exception:
                return False

        wait_for(reading, 20, "the supervisor's command reader", on_timeout=fleet.logs)
        sent = send_command(store, CommandType.START, {"mode": "live"}, issued_by="dashboard")
        result = wait_result(store, sent.command_id, 20)

        assert result is not None and result.status is CommandStatus.REJECTED, fleet.logs()
        assert result.handled_by == "supervisor"
        assert "4 of 5 go-live conditions unmet" in result.detail and "paper validated: 0 closed paper trades" in result.detail
        assert SECRET not in result.detail and store.read_state().get("pid") in (None, "")
    finally:
        fleet.cleanup()


def test_review_when_typed_wrong_then_refused_and_when_typed_exactly_then_recorded_before_the_resume(redis_url, bot_id):
    store = StateStore.open(redis_url, bot_id)
    env = process_env(redis_url, bot_id)

    wrong = run_cli(["review", "--ack", "ok", "--timeout", "0.5"], env)
    assert wrong.returncode == 1 and "type exactly: I have reviewed this week's losses" in wrong.stderr
    assert store.read_audit(50, kinds=["review"]) == []

    done = run_cli(["review", "--ack", "I have reviewed this week's losses", "--timeout", "0.5"], env)

    assert "review: recorded" in done.stdout
    assert done.returncode == 1 and "resume: no answer" in done.stderr  # no bot here to resume
    [event] = store.read_audit(50, kinds=["review"])
    assert event.data["by"] == "cli" and store.read_state()["weekly_review_ms"]


@pytest.mark.parametrize(("position_now", "weekly_now", "approval_holds"), [
    ("40", "80", True),     # as approved
    ("30", "60", True),     # tightened since: still approved
    ("45", "80", False),    # one limit raised back up: approve again
    ("40", "80.01", False),
])
def test_bot_live_when_limits_changed_since_the_approval_then_it_holds_only_if_none_is_looser(
        redis_url, bot_id, position_now, weekly_now, approval_holds):
    approved_at = process_env(redis_url, bot_id, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET,
                              TB_LIVE__MAX_POSITION_USDT="40", TB_LIVE__MAX_WEEKLY_LOSS_USDT="80")
    text = ("I accept a 40 USDT maximum position and a 25 USDT daily loss limit; "
            "the kill switch is KILL SWITCH in the dashboard sidebar and main.py close-all")
    assert run_cli(["approve-live", "--ack", text], approved_at).returncode == 0

    now = {**approved_at, "TB_LIVE__MAX_POSITION_USDT": position_now, "TB_LIVE__MAX_WEEKLY_LOSS_USDT": weekly_now}
    refused = run_cli(["bot", "--mode", "live"], now)

    assert refused.returncode == 1
    if approval_holds:
        assert "approval:" not in refused.stderr
    else:
        assert "approval: recorded by cli" in refused.stderr and "approved): run `main.py approve-live` again" in refused.stderr


@pytest.mark.parametrize(("symbols_now", "approval_holds"), [
    ('["BTC/USDT:USDT"]', True),                      # as approved
    ('["BTC/USDT:USDT", "ETH/USDT:USDT"]', False),    # a symbol added since: approve again
])
def test_bot_live_when_a_symbol_is_added_since_the_approval_then_approve_again(redis_url, bot_id, symbols_now,
                                                                              approval_holds):
    approved_at = process_env(redis_url, bot_id, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET,
                              TB_LIVE__SYMBOLS='["BTC/USDT:USDT"]')
    text = ("I accept a 50 USDT maximum position and a 25 USDT daily loss limit; "
            "the kill switch is KILL SWITCH in the dashboard sidebar and main.py close-all")
    assert run_cli(["approve-live", "--ack", text], approved_at).returncode == 0

    refused = run_cli(["bot", "--mode", "live"], {**approved_at, "TB_LIVE__SYMBOLS": symbols_now})

    assert refused.returncode == 1
    if approval_holds:
        assert "approval:" not in refused.stderr
    else:
        assert "symbols adds ETH/USDT:USDT (approved: BTC/USDT:USDT)" in refused.stderr
