"""The Streamlit dashboard: `streamlit run dashboard.py` (or `main.py dashboard`).

Reads one bot's state from Redis (REDIS_URL, else the embedded Redis; the bot from TB_BOT__ID or
config.yaml) and writes commands to Redis. It never imports the engine, the executors or a venue.

Layout: title, status strip, four tabs (Account, Paper, Ghost, Live), the open one refreshing itself in
an `st.fragment(run_every=dashboard.refresh_seconds)`, the decision log, and in the sidebar the bot
selector (several bots may share one Redis; every view and command is the selected bot's) and the
controls. A refresh reruns the fragments only: new data, the same widgets and chart views.

With TB_DASHBOARD_PASSWORD set (required off loopback, see dashboard_access) the page asks for the
password first and shows nothing else until it is given, once per browser session.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:  # `streamlit run` from another directory
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

import dashboard_access  # noqa: E402
from errors import ConfigError, StateStoreError  # noqa: E402
from ui import bot_selector, header, sidebar, tabs, warm_up  # noqa: E402
from ui.guard import record_timing  # noqa: E402
from ui.connection import current_redis_url, current_settings, open_store, redis_client  # noqa: E402
from ui.decision_log import render_decision_log  # noqa: E402
from ui.live_offer import live_offer  # noqa: E402
from ui.status import redact_url  # noqa: E402

_page_started = time.perf_counter()
st.set_page_config(page_title="Trading bot", page_icon=":material/monitoring:", layout="wide")
# Narrower side padding than Streamlit's 5rem: at 1280 px the tables' key columns fit beside the sidebar
# and metric values at a size where "10,571.25" fits a sixth of the width
st.markdown("<style>.stMainBlockContainer, .block-container { padding-left: 1.5rem; padding-right: 1.5rem; "
            "padding-top: 2.5rem; } [data-testid='stMetricValue'] { font-size: 1.45rem; }</style>",
            unsafe_allow_html=True)
st.title("Trading bot")
warm_up.render()  # the first view's element code on its way while the server reads Redis


def _password_gate() -> None:
    """Stops the script until this session has given the password (when one is required)."""
    address = str(st.get_option("server.address") or "0.0.0.0")
    if dashboard_access.dashboard_password(os.environ) is None:
        if dashboard_access.is_loopback(address):
            return
        # `streamlit run` by hand on a wide address, past main.py's check: show nothing
        st.error(f"This dashboard is served on {address} without {dashboard_access.PASSWORD_ENV}: set it, or serve "
                 f"on 127.0.0.1 (`main.py dashboard`).")
        st.stop()
    if st.session_state.get("_tb_signed_in"):
        return
    with st.form("sign_in", clear_on_submit=True):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if dashboard_access.password_matches(given, os.environ):
            st.session_state["_tb_signed_in"] = True
            st.rerun()
        time.sleep(1)  # slows guessing through one session; the password's length does the rest
        st.error("Wrong password.")
    st.stop()


_password_gate()

try:
    settings = current_settings()
    url = current_redis_url(settings)  # a bad REDIS_URL or TB_REDIS_PASSWORD is a configuration error too
except ConfigError as exc:
    st.error(f"**Configuration error**: {exc}")
    st.stop()

refresh_s = settings.dashboard.refresh_seconds
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

with st.sidebar:
    bot_id = bot_selector.render(open_store(settings), settings)
store = open_store(settings, bot_id)

st.caption(f"Bot `{store.bot_id}` · Redis `{redact_url(url)}` · all times UTC · refreshes every {refresh_s:g} s")
strip = st.container()

with st.sidebar:
    st.header("Controls")
    sidebar_status = st.container()
    view, positions = header.read_for_controls(store, settings)
    sidebar.render_controls(store, view, positions, read_view=lambda: header.read_for_controls(store, settings)[0],
                            refresh_s=refresh_s, read_offer=lambda: live_offer(store, settings))

# Drawn after the controls ran: a press's effect (HALTED…) is on the strip in the same run as its answer.
with strip:
    st.fragment(run_every=refresh_s)(header.render_status_strip)(store, settings)
with sidebar_status:
    st.fragment(run_every=refresh_s)(header.render_sidebar_status)(store, settings)

# Only the open tab (and the decision log once expanded) runs and refreshes: hidden panels cost nothing.
# The tab is in the URL (?tab=Paper), so a tab can be linked to and survives a reload.
for tab, view_fn in zip(st.tabs(list(tabs.TAB_NAMES), key="tab", on_change="rerun", bind="query-params"),
                        tabs.TAB_VIEWS):
    if tab.open:
        with tab:
            st.fragment(run_every=refresh_s)(view_fn)(store, settings)

log = st.expander("Decision log", expanded=False, key="decision_log_open", on_change="rerun")
if log.open:
    with log:
        st.fragment(run_every=refresh_s)(render_decision_log)(store, settings)

record_timing("page", _page_started)
