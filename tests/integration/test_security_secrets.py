"""No secret leaks after a full run: real Redis with a password, real supervisor and bot, the real CLI.

The API keys and the Redis password sit in the environment of every process. After commands (opens,
a refused one, halt, resume, close, a SIGKILLed bot the supervisor restarts, the kill switch, stop),
none of them is in any Redis key or value, the processes' logs, redis-server's log, what the CLI
printed (`status --json` included), or any process's command line.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import redis

from embedded_redis import EmbeddedRedis, free_port, start_embedded_redis
from redis_auth import RedisAuth
from state import StateStore, connect

from processes import BotFleet, run_cli, wait_for

pytestmark = pytest.mark.slow

# distinctive and plain (no character a URL or JSON would escape), so a leak is found in any encoding
SECRETS = {
    "BINANCE_API_KEY": "leakcheck-apikey-4f9a1c62",
    "BINANCE_API_SECRET": "leakcheck-apisecret-7be2d0a9",
    "TB_REDIS_PASSWORD": "leakcheck-redispw-93ac5e17",
}
ETH, BTC = "ETH/USDT:USDT", "BTC/USDT:USDT"


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, value in SECRETS.items() if value.encode() in data]


def _every_value(client: redis.Redis) -> Iterator[tuple[bytes, bytes]]:
    """(key, one piece of its value) for every key, read by type (DUMP would compress long strings)."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        yield key, key
        if kind == b"string":
            yield key, client.get(key) or b""
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                yield key, field + b"=" + value
        elif kind == b"list":
            yield from ((key, item) for item in client.lrange(key, 0, -1))
        elif kind == b"set":
            yield from ((key, item) for item in client.smembers(key))
        elif kind == b"zset":
            yield from ((key, item) for item, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"stream":
            for entry_id, fields in client.xrange(key):
                yield key, entry_id + b" " + b" ".join(k + b"=" + v for k, v in fields.items())
        else:
            raise AssertionError(f"unread Redis type {kind!r} at {key!r}")


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory) -> Iterator[EmbeddedRedis]:
    server = start_embedded_redis(free_port(), tmp_path_factory.mktemp("redis"), persist=False,
                                  auth=RedisAuth(SECRETS["TB_REDIS_PASSWORD"]))
    yield server
    server.stop()


def test_full_run_when_secrets_are_in_the_environment_then_none_reaches_redis_logs_status_or_ps(
        locked_redis, tmp_path: Path):
    store = StateStore(connect(locked_redis.client_url), "sec" + uuid.uuid4().hex[:8])
    # REDIS_URL without the password, as `main.py up` hands it to its children: they add TB_REDIS_PASSWORD
    fleet = BotFleet(store, locked_redis.url, tmp_path, **SECRETS)
    printed: list[str] = []

    def cli(*args: str, ok: bool = True) -> str:
        result = run_cli(args, fleet.env)
        printed.extend([result.stdout, result.stderr])
        assert (result.returncode == 0) is ok, f"main.py {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    command_lines: list[str] = []

    def remember_command_lines() -> None:
        for pid in {locked_redis.process.pid, *(c.pid for c in fleet.children), *fleet.bot_pids}:
            try:
                command_lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass

    try:
        fleet.start_supervisor()
        first = fleet.wait_bot_running()
        cli("open", ETH, "--side", "long", "--notional", "300")
        cli("open", BTC, "--side", "short", "--notional", "300")
        cli("open", "NOPE/USDT:USDT", "--side", "long", "--notional", "300", ok=False)
        cli("halt")
        cli("resume")
        cli("close", ETH)
        remember_command_lines()
        status = json.loads(cli("status", "--json"))
        assert status["running"] is True and [p["symbol"] for p in status["positions"]] == [BTC]
        fleet.bot_pids.add(first)
        os.kill(first, signal.SIGKILL)  # the supervisor restarts it: its start-up logs count too
        fleet.wait_bot_running(not_pid=first)
        remember_command_lines()
        cli("close-all")
        cli("status")
        printed.append(json.dumps(json.loads(cli("status", "--json"))))
        cli("stop")
        wait_for(lambda: store.read_state().get("running") == "0", 20, "the bot stopped")
    finally:
        fleet.cleanup()

    raw = redis.Redis.from_url(locked_redis.client_url)
    found_in_redis = [(key, _leaks(piece)) for key, piece in _every_value(raw) if _leaks(piece)]
    admin_view = [str(raw.config_get("*")), str(raw.acl_list())]
    logs = {p.name: p.read_bytes() for p in [*tmp_path.glob("*.log"), locked_redis_log(locked_redis)]}

    # the supervised bots write into the supervisor's log: both runs must be in what is scanned
    assert logs["supervisor-0.log"].count(b"paper mode, market data") == 2 and logs["redis.log"], sorted(logs)
    assert raw.dbsize() > 10  # the run wrote its state
    assert found_in_redis == []
    assert [name for text in admin_view for name in _leaks(text)] == []
    assert {name: _leaks(text) for name, text in logs.items() if _leaks(text)} == {}
    assert [name for text in printed for name in _leaks(text)] == []
    assert command_lines and [name for line in command_lines for name in _leaks(line)] == []
    store.wipe()


def locked_redis_log(server: EmbeddedRedis) -> Path:
    args = server.process.args
    return Path(args[args.index("--logfile") + 1])
