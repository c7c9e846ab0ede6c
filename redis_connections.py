"""The connection classes of the bot's Redis client (state.connect): hiredis parses the replies and packs
the arguments, redis-py's own packer takes over for what hiredis cannot encode.

With hiredis installed (requirements.txt) redis-py uses it both to parse replies and to pack commands.
Its packer, though, encodes every str strictly as UTF-8 and ignores the client's `encoding_errors`: a
halt reason holding a lone surrogate ("why: \\ud800") raised UnicodeEncodeError, and the halt was not
written (tests/integration/test_halt_lifting.py). So a command hiredis refuses is packed again by
redis-py's packer, with the client's `encoding_errors="replace"`: for every str that is valid UTF-8 the
two write the same bytes (tests/unit/test_redis_connections.py), and redis-py's packer alone was about a
tenth of an order tick's CPU (it walks every argument in Python).

A pipeline's commands go as one buffer: redis-py's chunks (one per argument over 6 KB, such as a tick's
candles or a venue's market) were one `sendall` each, and each woke Redis for a part of the request.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlparse

import redis
from redis.connection import PythonRespSerializer

def _hiredis_packer() -> Callable[..., Any] | None:
    try:
        from hiredis import pack_command
    except ImportError:  # redis-py's packer alone, as without hiredis
        return None
    return pack_command


_hiredis_pack = _hiredis_packer()


class _Packer:
    """hiredis's packer; redis-py's for a command it refuses (a lone surrogate, a type it does not take:
    redis-py then raises its own error for those, as it did alone)."""

    def __init__(self, fallback: PythonRespSerializer):
        self._fallback = fallback

    def pack(self, *args):
        if _hiredis_pack is not None:
            name = args[0]
            # redis-py splits a command name holding its literal arguments ('CONFIG GET'), as the server wants
            if isinstance(name, str):
                args = (*name.encode().split(), *args[1:]) if " " in name else args
            elif b" " in name:
                args = (*name.split(), *args[1:])
            try:
                return [_hiredis_pack(args)]
            except (UnicodeEncodeError, TypeError):
                pass
        return self._fallback.pack(*args)


class _OwnPacking:
    """Arguments packed by `_Packer` (the client's encoding_errors kept); replies parsed by the default parser."""

    def _construct_command_packer(self, packer):
        if packer is not None:
            return packer
        return _Packer(PythonRespSerializer(self._buffer_cutoff, self.encoder.encode))

    def pack_commands(self, commands):
        pack = self._command_packer.pack
        return [b"".join([chunk for command in commands for chunk in pack(*command)])]


class TcpConnection(_OwnPacking, redis.Connection):
    pass


class SslConnection(_OwnPacking, redis.SSLConnection):
    pass


class UnixConnection(_OwnPacking, redis.UnixDomainSocketConnection):
    pass


def connection_class_for(url: str) -> type[redis.Connection] | type[redis.UnixDomainSocketConnection]:
    """The class for `url`'s scheme, as redis-py would choose it (redis://, rediss://, unix://)."""
    scheme = urlparse(url).scheme
    if scheme == "rediss":
        return SslConnection
    if scheme == "unix":
        return UnixConnection
    return TcpConnection
