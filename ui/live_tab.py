"""The Live tab: risk status with colours, positions, emergency controls, the live trade log, the go-live
checklist with what is unmet, the staged protocol and the approval form. Reads Redis, writes commands."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Mapping

import streamlit as st

from clock import SystemClock
from control import go_live
from control.trading_state import TradingStateControl
from models import CommandType, HaltCause, Mode, TradingState
from settings import Settings
from state import StateStore
from ui import data, live_offer
from ui.connection import now_ms
from ui.guard import guarded
from ui.sidebar import run_command
from ui.status import escape_markdown, format_money, to_decimal
from ui.tables import key_value_frame, positions_frame, trades_frame

GREEN, AMBER, RED = "green", "orange", "red"


def level_colour(value: Decimal | None, amber_at: Decimal, red_at: Decimal) -> str:
    """Green below amber_at, amber from it, red from red_at (inclusive: a limit reached is red)."""
    if value is None:
        return GREEN
    return RED if value >= red_at else AMBER if value >= amber_at else GREEN


def state_colour(state: str) -> str:
    return {TradingState.ACTIVE.value: GREEN, TradingState.REDUCING.value: AMBER}.get(state, RED)


def risk_lines(risk: Mapping[str, str], state: Mapping[str, str], settings: Settings) -> list[tuple[str, str, str]]:
    """(label, value text, colour) for the risk status, from the bot's risk report."""
    live = settings.live
    margin = to_decimal(risk.get("margin_utilisation_pct")) or to_decimal(risk.get("margin_use_pct"))
    liq = to_decimal(risk.get("liquidation_risk_pct"))
    day_loss = max(-(to_decimal(risk.get("daily_pnl")) or Decimal(0)), Decimal(0))
    week_loss = max(-(to_decimal(risk.get("weekly_pnl")) or Decimal(0)), Decimal(0))
    trading = state.get("trading_state", "") or "unknown"
    return [
        ("Trading state", trading, state_colour(trading)),
        ("Margin utilisation", "—" if margin is None else f"{margin:.2f} % of {live.max_margin_use_pct} %",
         level_colour(margin, live.max_margin_use_pct * Decimal("0.8"), live.max_margin_use_pct)),
        ("Liquidation risk", "no position" if liq is None else f"{liq:.2f} % (alert {live.liquidation_alert_pct} %, "
                                                               f"close {live.liquidation_close_pct} %)",
         level_colour(liq, live.liquidation_alert_pct, live.liquidation_close_pct)),
        ("Daily loss", f"{format_money(day_loss)} of {live.max_daily_loss_usdt} USDT",
         level_colour(day_loss, live.max_daily_loss_usdt / 2, live.max_daily_loss_usdt)),
        ("Weekly loss", f"{format_money(week_loss)} of {live.max_weekly_loss_usdt} USDT",
         level_colour(week_loss, live.max_weekly_loss_usdt / 2, live.max_weekly_loss_usdt)),
    ]


def _approve(store: StateStore, settings: Settings, typed: str) -> None:
    live = settings.live
    text = go_live.approval_text(live.max_position_usdt, live.max_daily_loss_usdt)
    try:
        go_live.check_typed(typed, text)
    except ValueError as exc:
        st.error(str(exc))
        return
    record = go_live.approval_record(text, "dashboard", now_ms(), go_live.approval_figures(settings))
    store.write_state(go_live_approval=json.dumps(record))
    store.audit(go_live.approval_event(record))
    live_offer.forget(settings.bot.id)  # the checklist and the sidebar's offer read the approval
    st.success(f"Approval recorded at {record['ts_ms']}.")


def _review(store: StateStore, typed: str) -> None:
    try:
        go_live.check_typed(typed, go_live.REVIEW_TEXT)
    except ValueError as exc:
        st.error(str(exc))
        return
    TradingStateControl(store, SystemClock()).record_review("dashboard", go_live.REVIEW_TEXT)
    last = run_command(store, CommandType.RESUME, {}, "RESUME after the review")
    st.write(last.text)


