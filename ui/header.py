"""The status strip under the title and the bot status in the sidebar: read, decide (ui.status), show."""

from __future__ import annotations

import streamlit as st

from errors import StateStoreError
from settings import Settings
from state import StateStore
from ui.connection import now_ms
from ui.guard import guarded
from ui.status import (
    BotStatus,
    StatusView,
    bot_status_colour,
    escape_markdown,
    format_age,
    format_clock,
    format_ts,
    status_view,
)


def read_status(store: StateStore, settings: Settings) -> StatusView:
    state = store.read_state()
    halt = store.read_halt()
    reason = ""
    if halt is not None:
        reason = f"{halt.reason or 'no reason given'} (by {halt.by or 'unknown'}, {format_ts(halt.ts_ms)})"
    return status_view(
        state, store.trading_state(), now_ms(), settings.control.heartbeat_timeout_seconds, halt_reason=reason
    )


def read_for_controls(store: StateStore, settings: Settings) -> tuple[StatusView | None, int]:
    """The selected bot's status and how many positions it holds, for the controls (None: unreadable)."""
    try:
        return read_status(store, settings), len(store.read_positions())
    except StateStoreError:
        return None, 0


def _cell(column, label: str, value: str, colour: str | None = None) -> None:
    """One labelled value; its container has the CSS class `st-key-status_<label>` for tests and styling."""
    with column.container(key="status_" + label.lower().replace(" ", "_")):
        st.caption(label)
        text = escape_markdown(value)
        st.markdown(f"**:{colour}[{text}]**" if colour else f"**{text}**")


@guarded("Status")
def render_status_strip(store: StateStore, settings: Settings) -> None:
    view = read_status(store, settings)
    cols = st.columns([0.9, 0.9, 1.3, 1.1, 1.1, 1.8, 1.1])
    _cell(cols[0], "Mode", view.mode)
    _cell(cols[1], "Venue", view.venue)
    _cell(cols[2], "Trading state", view.trading_state_text, view.trading_state_colour)
    _cell(cols[3], "Bot", view.status.value, bot_status_colour(view.status))
    _cell(cols[4], "Heartbeat", view.heartbeat_text)
    _cell(cols[5], "Data source", view.data_source, "red" if view.auto_fallback else None)
    _cell(cols[6], "Updated", format_clock(now_ms()))  # the page's one clock: every time shown is UTC
    render_banners(view, settings)


def render_banners(view: StatusView, settings: Settings) -> None:
    if view.auto_fallback:
        st.error(
            "**Synthetic prices.** The market data source `auto` could not reach Binance and fell back to "
            "synthetic data: nothing on this page reflects the real market.",
            icon=":material/warning:",
        )
    if view.feed_stale:
        st.error("**Market data feed is stale**: no fresh price; no new entries are taken until it recovers.",
                 icon=":material/signal_disconnected:")
    if view.data_gaps:
        st.warning(
            f"**Gaps in the market data**: {view.data_gaps} reported, the latest {escape_markdown(view.last_gap)}. "
            "Indicators across a gap are unreliable and ghost returns spanning one are not scored; every gap "
            "with its times is in the decision log.",
            icon=":material/timeline:",
        )
    if view.status is BotStatus.UNRESPONSIVE:
        st.error(
            f"**The bot is unresponsive**: last heartbeat {format_age(view.heartbeat_age_s)} ago "
            f"(limit {settings.control.heartbeat_timeout_seconds:g} s). KILL SWITCH still works: the "
            "supervisor flattens positions when the bot is dead.",
            icon=":material/heart_broken:",
        )
    if view.halt_reason:
        st.warning(f"**Trading is HALTED**: {escape_markdown(view.halt_reason)}. Exits still run; RESUME returns "
                   "to ACTIVE.", icon=":material/pause_circle:")


@guarded("Bot status")
def render_sidebar_status(store: StateStore, settings: Settings) -> None:
    view = read_status(store, settings)
    with st.container(key="sidebar_status"):
        _sidebar_lines(view)


def _sidebar_lines(view: StatusView) -> None:
    st.markdown(
        f"Bot **:{bot_status_colour(view.status)}[{view.status.value}]** · "
        f"heartbeat {escape_markdown(view.heartbeat_text)}"
    )
    st.markdown(
        f"Trading **:{view.trading_state_colour}[{view.trading_state_text}]** · "
        f"mode **{escape_markdown(view.mode)}**"
    )
