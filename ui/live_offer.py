"""Whether the sidebar offers START in live: only when the go-live gate could pass (control/go_live.py), and
otherwise the reasons why not. The bot manager checks the gate again on a live start, the venue asked."""

from __future__ import annotations

from dataclasses import dataclass

from control import go_live
from settings import Settings
from state import StateStore
from ui.refreshing import Refreshing

GATE_SECONDS = 10  # the evidence is thousands of records (trades, 100,000 signals): read at most this often


@dataclass(frozen=True, slots=True)
class LiveOffer:
    offered: bool
    why_not: tuple[str, ...]  # "condition: figure" of each unmet condition known


# one read of the evidence per bot for the sidebar and the Live tab's checklist alike, shown from the last
# read while it is read again
_gates: Refreshing[go_live.GateResult] = Refreshing(GATE_SECONDS)


def _read_gate(store: StateStore, settings: Settings) -> go_live.GateResult:
    checks, note = go_live.recorded_venue_checks(store.read_state())
    return go_live.check(store, settings, venue_checks=checks, venue_note=note)


def gate(store: StateStore, settings: Settings) -> go_live.GateResult:
    """The go-live gate as the dashboard shows it (the venue checks as the last live start heard them)."""
    return _gates.get(store.bot_id, lambda: _read_gate(store, settings))


def gate_age(bot_id: str) -> tuple[float, str | None] | None:
    """How old the gate shown is (seconds) and why reading it again failed, if it did."""
    return _gates.age(bot_id)


def forget(bot_id: str) -> None:
    """The next gate is read anew (an approval was just recorded)."""
    _gates.clear(bot_id)


def live_offer(store: StateStore, settings: Settings) -> LiveOffer:
    """The cheap conditions first (keys in the environment, the recorded approval): most of the time one
    of them is unmet and the evidence need not be read at all. The state hash cannot be read: not offered."""
    try:
        state = store.read_state()
    except Exception as exc:  # StateStoreError or a broken record: the gate cannot pass on unknown evidence
        return LiveOffer(False, (f"evidence: cannot be read from Redis: {exc}",))
    cheap = []
    if not go_live.keys_present():
        cheap.append("API keys: BINANCE_API_KEY and BINANCE_API_SECRET must both be set in the environment")
    if go_live.read_approval(state) is None:
        cheap.append("approval: not recorded (the Live tab's approval form, or `main.py approve-live`)")
    if cheap:
        return LiveOffer(False, tuple(cheap))
    try:
        result = gate(store, settings)
    except Exception as exc:  # the venue checks recorded in the state hash could not be read
        return LiveOffer(False, (f"evidence: cannot be read from Redis: {exc}",))
    return LiveOffer(result.could_pass, tuple(f"{c.name}: {c.figure}" for c in result.unmet
                                              if c.name != go_live.VENUE_NOT_RUN))
