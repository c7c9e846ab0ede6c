"""StateStore's round trips under Redis faults (real Redis; the faults by Redis's own commands): a command
refused for memory inside a transaction, Redis paused past the client's timeout, a connection killed
between round trips. What must hold: one clear StateStoreError for the round trip that failed, nothing of it
half-read, and the next round trips answered with their own replies (never another command's)."""

from __future__ import annotations

import threading

import pytest
import redis

from errors import StateStoreError
from state import StateStore, connect


@pytest.fixture
def admin(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture
def out_of_memory(admin: redis.Redis):
    """Redis at its memory limit, refusing what would grow it (noeviction: nobody's keys are evicted)."""
    policy = admin.config_get("maxmemory-policy")["maxmemory-policy"]
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    yield
    admin.config_set("maxmemory", "0")
    admin.config_set("maxmemory-policy", policy)


def test_write_when_redis_refuses_it_for_memory_then_one_clear_error_and_nothing_written(store: StateStore,
                                                                                        admin: redis.Redis):
    store.write_state(mode="paper")
    policy = admin.config_get("maxmemory-policy")["maxmemory-policy"]
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    try:
        with pytest.raises(StateStoreError, match="maxmemory"):
            with store.batch():
                store.write_state(mode="live", pid="1")
    finally:
        admin.config_set("maxmemory", "0")
        admin.config_set("maxmemory-policy", policy)
    assert store.read_state()["mode"] == "paper"  # the refused write not applied
    store.write_state(mode="ghost")
    assert store.read_state()["mode"] == "ghost"


def test_read_when_redis_is_at_its_memory_limit_then_the_state_and_halt_are_still_read(store: StateStore,
                                                                                       out_of_memory: None):
    """Defect (low, found by s6-attack2; on main and on s6-tick alike): a Redis at `maxmemory` (noeviction:
    a managed Redis's default) refuses every command queued inside MULTI, reads too, and the store sends its
    reads as MULTI/EXEC (`StateStore._run`): `read_state`, `trading_state`, `main.py status` and the dashboard
    all fail with 'command not allowed when used memory > maxmemory' while a plain HGETALL is answered. The
    trader loses the view of the bot at the moment Redis is in trouble."""
    assert store.client.hgetall(store.key("state")) == {}  # Redis itself still answers a read
    assert store.read_state() == {}
    assert store.read_halt() is None


def test_read_when_redis_pauses_past_the_timeout_then_the_next_reads_get_their_own_replies(redis_url: str, bot_id: str,
                                                                                           admin: redis.Redis):
    store = StateStore(connect(redis_url, timeout_s=0.5), bot_id)
    store.write_state(mode="paper", pid="42")
    admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # answered at once; the store's next call waits
    try:
        with pytest.raises(StateStoreError):
            store.read_state()
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    for _ in range(3):  # a reply left unread on a pooled connection would answer the wrong command here
        assert store.read_state() == {"mode": "paper", "pid": "42"}
        assert store.read_halt() is None
    store.wipe()


def test_round_trip_when_its_connection_was_killed_between_calls_then_retried_once_on_a_new_one(store: StateStore,
                                                                                                admin: redis.Redis):
    store.write_state(mode="paper")
    killed = admin.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert store.read_state()["mode"] == "paper"
    store.write_state(mode="ghost")
    assert store.read_state()["mode"] == "ghost"


def test_round_trip_when_a_command_redis_py_answers_itself_then_the_queued_writes_still_land(store: StateStore):
    """Latent defect (low, found by s6-attack2 on s6-tick): redis-py's pipeline answers an MGET of no keys
    itself ([], never sent: its EMPTY_RESPONSE option); s6-tick's `_transaction` sends it, Redis refuses it
    while queueing ('wrong number of arguments'), and EXECABORT throws away every write queued before it in
    the same round trip. No store method sends one today; the first that reads a list of keys that can be
    empty would lose a tick's writes."""
    with store.batch():
        store.write_state(mode="paper")
        (values,) = store._run(lambda r: r.mget([]))
    assert values == []
    assert store.read_state()["mode"] == "paper"
