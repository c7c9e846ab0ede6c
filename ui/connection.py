"""Settings and the one Redis client per URL, shared by every session of the Streamlit server."""

from __future__ import annotations

import time

import redis
import streamlit as st

from settings import Settings, load_settings, redis_url
from state import StateStore, connect


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def current_settings() -> Settings:
    """config.yaml with TB_* overrides (TB_BOT__ID picks the bot); raises ConfigError."""
    return load_settings()


def current_redis_url(settings: Settings) -> str:
    """REDIS_URL when set, else the embedded Redis of `main.py up`."""
    return redis_url(settings)


@st.cache_resource(show_spinner=False)
def redis_client(url: str) -> redis.Redis:
    """Cached per URL; a failed connect raises (StateStoreError) and is not cached, so it is retried."""
    return connect(url)


def open_store(settings: Settings, bot_id: str | None = None) -> StateStore:
    """The store of `bot_id` (the one chosen in the bot selector), else of the configured bot."""
    return StateStore(
        redis_client(current_redis_url(settings)),
        bot_id or settings.bot.id,
        stream_maxlen=settings.redis.stream_maxlen,
        audit_maxlen=settings.redis.audit_maxlen,
    )
