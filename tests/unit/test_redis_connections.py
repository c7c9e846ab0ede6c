"""The bot's Redis connections pack their arguments with redis-py's own packer whatever the URL's scheme
(redis_connections.py): hiredis's packer ignores encoding_errors and refused a lone surrogate."""

from __future__ import annotations

import pytest
import redis
from redis.connection import PythonRespSerializer

from redis_connections import connection_class_for


@pytest.mark.parametrize("url, base", [
    ("redis://127.0.0.1:6379/0", redis.Connection),
    ("rediss://cache.example:6380/0", redis.SSLConnection),
    ("unix:///run/redis.sock", redis.UnixDomainSocketConnection),
])
def test_connection_class_when_a_url_then_its_schemes_class_with_our_packer(url, base):
    cls = connection_class_for(url)
    assert issubclass(cls, base)
    conn = cls(encoding_errors="replace") if base is not redis.UnixDomainSocketConnection else cls(path="/x", encoding_errors="replace")
    assert isinstance(conn._command_packer, PythonRespSerializer)
    assert b"a?b" in b"".join(conn.pack_command("SET", "k", "a\ud800b"))
