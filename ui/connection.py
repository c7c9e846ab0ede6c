"""Settings and the one Redis client per URL, shared by every session of the Streamlit server."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Hashable

import redis
import streamlit as st

from settings import DEFAULT_CONFIG_PATH, ENV_PREFIX, Settings, load_settings, redis_url
from state import StateStore, connect

_settings_lock = threading.Lock()
_settings: tuple[Hashable, Settings] | None = None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _settings_source() -> Hashable:
    """What the settings are made from: config.yaml's bytes and the TB_* environment. The bytes, not the
    file's size and times: an edit in place of the same size within the clock's tick (or `cp -p`) kept the
    old settings; reading a few KB is cheap beside parsing them."""
    try:
        file: Hashable = hashlib.blake2b(DEFAULT_CONFIG_PATH.read_bytes(), digest_size=16).digest()
    except OSError:
        file = None  # load_settings says what is wrong with it
    return file, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)))


def current_settings() -> Settings:
    """config.yaml with TB_* overrides (TB_BOT__ID picks the bot); raises ConfigError. Parsed again only
    when the file or the environment changed: every page run asks, and parsing and validating the YAML
    was a tenth of a page's first run."""
    global _settings
    source = _settings_source()
    with _settings_lock:
        known = _settings
    if known is not None and known[0] == source:
        return known[1]
    loaded = load_settings()  # a bad file raises every time: nothing is kept
    with _settings_lock:
        _settings = (source, loaded)
    return loaded


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
