"""The connection classes of the bot's Redis client (state.connect): hiredis parses the replies, redis-py
packs the arguments.

With hiredis installed (requirements.txt) redis-py uses it both to parse replies and to pack commands.
Parsing is where it saves the CPU (about half of a Redis round trip's client time on an order tick);
its packer, though, encodes every str strictly as UTF-8 and ignores the client's `encoding_errors`: a
halt reason holding a lone surrogate ("why: \\ud800") raised UnicodeEncodeError, and the halt was not
written (tests/integration/test_halt_lifting.py). redis-py's own packer encodes with the client's
`encoding_errors="replace"`, as before hiredis came.
"""

from __future__ import annotations

from urllib.parse import urlparse

import redis
from redis.connection import PythonRespSerializer


class _OwnPacking:
    """Arguments packed by redis-py (with the client's encoding_errors); replies parsed by the default parser."""

    def _construct_command_packer(self, packer):
        if packer is not None:
            return packer
        return PythonRespSerializer(self._buffer_cutoff, self.encoder.encode)


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
