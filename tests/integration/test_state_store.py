from decimal import Decimal

import pytest

from errors import StateStoreError
from models import Account, Position, Side, TradingState
from state import StateStore, connect


def test_halt_when_set_then_trading_state_is_halted_and_survives_a_new_client(store, redis_url):
    store.set_halt("manual", "cli", 123)
    again = StateStore(connect(redis_url), store.bot_id)
    assert again.trading_state() is TradingState.HALTED
    assert again.read_halt().reason == "manual"


@pytest.mark.parametrize("stored, read", [
    (None, TradingState.ACTIVE),  # a bot that never changed state
    ("", TradingState.ACTIVE),
    ("ACTIVE", TradingState.ACTIVE),
    ("REDUCING", TradingState.REDUCING),
    ("HALTED", TradingState.HALTED),
    (b"HALT\xffED", TradingState.HALTED),  # no state the bot knows: no permission (it read ACTIVE)
    ("active", TradingState.HALTED),
    ("PAUSED", TradingState.HALTED),
])
def test_trading_state_when_the_state_hash_holds_a_value_then_read_so_and_unknown_is_halted(store, stored, read):
    if stored is not None:
        store.client.hset(store.key("state"), "trading_state", stored)
    assert store.trading_state() is read


def test_positions_when_rewritten_then_closed_ones_disappear(store):
    p1 = Position("BTC/USDT:USDT", Side.LONG, Decimal("0.01"), Decimal("95000"))
    p2 = Position("ETH/USDT:USDT", Side.SHORT, Decimal("1"), Decimal("1800"))
    store.write_positions([p1, p2])
    store.write_positions([p2])
    assert store.read_positions() == [p2]


def test_account_when_written_then_equity_included(store):
    store.write_account(Account(Decimal("100"), Decimal("-5"), Decimal("10"), Decimal("85")))
    assert store.read_account().equity == Decimal("95")


def test_claim_when_claimed_twice_then_only_first_wins(store):
    assert store.claim_command("abc", "bot") is True
    assert store.claim_command("abc", "supervisor") is False


def test_venue_snapshot_when_saved_from_stale_version_then_refused(store):
    venue = store.venue_store("sim")
    assert venue.compare_and_save(0, "{}") is True
    assert venue.compare_and_save(0, '{"stale": true}') is False
    assert venue.load() == (1, "{}")


def test_connect_when_redis_is_not_there_then_state_store_error():
    with pytest.raises(StateStoreError, match="cannot reach Redis"):
        connect("redis://127.0.0.1:1/0", timeout_s=0.2)


@pytest.mark.parametrize("fields, ts_is_logged, data", [
    ({"kind": "x", "ts_ms": "soon", "message": "m", "data": "{}"}, True, {}),  # raised ValueError: the log emptied
    ({"kind": "x", "ts_ms": "", "message": "m"}, True, {}),
    ({"kind": "x", "ts_ms": "1e3", "message": "m"}, True, {}),
    ({"kind": "x", "ts_ms": "1000", "message": "m", "data": "[1, 2]"}, False, {"data": [1, 2]}),
    ({"kind": "x", "ts_ms": "1000", "message": "m", "data": "{not json"}, False, {}),
    ({"kind": "x", "ts_ms": "1000", "message": "m", "data": '{"a": 1}'}, False, {"a": 1}),
])
def test_read_audit_when_a_hand_written_line_is_odd_then_it_is_shown_and_the_others_are_kept(store, fields, ts_is_logged,
                                                                                          data):
    from models import AuditEvent

    store.audit(AuditEvent("state", 500, "before", {}))
    store.client.xadd(store.key("audit"), fields)
    store.audit(AuditEvent("state", 600, "after", {}))

    before, odd, after = store.read_audit(10)

    assert (before.message, after.message) == ("before", "after")
    assert odd.ts_ms == (odd.logged_ms if ts_is_logged else 1000)
    assert odd.data == data
