"""Sending a command and waiting for its result: what the dashboard and the CLI both use."""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from clock import Clock, SystemClock
from models import Command, CommandResult, CommandType
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


def send_command(
    store: StateStore, command_type: CommandType, args: Mapping[str, Any] | None = None, *, issued_by: str
) -> Command:
    command = new_command(command_type, args, issued_by=issued_by)
    store.send_command(command)
    return command


def wait_result(store: StateStore, command_id: str, timeout_s: float = 10.0) -> CommandResult | None:
    """The final result (done / rejected / failed), or the last one seen (accepted), or None on timeout."""
    return store.wait_command_result(command_id, timeout_s)
