"""The Streamlit dashboard: `streamlit run dashboard.py` (or `main.py dashboard`).

Reads one bot's state from Redis (REDIS_URL, else the embedded Redis; the bot from TB_BOT__ID or
config.yaml) and writes commands to Redis. It never imports the engine, the executors or a venue.

Layout: title, status strip, four tabs (Account, Paper, Ghost, Live) each refreshing itself in an
`st.fragment(run_every=dashboard.refresh_seconds)`, the decision log, and the controls in the sidebar.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:  # `streamlit run` from another directory
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from errors import ConfigError, StateStoreError  # noqa: E402
from ui import header, sidebar, tabs  # noqa: E402
from ui.connection import current_redis_url, current_settings, open_store, redis_client  # noqa: E402
from ui.status import redact_url  # noqa: E402

st.set_page_config(page_title="Trading bot", page_icon=":material/monitoring:", layout="wide")
st.title("Trading bot")

try:
    settings = current_settings()
except ConfigError as exc:
    st.error(f"**Configuration error**: {exc}")
    st.stop()

refresh_s = settings.dashboard.refresh_seconds
url = current_redis_url(settings)
try:
    store = open_store(settings)
except StateStoreError as exc:
    st.error(f"**Redis is unreachable** at `{redact_url(url)}`: {exc}. Start it with `main.py up`, or set "
             f"REDIS_URL. Retrying every {refresh_s:g} s.", icon=":material/cloud_off:")

    @st.fragment(run_every=refresh_s)
    def _retry() -> None:
        try:
            redis_client(url)
        except StateStoreError:
            return
        st.rerun(scope="app")

    _retry()
    st.stop()

st.caption(f"Bot `{settings.bot.id}` · Redis `{redact_url(url)}` · refreshes every {refresh_s:g} s")
st.fragment(run_every=refresh_s)(header.render_status_strip)(store, settings)

with st.sidebar:
    st.header("Controls")
    st.fragment(run_every=refresh_s)(header.render_sidebar_status)(store, settings)
    try:
        bot_mode = store.read_state().get("mode", "")
    except StateStoreError:
        bot_mode = ""
    sidebar.render_controls(store, bot_mode)

for tab, view in zip(st.tabs(list(tabs.TAB_NAMES)), tabs.TAB_VIEWS):
    with tab:
        st.fragment(run_every=refresh_s)(view)(store, settings)

with st.expander("Decision log", expanded=False):
    st.fragment(run_every=refresh_s)(tabs.render_decision_log)(store, settings)