def _checklist_age(bot_id: str) -> None:
    """The checklist is read in the background (ui/live_offer.py): say how old it is, loudly once it is
    older than three reads' time or a read failed."""
    known = live_offer.gate_age(bot_id)
    if known is None:
        return
    age_s, failure = known
    if failure is not None or age_s > 3 * live_offer.GATE_SECONDS:
        st.warning(f"This checklist was read {age_s:.0f} s ago"
                   + (f"; reading it again failed: {escape_markdown(failure)}" if failure else "; reading it again "
                      "has not finished") + ". A live start checks every condition again.")
    else:
        st.caption(f"Checklist read {age_s:.0f} s ago (read again every {live_offer.GATE_SECONDS} s).")


@guarded("Live")
def render_live(store: StateStore, settings: Settings) -> None:
    state = store.read_state()
    if state.get("mode") == Mode.LIVE.value:
        st.warning("The bot reports mode **live**: real money, under the hard limits.")
    else:
        st.info("Live trading is not enabled: the go-live checklist below says what is unmet.")

    st.subheader("Risk status")
    for label, text, colour in risk_lines(store.read_risk(), state, settings):
        st.markdown(f"**{label}**: :{colour}[{text}]")

    st.subheader("Active positions")
    positions = store.read_positions()
    if positions:
        st.dataframe(positions_frame(positions), hide_index=True)
    else:
        st.caption("No open positions.")

    st.subheader("Emergency controls")
    left, middle = st.columns(2)
    if left.button("CLOSE ALL POSITIONS", key="live_close_all", type="primary", width="stretch",
                   help="The kill switch: HALTED, every order cancelled, every position closed reduce-only."):
        last = run_command(store, CommandType.CLOSE_ALL, {}, "CLOSE ALL POSITIONS")
        st.write(last.text)
    if middle.button("HALT BOT", key="live_halt", width="stretch", help="No new risk; exits still run."):
        last = run_command(store, CommandType.HALT, {}, "HALT BOT")
        st.write(last.text)
    with st.expander("Risk report", expanded=False):
        st.dataframe(key_value_frame(store.read_risk(), name="Figure"), hide_index=True)

    st.subheader("Live trades")
    live_trades = data.trades(store, Mode.LIVE)  # the newest trades, kept and topped up: not re-read each refresh
    if live_trades:
        st.dataframe(trades_frame(live_trades), hide_index=True)
    else:
        st.caption("No live trades yet.")

    st.subheader("Go-live checklist")
    conditions = live_offer.gate(store, settings).conditions
    unmet = [c for c in conditions if not c.met]
    if unmet:
        st.markdown(f":red[**{len(unmet)} of {len(conditions)} go-live conditions unmet**]")
    else:
        st.success("Every go-live condition is met.")
    for c in conditions:
        st.markdown(f"{':green[✔ met]' if c.met else ':red[✘ unmet]'} **{c.name}**: {c.figure}")
    _checklist_age(settings.bot.id)
    st.caption("Staged protocol (shown only; no stage raises a hard limit):")
    for stage in go_live.stages(live_trades, now_ms()):  # the live trades the table above shows
        st.markdown(f"{':green[✔]' if stage.reached else '○'} {stage.name}: {stage.detail}")

    halt = store.read_halt()
    if halt is not None and halt.cause is HaltCause.WEEKLY_LOSS_LIMIT:
        st.subheader("Weekly loss review")
        st.markdown(f":red[HALTED by the weekly loss limit] ({halt.reason}). Type exactly: `{go_live.REVIEW_TEXT}`")
        with st.form("live_review", clear_on_submit=False):
            typed_review = st.text_input("Review", key="live_review_text")
            if st.form_submit_button("Record review and resume"):
                _review(store, typed_review)

    st.subheader("Approval")
    live = settings.live
    expected = go_live.approval_text(live.max_position_usdt, live.max_daily_loss_usdt)
    st.markdown(f"Type exactly: `{expected}`")
    with st.form("live_approval", clear_on_submit=False):
        typed = st.text_input("Acknowledgement", key="live_approval_text")
        if st.form_submit_button("Record approval"):
            _approve(store, settings, typed)

