"""What the bot does for each command it owns (DESIGN.md's command table).

halt       the durable halt flag is written first, then open entry orders are cancelled
resume     back to ACTIVE; refused while a loss-limit halt is in force
close-all  HALTED first, then every order cancelled and every position closed reduce-only; flat confirmed
close      one position closed reduce-only
open       a manual entry that passes the same risk gate as any signal; refused on a symbol with a position
stop       graceful stop: entry orders cancelled, state persisted, run summary written; positions stay
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Callable

from clock import Clock
from engine.engine import TradingEngine
from errors import CommandError, HandOverError, StateStoreError
from models import Command, CommandType, Denial, ExitReason, HaltCause, Side, TradingState
from models import HaltFlag
from stores import EngineStore

log = logging.getLogger(__name__)

# a kill switch interrupted by Redis trouble tries again after 0.1 s, 0.2 s … at most 2 s apart
REDIS_RETRY_FIRST_S = 0.1
REDIS_RETRY_CAP_S = 2.0
ALONE_RETRY_S = 1.0  # between kill-switch rounds of a bot no supervisor watches (each round retries inside)


class BotCommandHandlers:
    def __init__(self, engine: TradingEngine, store: EngineStore, clock: Clock, request_stop: Callable[[str], None],
                 *, kill_switch_seconds: float = 5.0, supervisor_timeout_s: float = 10.0):
        self.kill_switch_seconds = kill_switch_seconds
        self.supervisor_timeout_s = supervisor_timeout_s
        self.engine = engine
        self.store = store
        self.clock = clock
        self.request_stop = request_stop

    def table(self) -> dict[CommandType, Callable[[Command], str]]:
        return {
            CommandType.HALT: self.halt,
            CommandType.RESUME: self.resume,
            CommandType.CLOSE_ALL: self.close_all,
            CommandType.CLOSE: self.close,
            CommandType.OPEN: self.open,
            CommandType.STOP: self.stop,
        }

    def halt(self, command: Command) -> str:
        self.engine.trading.halt(HaltCause.OPERATOR, command.issued_by)
        with self.engine.lock:
            cancelled = self.engine.executor.cancel_entries()
        return f"HALTED; {cancelled} entry order(s) cancelled; exits still run"

    def resume(self, command: Command) -> str:
        detail = self.engine.trading.resume(command.issued_by, self._halt_still_in_force)
        self.engine.breaker.reset()
        return detail

    def _halt_still_in_force(self, flag: HaltFlag) -> str | None:
        if flag.cause is HaltCause.WEEKLY_LOSS_LIMIT and not self.engine.trading.reviewed_since(flag):
            return f"the weekly loss limit needs a recorded review first (main.py review) ({flag.reason})"
        if flag.cause in (HaltCause.LOSS_LIMIT, HaltCause.DAILY_LOSS_LIMIT, HaltCause.WEEKLY_LOSS_LIMIT):
            report = self.engine.publish()
            if report.get("recommendation") == TradingState.HALTED.value:
                return f"the loss limit is still in force ({flag.reason})"
        return None

    def close_all(self, command: Command) -> str:
        wait_s = REDIS_RETRY_FIRST_S
        rounds = 0
        while True:
            try:
                self.engine.trading.halt(HaltCause.KILL_SWITCH, command.issued_by)
                result = self.engine.close_all(ExitReason.KILL_SWITCH, self.kill_switch_seconds)
                if result.flat or self._supervisor_watching():
                    break
                # Run alone (main.py bot), a hand-over went to nobody and the position stayed open after the
                # venue's outage ended: with no supervisor the bot itself goes on until the venue says flat.
                rounds += 1
                if rounds == 1:
                    self.engine.audit("command", f"kill switch not flat after {self.kill_switch_seconds:g}s "
                                                 f"({result.detail}); no supervisor watches this bot: it tries again "
                                                 "until the venue confirms flat")
                time.sleep(ALONE_RETRY_S)
                wait_s = REDIS_RETRY_FIRST_S
            except StateStoreError as exc:
                # Redis failed mid-way (frozen, restarting): a close may have been sent, its intent not marked.
                # A kill switch is never abandoned for it (reported "failed" to a Redis that could not take
                # the word, it had no outcome and nobody went on): once Redis answers it starts over. Halting
                # again and flattening what the venue still holds sends nothing twice: the venue's own
                # positions decide, and a close that filled meanwhile is booked from its fill.
                log.warning("kill switch: Redis trouble (%s); starting over in %.1fs", exc, wait_s)
                time.sleep(wait_s)
                wait_s = min(wait_s * 2, REDIS_RETRY_CAP_S)
        if not result.flat:
            # the supervisor carries on with the venue (it does not share this process's fate)
            raise HandOverError(f"HALTED; {result.detail}; handing over to the supervisor")
        self.engine.publish()
        return f"HALTED; {result.detail}: {len(result.trades)} position(s) closed, 0 orders open"

    def _supervisor_watching(self) -> bool:
        """A supervisor of this bot is up: its pid is written and its heartbeat is recent."""
        state = self.store.read_state()
        try:
            beat_ms = int(state.get("supervisor_heartbeat_ms") or 0)
        except ValueError:
            return False
        return bool(state.get("supervisor_pid")) and self.clock.now_ms() - beat_ms <= self.supervisor_timeout_s * 1000

    def close(self, command: Command) -> str:
        symbol = command.args["symbol"]
        if symbol not in self.engine.executor.trade_states() and not any(
            p.symbol == symbol for p in self.engine.executor.portfolio().positions
        ):
            raise CommandError(f"no open position in {symbol}")
        trades = self.engine.close(symbol, ExitReason.MANUAL)
        self.engine.publish()
        pnl = f"; P&L {trades[0].pnl:.4f}" if trades else ""
        return f"{symbol} closed{pnl}"

    def open(self, command: Command) -> str:
        symbol = command.args["symbol"]
        side = Side(command.args["side"])
        notional = Decimal(str(command.args["notional"]))
        signal = self.engine.manual_signal(symbol, side, notional)
        if isinstance(signal, Denial):
            raise CommandError(f"{signal.reason_code}: {signal.detail}")
        with self.engine.lock:
            held = self._position_held(symbol)
            if held is not None:
                raise CommandError(f"position_open: {held}; close it first (close {symbol})")
            outcome = self.engine.try_entry(signal, self.engine.windows[symbol].candles(), notional=notional)
        if isinstance(outcome, Denial):
            raise CommandError(f"{outcome.reason_code}: {outcome.detail}")
        self.engine.publish()
        return f"opened {side.value} {symbol} for about {notional} USDT"

    def _position_held(self, symbol: str) -> str | None:
        """What is already open on the symbol, by the executor's book or the venue. One-way mode nets an
        order against the position it meets: an open of the other side used to shrink the held position
        and was booked as a new trade the venue did not hold; the same side would double it unplanned."""
        state = self.engine.executor.trade_states().get(symbol)
        position = next((p for p in self.engine.executor.portfolio().positions if p.symbol == symbol), None)
        if position is not None:
            return f"{symbol} already has a {position.side.value} position of {position.qty} at the venue"
        if state is not None:
            return f"{symbol} already has an open {state.side.value} trade {state.trade_id} of {state.qty}"
        return None

    def stop(self, command: Command) -> str:
        self.request_stop(f"stop command from {command.issued_by}")
        return "stopping: entry orders cancelled, state persisted; open positions stay"

