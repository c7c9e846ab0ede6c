"""The one owner of the trading state: halt, reduce, resume — for the bot, the supervisor, the CLI and
the dashboard alike.

Every change goes through here so that three promises hold everywhere:
- the durable halt flag is written first, before anything else is done about a halt (a crash right
  after still leaves the bot halted);
- the halt flag carries a typed cause (models.HaltCause), ranked so a weaker cause never replaces a
  stronger one, and resume decides from that cause, never from the text of a reason;
- every change is one typed event (models.TradingStateChange: previous, current, cause, who, when) in
  the audit stream.

Flattening positions is not here: it is venue work (control.flatten), run by whoever holds the venue.
"""

from __future__ import annotations

from typing import Callable

from clock import Clock
from errors import CommandError
from models import HaltCause, HaltFlag, TradingState, TradingStateChange
from stores import TradingStateStore

# Returns why a halt of this cause must stay in force, or None when it may be lifted.
StillInForce = Callable[[HaltFlag], "str | None"]


class TradingStateControl:
    def __init__(self, store: TradingStateStore, clock: Clock):
        self.store = store
        self.clock = clock

    def current(self) -> TradingState:
        return self.store.trading_state()

    def halt(self, cause: HaltCause, by: str, detail: str = "") -> HaltFlag:
        """HALTED, durably and at once. Returns the flag in force (a stronger cause already there stays)."""
        previous = self.store.trading_state()
        reason = f"{cause.value} by {by}" + (f": {detail}" if detail else "")
        flag = self.store.set_halt(reason, by, self.clock.now_ms(), cause)
        kept = "" if flag.cause is cause else f"; {flag.cause.value} halt stays in force"
        self._record(previous, TradingState.HALTED, cause.value, by, detail + kept)
        return flag

    def reduce(self, cause: str, by: str, detail: str = "") -> bool:
        """REDUCING (only orders that reduce exposure) from ACTIVE; False when not ACTIVE (a halt wins)."""
        previous = self.store.trading_state()
        if previous is not TradingState.ACTIVE:
            return False
        self.store.write_state(trading_state=TradingState.REDUCING.value)
        self._record(previous, TradingState.REDUCING, cause, by, detail)
        return True

    def lift_reducing(self, by: str, detail: str = "") -> bool:
        """REDUCING → ACTIVE once the risk is back within limits; never lifts a halt."""
        previous = self.store.trading_state()
        if previous is not TradingState.REDUCING:
            return False
        self.store.write_state(trading_state=TradingState.ACTIVE.value)
        self._record(previous, TradingState.ACTIVE, "risk_within_limits", by, detail)
        return True

    def resume(self, by: str, still_in_force: StillInForce | None = None) -> str:
        """Back to ACTIVE; refused (CommandError) while the halt's cause says it must stay."""
        flag = self.store.read_halt()
        previous = self.store.trading_state()
        if flag is not None and still_in_force is not None:
            why = still_in_force(flag)
            if why:
                raise CommandError(f"refused: {why}")
        self.store.clear_halt(TradingState.ACTIVE)
        cause = flag.cause.value if flag is not None else previous.value.lower()
        self._record(previous, TradingState.ACTIVE, "resume", by, f"lifted {cause} halt" if flag else "")
        return "ACTIVE" + (f" (lifted the {flag.cause.value} halt)" if flag else "")

    def _record(self, previous: TradingState, current: TradingState, cause: str, by: str, detail: str) -> None:
        change = TradingStateChange(previous, current, cause, by, self.clock.now_ms(), detail)
        self.store.audit(change.audit())
