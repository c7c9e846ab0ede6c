"""The bot selector: several bots (each its own `bot.id`) may share one Redis; the page shows one of them,
and every view and command is that bot's. Each choice names the bot's mode, status, trading state
and heartbeat age."""

from __future__ import annotations

import streamlit as st

from errors import StateStoreError
from settings import Settings
from state import StateStore
from ui import data
from ui.connection import now_ms

SELECTED = "bot"  # also the URL's query parameter: ?bot=ID opens that bot's page


def render(store: StateStore, settings: Settings) -> str:
    """The selector; returns the chosen bot id (the configured bot's when nothing else is known)."""
    try:
        known = data.bots(store, now_ms(), settings.control.heartbeat_timeout_seconds)
    except StateStoreError as exc:
        st.error(f"Bots: {exc}")
        return str(st.session_state.get(SELECTED) or settings.bot.id)
    labels = {b.bot_id: b.label() for b in known}
    ids = sorted(labels)
    if settings.bot.id not in labels:
        ids.insert(0, settings.bot.id)
        labels[settings.bot.id] = f"{settings.bot.id} · no state yet"
    if st.session_state.get(SELECTED) not in labels:
        # a new session starts on ?bot=ID when that bot exists, else on the configured bot
        wanted = st.query_params.get(SELECTED)
        st.session_state[SELECTED] = wanted if wanted in labels else settings.bot.id
    # The widget's own state decides (never the URL: a URL synced late must not move a command to
    # another bot); the URL follows it so the page can be linked to.
    chosen = str(st.selectbox(f"Bot ({len(known)} on this Redis)", ids, key=SELECTED, format_func=lambda b: labels[b],
                              help="Every view and command on this page is the selected bot's."))
    if st.query_params.get(SELECTED) != chosen:
        st.query_params[SELECTED] = chosen
    return chosen
