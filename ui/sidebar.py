"""The controls: KILL SWITCH, HALT, RESUME, START (with a mode), STOP, and the answer to the last press.

Runs in the main script, never inside an auto-refreshing fragment: a press waits for the command's
result (up to COMMAND_WAIT_S), and the confirmations (the live-mode kill switch, switching the mode of
a running bot) are `st.dialog`s, which must be opened from the main script. The button labels are
exact and stable: people and Playwright look for them.

The Mode selector shows the mode the bot runs in (it follows when that changes). START with another
mode while the bot runs is one confirmed action: STOP, then START in the chosen mode. Live is among the
modes only while the go-live gate could pass (ui/live_offer.py); otherwise a line under the selector
says why it is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import streamlit as st

from control.client import send_command, wait_result
from errors import StateStoreError
from models import CommandResult, CommandType, Mode
from state import StateStore
from ui.connection import now_ms
from ui.live_offer import LiveOffer
from ui.status import BotStatus, StatusView, describe_result, escape_markdown, format_ts, result_colour

COMMAND_WAIT_S = 10.0
START_MODES = (Mode.GHOST.value, Mode.PAPER.value)
LIVE = Mode.LIVE.value
LAST_COMMAND = "last_command"
MODE_KEY = "start_mode"  # the selector's one key: a key that changed would be a new element (see render_mode_selector)
FOLLOWED_KEY = "_tb_mode_followed"  # (bot id, running mode) the selector last followed ("stopped" when none)
OFFERED_KEY = "_tb_modes_offered"  # the modes the selector on screen offers

_CSS = """
<style>
.st-key-kill_switch button {
    min-height: 3.5rem;
    font-size: 1.25rem;
    font-weight: 800;
    letter-spacing: 0.08em;
    background-color: #c62828;
    border-color: #c62828;
    color: white;
}
.st-key-kill_switch button p { font-size: 1.25rem; font-weight: 800; }
.st-key-kill_switch button:hover { background-color: #b71c1c; border-color: #ffffff; color: white; }
</style>
"""


@dataclass(frozen=True, slots=True)
class LastCommand:
    label: str
    command_id: str
    sent_ms: int
    text: str  # "Result: …"
    colour: str  # green / orange / red
    detail: str = ""


def run_command(store: StateStore, command_type: CommandType, args: Mapping[str, Any], label: str) -> LastCommand:
    """Send, wait for the final answer, remember it for the sidebar."""
    sent = now_ms()
    command_id = ""
    try:
        with st.spinner(f"{label}: waiting for the answer…"):
            command = send_command(store, command_type, args, issued_by="dashboard")
            command_id = command.command_id
            result: CommandResult | None = wait_result(store, command_id, timeout_s=COMMAND_WAIT_S)
        last = LastCommand(label, command_id, sent, describe_result(result), result_colour(result),
                           result.detail if result else "")
    except StateStoreError as exc:
        last = LastCommand(label, command_id, sent, f"Result: failed: {exc}", "red")
    st.session_state[LAST_COMMAND] = last
    return last


@st.dialog("KILL SWITCH: close everything?")
def confirm_kill_switch(store: StateStore) -> None:
    st.error("The bot is trading **live**. This halts trading, cancels every open order and closes every "
             "position at market.")
    confirm, cancel = st.columns(2)
    if confirm.button("Close everything", type="primary", key="kill_confirm", width="stretch"):
        run_command(store, CommandType.CLOSE_ALL, {}, "KILL SWITCH")
        st.rerun()
    if cancel.button("Cancel", key="kill_cancel", width="stretch"):
        st.rerun()


@st.dialog("Switch the bot's mode?")
def confirm_switch(store: StateStore, running: str, wanted: str, positions: int) -> None:
    st.warning(f"The bot runs in **{running}**. Switching stops it (entry orders cancelled) and starts it in "
               f"**{wanted}**.")
    if positions:
        st.error(f"{positions} open position(s) stay open at the venue with their stops; close them first if "
                 f"{wanted} must not inherit them.")
    confirm, cancel = st.columns(2)
    if confirm.button(f"Stop and start in {wanted}", type="primary", key="switch_confirm", width="stretch"):
        switch_mode(store, running, wanted)
        st.rerun()
    if cancel.button("Cancel", key="switch_cancel", width="stretch"):
        st.rerun()


def switch_mode(store: StateStore, running: str, wanted: str) -> LastCommand:
    """STOP, and only once it is done, START in `wanted`: the answer shown is the pair's."""
    label = f"SWITCH {running} → {wanted}"
    stopped = run_command(store, CommandType.STOP, {}, label)
    if not stopped.text.startswith("Result: done"):
        return stopped
    started = run_command(store, CommandType.START, {"mode": wanted}, label)
    if started.text.startswith("Result: done"):
        last = LastCommand(label, started.command_id, stopped.sent_ms,
                           f"Result: done in {now_ms() - stopped.sent_ms} ms (stopped, started in {wanted})", "green")
        st.session_state[LAST_COMMAND] = last
        return last
    return started


def follow_running_mode(running: str | None, modes: tuple[str, ...], bot_id: str = "") -> None:
    """Move the selector to the running mode when that changes, or another bot is selected (decided on the
    server, before the widget is drawn); between changes the person's choice stands. A stopped bot leaves
    the last mode chosen; a choice no longer offered (live, once the gate closes) falls back to the running
    mode, or to the first mode when stopped.

    One key for the selector's whole life: a selector keyed per running mode was a new element at each
    stop and start, and Streamlit's stale-element clean-up raced the refreshing fragment, leaving two Mode
    selectors on the page (seen in CI after a STOP)."""
    following = (bot_id, running or "stopped")
    current = st.session_state.get(MODE_KEY)
    if running is not None and st.session_state.get(FOLLOWED_KEY) != following:
        st.session_state[MODE_KEY] = running
    elif current not in modes:
        st.session_state[MODE_KEY] = running if running is not None else modes[0]
    st.session_state[FOLLOWED_KEY] = following


def render_mode_selector(read_view: Callable[[], StatusView | None],
                         read_offer: Callable[[], LiveOffer] | None = None, bot_id: str = "") -> None:
    """In its own refreshing fragment, so it follows the running mode and the go-live gate without a press."""
    view = read_view()
    running = view.mode if view is not None and view.status is not BotStatus.STOPPED else None
    offer = read_offer() if read_offer is not None else LiveOffer(False, ())
    # a bot already in live shows live (the truth); START in it then only says it runs
    modes = (*START_MODES, LIVE) if offer.offered or running == LIVE else START_MODES
    follow_running_mode(running if running in modes else None, modes, bot_id)
    st.session_state[OFFERED_KEY] = modes
    st.selectbox("Mode", modes, key=MODE_KEY,
                 help="The mode the bot runs in; choose another and press START to switch.")
    if not offer.offered:
        with st.container(key="live_not_offered"):
            # one element, its lines broken in markdown: the sidebar is part of the page's first view
            st.caption("  \n".join(["**Live is not offered**: the go-live gate cannot pass (every condition: the "
                                    "Live tab)."] + [f":red[✘] {escape_markdown(line)}" for line in offer.why_not]))


def chosen_mode() -> str:
    """The selector's mode, if the selector on screen still offers it (live leaves when the gate closes)."""
    chosen = str(st.session_state.get(MODE_KEY) or START_MODES[0])
    return chosen if chosen in st.session_state.get(OFFERED_KEY, START_MODES) else START_MODES[0]


def render_controls(store: StateStore, view: StatusView | None, positions: int = 0, *,
                    read_view: Callable[[], StatusView | None] | None = None, refresh_s: float | None = None,
                    read_offer: Callable[[], LiveOffer] | None = None) -> None:
    """The buttons; `view` is the selected bot's status (the kill switch asks first in live, START asks
    before switching a running bot's mode); `read_view` reads it again for the refreshing mode selector."""
    bot_mode = view.mode if view is not None else ""
    running = view is not None and view.status is not BotStatus.STOPPED
    st.markdown(_CSS, unsafe_allow_html=True)
    kill = st.button("KILL SWITCH", key="kill_switch", type="primary", width="stretch",
                     help="Halt, cancel every open order and close every position (close-all).")
    left, right = st.columns(2)
    halt = left.button("HALT", key="halt", width="stretch", help="No new risk; exits still run.")
    resume = right.button("RESUME", key="resume", width="stretch", help="Back to ACTIVE.")
    st.divider()
    st.fragment(run_every=refresh_s)(render_mode_selector)(read_view or (lambda: view), read_offer, store.bot_id)
    mode = chosen_mode()
    left, right = st.columns(2)
    start = left.button("START", key="start", width="stretch",
                        help="Start the bot in this mode (handled by the supervisor); switches a running bot.")
    stop = right.button("STOP", key="stop", width="stretch",
                        help="Graceful stop: open entry orders cancelled, positions stay.")

    if kill:
        if bot_mode == Mode.LIVE.value:
            confirm_kill_switch(store)
        else:
            run_command(store, CommandType.CLOSE_ALL, {}, "KILL SWITCH")
    elif halt:
        run_command(store, CommandType.HALT, {}, "HALT")
    elif resume:
        run_command(store, CommandType.RESUME, {}, "RESUME")
    elif start:
        if running and bot_mode == mode:
            st.session_state[LAST_COMMAND] = LastCommand(f"START {mode}", "", now_ms(),
                                                         f"Result: already running in {mode}", "green")
        elif running and bot_mode in (*START_MODES, LIVE):
            confirm_switch(store, bot_mode, mode, positions)
        else:
            run_command(store, CommandType.START, {"mode": mode}, f"START {mode}")
    elif stop:
        run_command(store, CommandType.STOP, {}, "STOP")
    with st.container(key="command_result"):
        render_last_result()


def render_last_result() -> None:
    last: LastCommand | None = st.session_state.get(LAST_COMMAND)
    if last is None:
        st.caption("No command sent from this page yet.")
        return
    body = escape_markdown(last.text)
    {"green": st.success, "orange": st.warning}.get(last.colour, st.error)(body)
    where = f"{last.label} · sent {format_ts(last.sent_ms)}"
    if last.command_id:
        where += f" · id {last.command_id[:8]}"
    st.caption(escape_markdown(where))
    if last.detail and not last.text.endswith(last.detail):
        st.caption(escape_markdown(last.detail))
