"""Fixtures shared by every test: a real Redis server on a free port, and a fresh StateStore per test."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from embedded_redis import EmbeddedRedis, free_port, start_embedded_redis
from state import StateStore, connect

pytest_plugins = ["tests.standin.fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
KLINES = SHARED_DATA / "klines"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedRedis:
    server = start_embedded_redis(free_port(), tmp_path_factory.mktemp("redis"), persist=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
def bot_id() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def store(redis_url: str, bot_id: str) -> StateStore:
    s = StateStore(connect(redis_url), bot_id)
    yield s
    s.wipe()


@pytest.fixture(scope="session")
def shared_klines() -> Path:
    if not KLINES.is_dir():
        pytest.skip(f"real candles not found at {KLINES} (../shared/data is absent)")
    return KLINES
