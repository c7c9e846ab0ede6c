"""Sending a command and waiting for its result: what the dashboard and the CLI both use."""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from clock import Clock, SystemClock
from control.trading_state import TradingStateControl
from models import Command, CommandResult, CommandType, HaltCause
from state import StateStore


def new_command(
    command_type: CommandType, args: Mapping[str, Any] | None = None, *, issued_by: str, clock: Clock | None = None
) -> Command:
    return Command(
        command_id=uuid.uuid4().hex,
        type=command_type,
        issued_at_ms=(clock or SystemClock()).now_ms(),
        issued_by=issued_by,
        args=dict(args or {}),
    )


# Sent by an operator, these halt durably before the command is even on the stream: whatever happens
# to the command (a dead bot, a dead supervisor), the bot is HALTED when it next looks.
_HALT_FIRST = {CommandType.HALT: HaltCause.OPERATOR, CommandType.CLOSE_ALL: HaltCause.KILL_SWITCH}


def send_command(
    store: StateStore, command_type: CommandType, args: Mapping[str, Any] | None = None, *, issued_by: str
) -> Command:
    """What the CLI and the dashboard call: for halt and close-all the halt flag is written first."""
    clock = SystemClock()
    if command_type in _HALT_FIRST:
        TradingStateControl(store, clock).halt(_HALT_FIRST[command_type], issued_by, "sent, waiting for the bot")
    command = new_command(command_type, args, issued_by=issued_by, clock=clock)
    store.send_command(command)
    return command


def wait_result(store: StateStore, command_id: str, timeout_s: float = 10.0) -> CommandResult | None:
    """The final result (done / rejected / failed), or the last one seen (accepted), or None on timeout."""
    return store.wait_command_result(command_id, timeout_s)
