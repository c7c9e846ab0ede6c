"""Hidden elements at the top of the page that make the browser load the first view's element code early.

Streamlit's frontend loads the code of an element kind (a metric, an HTML block) the first time one
arrives, and the tab holding it waits, suspended, until that code is there. On the dashboard the first
metric and the first HTML table come at the end of the first run, inside the open tab, so the tab's
cards and tables appeared one module load (and React's suspense throttle) after their data. A hidden
metric and HTML block sent with the title start those loads while the server is still reading Redis.
Measured on first visits (benchmarks/dashboard.md): the Account tab's cards and tables 0.4–0.5 s sooner.

A component's frame is not warmed up this way: a hidden frame costs a document of its own and slowed the
real chart (measured); dashboard_preload.py has the browser fetch the chart's bundle instead.
"""

from __future__ import annotations

import streamlit as st

KEY = "tb_warm_up"
LABEL = "warm-up"  # the hidden metric's label: tests that count a tab's metrics leave it out


def render() -> None:
    st.html(f"<style>.st-key-{KEY} {{ display: none; }}</style>")
    with st.container(key=KEY):
        st.metric(LABEL, "0")
        st.html("<span></span>")
