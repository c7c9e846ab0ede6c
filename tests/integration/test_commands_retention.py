"""What the control plane leaves in Redis is bounded or expires (real Redis): claims, results, intents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from memory_store import InMemoryStore
from models import CommandResult, CommandStatus, OrderIntent, OrderType, Side
from state import CLAIM_TTL_S, COMMAND_MAX_AGE_S, INTENTS_KEPT, REJECTION_CLAIM_TTL_S, RESULT_TTL_S


def intent(n: int) -> OrderIntent:
    return OrderIntent(client_order_id=f"cid{n:05d}", symbol="BTC/USDT:USDT", side=Side.LONG.entry_order_side,
                       qty=Decimal("0.001"), order_type=OrderType.MARKET, reason="test", created_ms=1_000 + n)


def test_claim_ttl_when_compared_with_the_oldest_command_a_reader_runs_then_it_outlives_it_by_hours():
    assert CLAIM_TTL_S - COMMAND_MAX_AGE_S >= 6 * 3600


def test_claim_when_a_command_is_claimed_then_its_claim_expires_after_claim_ttl_and_no_hash_grows(store):
    assert store.claim_command("abc", "bot") is True
    assert store.claim_command("abc", "supervisor") is False

    assert store.command_claimed_by("abc") == "bot"
    assert 0 < store.client.ttl(store.key("claim:abc")) <= CLAIM_TTL_S
    assert not store.client.exists(store.key("command_claims"))


def test_claim_commands_when_one_id_repeats_in_a_batch_then_it_is_won_once(store):
    assert store.claim_commands(["a", "b", "a"], "bot") == [True, True, False]


def test_reject_commands_when_bot_and_supervisor_answer_the_same_junk_then_one_result_each_and_they_expire(store):
    won_by_bot = store.reject_commands([("x1", "bad"), ("x2", "worse")], "bot", 123)
    won_by_sup = store.reject_commands([("x1", "bad"), ("x3", "other")], "supervisor", 124)

    assert won_by_bot == ["x1", "x2"] and won_by_sup == ["x3"]
    result = store.read_command_result("x1")
    assert result == CommandResult("x1", CommandStatus.REJECTED, "bot", "bad", 0.0, 123)
    assert [r.command_id for r in store.read_command_results(10)] == ["x1", "x2", "x3"]
    assert 0 < store.client.ttl(store.key("claim:x1")) <= REJECTION_CLAIM_TTL_S
    assert 0 < store.client.ttl(store.key("result:x1")) <= RESULT_TTL_S


def test_write_command_result_when_written_then_it_reads_back_and_expires_and_no_status_hash_grows(store):
    result = CommandResult("c1", CommandStatus.DONE, "bot", "HALTED", 1.5, 42)

    store.write_command_result(result)

    assert store.read_command_result("c1") == result
    assert 0 < store.client.ttl(store.key("result:c1")) <= RESULT_TTL_S
    assert not store.client.exists(store.key("command_status"))


@pytest.fixture(params=["redis", "memory"])
def any_store(request, store):
    """Both stores bound their intents the same way (a backtest's resting stops stay "new" for good)."""
    return store if request.param == "redis" else InMemoryStore("retention")


def test_save_intent_when_more_than_the_cap_are_saved_then_the_oldest_acknowledged_go_and_no_pending_one(any_store):
    store = any_store
    pending = [intent(n) for n in range(0, 50)]
    acknowledged = [intent(n) for n in range(50, INTENTS_KEPT + 100)]

    for i in pending:
        store.save_intent(i, "pending")
    for i in acknowledged:
        store.save_intent(i, "new")

    kept = {i.client_order_id for i, _ in store.read_intents()}
    assert len(kept) <= INTENTS_KEPT
    assert all(i.client_order_id in kept for i in pending)
    assert acknowledged[0].client_order_id not in kept and acknowledged[-1].client_order_id in kept
    notes = [e for e in store.read_audit(10, kinds=["state"]) if "order intents over" in e.message]
    assert len(notes) == 1 and notes[0].data["unresolved"] == 50


@pytest.mark.parametrize("extra", [1, INTENTS_KEPT // 10])
def test_save_intent_when_only_unresolved_intents_are_over_the_cap_then_all_are_kept(any_store, extra):
    for n in range(INTENTS_KEPT + extra):
        any_store.save_intent(intent(n), "pending")

    assert len(any_store.read_intents()) == INTENTS_KEPT + extra
