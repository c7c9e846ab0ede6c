"""The go-live gate asks the live venue itself for its key's rights (GET /sapi/v1/account/apiRestrictions),
through the real ccxt client against the stand-in playing Binance mainnet."""

from __future__ import annotations

import pytest

from clock import SystemClock
from control import go_live
from embedded_redis import free_port
from settings import Settings
from tests.standin.binance_standin import DEFAULT_NOW_MS, BinanceStandin
from tests.standin.signing import TEST_KEYS

KEY, SECRET = next(iter(TEST_KEYS.items()))


def settings_at(url: str) -> Settings:
    return Settings.model_validate({"bot": {"mode": "live"}, "venue": {"binance_url": url}})


@pytest.mark.parametrize(
    "permissions, unmet",
    [
        ({"enableWithdrawals": False, "ipRestrict": True, "enableFutures": True}, []),
        ({"enableWithdrawals": True, "ipRestrict": True, "enableFutures": True}, ["no withdrawal permission"]),
        ({"enableWithdrawals": False, "ipRestrict": False, "enableFutures": True}, ["IP restricted"]),
        ({"enableWithdrawals": False, "ipRestrict": True, "enableFutures": False}, ["futures enabled"]),
    ],
)
def test_ask_venue_when_the_key_has_these_rights_then_these_checks_are_unmet(permissions, unmet):
    standin = BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, venue="mainnet", market_start_ms=DEFAULT_NOW_MS,
                             permissions=permissions).start()
    try:
        checks, note = go_live.ask_venue(settings_at(standin.url), {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET})
    finally:
        standin.stop()

    assert note == ""
    assert checks is not None and [c.name for c in checks if not c.met] == unmet


def test_ask_venue_when_the_venue_cannot_be_reached_then_no_checks_and_why():
    checks, note = go_live.ask_venue(settings_at(f"http://127.0.0.1:{free_port()}"),
                                     {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET})

    assert checks is None and "could not be asked" in note
    assert SECRET not in note and KEY not in note


def test_check_with_venue_when_asked_then_the_answer_is_kept_for_the_dashboard(store, monkeypatch):
    standin = BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, venue="mainnet", market_start_ms=DEFAULT_NOW_MS,
                             permissions={"enableWithdrawals": True}).start()
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    try:
        result = go_live.check_with_venue(store, settings_at(standin.url))
    finally:
        standin.stop()

    assert not result.passed
    assert "no withdrawal permission" in result.refusal()
    kept, _ = go_live.recorded_venue_checks(store.read_state())
    assert kept is not None and {c.name: c.met for c in kept}["no withdrawal permission"] is False
