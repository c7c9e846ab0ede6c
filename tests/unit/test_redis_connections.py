"""The bot's Redis connections pack with hiredis, and with redis-py's own packer what hiredis refuses, whatever
the URL's scheme (redis_connections.py): hiredis's packer ignores encoding_errors and refused a lone surrogate."""

from __future__ import annotations

import pytest
import redis
from redis.connection import PythonRespSerializer
from redis.exceptions import DataError

from redis_connections import connection_class_for


def _connection(url: str = "redis://127.0.0.1:6379/0"):
    cls = connection_class_for(url)
    if issubclass(cls, redis.UnixDomainSocketConnection):
        return cls(path="/x", encoding_errors="replace")
    return cls(encoding_errors="replace")


def _redis_py_packed(*args) -> bytes:
    conn = _connection()
    return b"".join(PythonRespSerializer(conn._buffer_cutoff, conn.encoder.encode).pack(*args))


@pytest.mark.parametrize("url, base", [
    ("redis://127.0.0.1:6379/0", redis.Connection),
    ("rediss://cache.example:6380/0", redis.SSLConnection),
    ("unix:///run/redis.sock", redis.UnixDomainSocketConnection),
])
def test_connection_class_when_a_url_then_its_schemes_class_replacing_a_lone_surrogate(url, base):
    conn = _connection(url)

    assert isinstance(conn, base)
    assert b"a?b" in b"".join(conn.pack_command("SET", "k", "a\ud800b"))


@pytest.mark.parametrize("args", [
    ("SET", "k", "v"),
    ("HSET", "tb:x:state", "reason", "é ✓ 漢字 🚀", "n", 12, "f", 0.1, "big", 1e20, "inf", float("inf")),
    ("SET", b"raw", b"\xff\x00bytes"),
    ("SET", "k", "a\ud800b"),  # a lone surrogate: redis-py's packer, replaced
    ("CONFIG GET", "maxmemory"),  # a name holding a literal argument is split, as redis-py does
    ("EVAL", "return 1", 0, "x" * 20_000),  # over redis-py's 6 KB cutoff: one chunk all the same
    ("SET", "k", bytearray(b"ba"), ),
    ("SET", "k", memoryview(b"mv")),
])
def test_pack_when_any_arguments_then_the_bytes_redis_py_would_send(args):
    assert b"".join(_connection().pack_command(*args)) == _redis_py_packed(*args)


@pytest.mark.parametrize("value", [True, None, object()])
def test_pack_when_an_argument_redis_py_refuses_then_redis_pys_error(value):
    with pytest.raises(DataError):
        _connection().pack_command("SET", "k", value)


def test_pack_commands_when_a_pipeline_with_large_arguments_then_one_buffer_of_the_same_bytes():
    commands = [("MULTI",), ("SET", "k", "x" * 10_000), ("HSET", "h", "f", "a\ud800b"), ("EXEC",)]

    packed = _connection().pack_commands(commands)

    assert len(packed) == 1
    assert packed[0] == b"".join(_redis_py_packed(*command) for command in commands)
