"""The one owner of the trading state: halt, reduce, resume — for the bot, the supervisor, the CLI and
the dashboard alike.

Every change goes through here so that three promises hold everywhere:
- the durable halt flag is written first, before anything else is done about a halt (a crash right
  after still leaves the bot halted);
- the halt flag carries a typed cause (models.HaltCause), ranked so a weaker cause never replaces a
  stronger one, and resume decides from that cause, never from the text of a reason;
- every change is one typed event (models.TradingStateChange: previous, current, cause, who, when) in
  the audit stream.

The loss halts are typed: a `daily_loss_limit` halt lifts by itself once a new UTC day (market time) has
begun (`lift_daily_loss`, with an audit event), unless another halt was asked for under or over it, which
then waits for a resume (the flag's `lifts_at_ms`, kept and lifted atomically by the store); a
`weekly_loss_limit` halt waits for a review typed by the operator (`record_review`) and then a resume.

Flattening positions is not here: it is venue work (control.flatten), run by whoever holds the venue.
"""

from __future__ import annotations

import time
from typing import Callable

from clock import Clock
from errors import CommandError
from models import AuditEvent, HaltCause, HaltFlag, TradingState, TradingStateChange
from stores import TradingStateStore

# Returns why a halt of this cause must stay in force, or None when it may be lifted.
StillInForce = Callable[[HaltFlag], "str | None"]

DAY_MS = 86_400_000

# state-hash fields: the last recorded weekly review
REVIEW_MS = "weekly_review_ms"
REVIEW_BY = "weekly_review_by"


def _day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


class TradingStateControl:
    def __init__(self, store: TradingStateStore, clock: Clock):
        self.store = store
        self.clock = clock

    def current(self) -> TradingState:
        return self.store.trading_state()

    def halt(self, cause: HaltCause, by: str, detail: str = "", *, lifts_at_ms: int | None = None) -> HaltFlag:
        """HALTED, durably and at once. Returns the flag in force (a stronger cause already there stays).

        A halt without `lifts_at_ms` waits for a resume, and so does the flag in force after it (the store
        takes a lifting time away in the same atomic call)."""
        previous = self.store.trading_state()
        reason = f"{cause.value} by {by}" + (f": {detail}" if detail else "")
        flag = self.store.set_halt(reason, by, self.clock.now_ms(), cause, lifts_at_ms)
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

    def halt_for_daily_loss(self, by: str, detail: str, day_start_ms: int) -> HaltFlag:
        """HALTED for the day whose start (market ms) is given: it lifts by itself when a later day begins,
        unless a halt that waits for a resume was asked for under or over it."""
        return self.halt(HaltCause.DAILY_LOSS_LIMIT, by, detail, lifts_at_ms=day_start_ms + DAY_MS)

    def lift_daily_loss(self, day_start_ms: int, by: str) -> bool:
        """ACTIVE again when the halt in force lifts by itself by `day_start_ms` (a daily loss halt of an
        earlier UTC day, nobody halted on top of it); one atomic step in the store, so a kill switch landing
        at midnight is never lifted with it. Announced in the audit stream. False (nothing changed) otherwise."""
        flag = self.store.lift_halt(day_start_ms, TradingState.ACTIVE)
        if flag is None:
            return False
        halted_day = (flag.lifts_at_ms or day_start_ms) - DAY_MS
        self._record(TradingState.HALTED, TradingState.ACTIVE, "daily_loss_limit_lifted", by,
                     f"the UTC day {_day(halted_day)} ended; {_day(day_start_ms)} trades again")
        return True

    def record_review(self, by: str, text: str) -> int:
        """The operator's typed review of a weekly loss, stored with its time; a resume may follow."""
        now = self.clock.now_ms()
        self.store.write_state(**{REVIEW_MS: now, REVIEW_BY: by})
        flag = self.store.read_halt()
        self.store.audit(AuditEvent("review", now, f"weekly loss review recorded by {by}: {text}",
                                    {"by": by, "text": text, "halt": flag.reason if flag else ""}))
        return now

    def reviewed_since(self, flag: HaltFlag) -> bool:
        return int(self.store.read_state().get(REVIEW_MS) or 0) >= flag.ts_ms

    def resume(self, by: str, still_in_force: StillInForce | None = None) -> str:
        """Back to ACTIVE; refused (CommandError) while the halt's cause says it must stay."""
        flag = self.store.read_halt()
        previous = self.store.trading_state()
        if flag is not None and still_in_force is not None:
            why = still_in_force(flag)
            if why:
                raise CommandError(f"refused: {why}")
        if not self.store.clear_halt(TradingState.ACTIVE, read=flag, only_if_read=True):
            now = self.store.read_halt()
            if now is None and self.store.clear_halt(TradingState.ACTIVE, read=None, only_if_read=True):
                # it lifted by itself meanwhile (a daily loss halt at midnight): what was asked is done
                self._record(previous, TradingState.ACTIVE, "resume", by, "the halt had lifted by itself")
                return "ACTIVE (the halt had lifted by itself)"
            raise CommandError("refused: another halt was asked for while the resume was decided; it stays in force"
                               f"{f' ({now.cause.value})' if now else ''} (resume again to lift it)")
        cause = flag.cause.value if flag is not None else previous.value.lower()
        self._record(previous, TradingState.ACTIVE, "resume", by, f"lifted {cause} halt" if flag else "")
        return "ACTIVE" + (f" (lifted the {flag.cause.value} halt)" if flag else "")

    def _record(self, previous: TradingState, current: TradingState, cause: str, by: str, detail: str) -> None:
        change = TradingStateChange(previous, current, cause, by, self.clock.now_ms(), detail)
        self.store.audit(change.audit())
