"""The status strip under the title and the bot status in the sidebar: read, decide (ui.status), show."""

from __future__ import annotations

from html import escape

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


# Streamlit's markdown colours in its dark theme (`.streamlit/config.toml`), for the strip's own HTML
COLOURS = {"green": "#3dd56d", "red": "#ff6c6c", "orange": "#ffbd45", "gray": "#a3a8b8", "blue": "#60b4ff",
           "violet": "#b27eff"}
_STRIP_STYLE = (
    "<style>.tb-strip { display: flex; gap: 1rem; align-items: flex-start; }"
    ".tb-strip .tb-status { min-width: 0; }"
    ".tb-strip .tb-label { font-size: 0.875rem; opacity: 0.6; line-height: 1.6; }"
    ".tb-strip .tb-value { font-weight: 600; overflow-wrap: anywhere; }</style>"
)


def cell_class(label: str) -> str:
    """The CSS class of a cell of the strip (`tb-status-trading_state`), for tests and styling."""
    return "tb-status-" + label.lower().replace(" ", "_")


def strip_html(cells: list[tuple[str, str, str | None, float]]) -> str:
    """The strip as one HTML block: (label, value, colour, width share) a cell. One element, not 28: the
    strip comes first on the page, and every element before the open tab's is one more message the
    browser renders the page again for."""
    parts = []
    for label, value, colour, share in cells:
        style = f' style="color: {COLOURS.get(colour, colour)}"' if colour else ""
        parts.append(f'<div class="tb-status {cell_class(label)}" style="flex: {share:g} 1 0">'
                     f'<div class="tb-label">{escape(label)}</div><div class="tb-value"{style}>{escape(value)}</div>'
                     "</div>")
    return _STRIP_STYLE + '<div class="tb-strip">' + "".join(parts) + "</div>"


@guarded("Status")
def render_status_strip(store: StateStore, settings: Settings) -> None:
    view = read_status(store, settings)
    st.html(strip_html([
        ("Mode", view.mode, None, 0.9),
        ("Venue", view.venue, None, 0.9),
        ("Trading state", view.trading_state_text, view.trading_state_colour, 1.3),
        ("Bot", view.status.value, bot_status_colour(view.status), 1.1),
        ("Heartbeat", view.heartbeat_text, None, 1.1),
        ("Data source", view.data_source, "red" if view.auto_fallback else None, 1.8),
        ("Updated", format_clock(now_ms()), None, 1.1),  # the page's one clock: every time shown is UTC
    ]))
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
