"""Paper executor: real orders on a paper venue through exchange_client.

Positions and trades come from the venue's fills, never from assumptions. Every order is written to
Redis as an intent before it is sent; a timeout is resolved by looking the order up by its client id
before anything is sent again, so no order is ever sent twice. The protective stop and take-profit
rest on the venue as reduce-only orders, so a position stays protected while the bot is down (a
take-profit the rules switch off is not placed: `ExitRules.rests_take_profit`).
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from functools import partial
from typing import Callable

from clock import Clock
from models import EntryPlan, TradeState
from risk.exits import ExitRules, out_of_reach
from control.flatten import FlattenReport, cancel_entry_orders, flatten
from errors import (ExchangeError, NetworkError, OrderRejectedError, RateLimitError, TradingHaltedError,
                    UnknownOrderStatusError)
from exchange_client import ExchangeClient
from executors.base import CloseAllResult, TradeBook, audit_later, exit_reason_of, remember_later
from order_ids import adopted_trade_id, entry_order_id, exit_order_id, stop_order_id, take_profit_order_id
from risk.circuit_breaker import OrderFailureBreaker
from models import (
    AuditEvent,
    Candle,
    ExitReason,
    Fill,
    FundingPayment,
    Mode,
    Order,
    OrderIntent,
    OrderType,
    Portfolio,
    Position,
    Side,
    Trade,
    TradeLedger,
    evolve,
    fill_key,
    from_record,
    funding_key,
    to_record,
)
from stores import EngineStore, Memory

log = logging.getLogger(__name__)

RETRIES = 3
# A protective stop that cannot be placed is retried this many times (with backoff) before the position
# is closed instead: a position is never left without its stop.
PROTECT_TRIES = 4
PROTECT_BACKOFF_S = 0.05
# A single close (exit rule, manual close) keeps trying this long before it reports failure; the next
# candle tries again.
CLOSE_DEADLINE_S = 2.0
WOULD_TRIGGER = -2021  # Binance: the stop price is already through the market
FILLS_REMEMBERED = 50  # fills a trade remembers having booked (a crash re-reads at most one batch)
CLOSED_TRADES = Memory.CLOSED_TRADES  # finished trades not yet written to the trades stream


class PaperExecutor:
    mode = Mode.PAPER

    def __init__(
        self,
        *,
        venue: ExchangeClient,
        store: EngineStore | None,
        rules: ExitRules,
        clock: Clock,
        round_price: Callable[[str, Decimal], Decimal] = lambda symbol, price: price,
        mode: Mode = Mode.PAPER,
        breaker: OrderFailureBreaker | None = None,
    ):
        self.venue = venue
        self.store = store
        self.rules = rules
        self.clock = clock
        self.round_price = round_price
        self.mode = mode
        self.book = TradeBook(store, Memory.OPEN_TRADES)
        self._unreported: list[Trade] = []
        self.breaker = breaker or OrderFailureBreaker(max_consecutive=5)
        # an intent is durable before its order reaches the venue: written at once, or, for a venue whose
        # every change is saved through this store behind the writes queued before it, with the order itself
        # (one round trip per order instead of two)
        saves_in = getattr(venue, "saves_in", None)
        self._intent_with_order = store is not None and callable(saves_in) and bool(saves_in(store))
        checks = getattr(venue, "checks_trading_state_in", None)  # the simulated venue in this Redis
        self.checks_trading_state_with_entries = store is not None and callable(checks) and bool(checks(store))

    def load(self) -> None:
        self.book.load()
        self._recover_closed_trades()

    # ---------------------------------------------------------------------------------- orders

    def _send(self, intent: OrderIntent) -> Order:
        """Send once; on a timeout look the order up by client id; retry only what never arrived.

        Every outcome feeds the circuit breaker: a definite answer resets it, a rejection or an outcome
        still unknown after the retries counts as one failure."""
        if self.store is not None:
            self.store.save_intent(intent, "pending", queued=self._intent_with_order)
        last_error: Exception | None = None
        for attempt in range(RETRIES):
            try:
                order = self.venue.submit(intent)
                status = order.status.value
                self._mark(intent, status)
                self.breaker.success()
                self._audit_order(intent, status)
                return order
            except RateLimitError as exc:
                last_error = exc
                time.sleep(0.05 * (attempt + 1))
            except (UnknownOrderStatusError, NetworkError) as exc:
                last_error = exc
                found = self._lookup(intent)
                if found is not None:
                    self._mark(intent, found.status.value)
                    self.breaker.success()
                    self._audit_order(intent, found.status.value)
                    return found
                # not at the venue: it never arrived, so sending it again (same client id) is safe
            except OrderRejectedError as exc:
                self._mark(intent, "rejected")
                self.breaker.failure(f"{intent.client_order_id} rejected: {exc}")
                raise
            except TradingHaltedError:
                self._mark(intent, "rejected")  # never placed; the bot's halt, not the venue's failure
                raise
        self._mark(intent, "unknown")
        self.breaker.failure(f"{intent.client_order_id} unknown: {last_error}")
        raise UnknownOrderStatusError(f"order {intent.client_order_id} status unknown after {RETRIES} tries: {last_error}")

    def _lookup(self, intent: OrderIntent) -> Order | None:
        for _ in range(RETRIES):
            try:
                return self.venue.fetch_order(intent.symbol, intent.client_order_id)
            except (NetworkError, RateLimitError):
                time.sleep(0.02)
        return None

    def _mark(self, intent: OrderIntent, status: str) -> None:
        if self.store is not None:
            if status in ("filled", "canceled", "rejected", "expired"):
                self.store.delete_intent(intent.client_order_id)
            else:
                self.store.mark_intent(intent.client_order_id, status)

    def _audit_order(self, intent: OrderIntent, status: str) -> None:
        """Every order sent, in the audit stream (and so in the journal) with what the venue answered."""
        self._audit_later("venue_order", _venue_order_event, intent, status, self.mode)

    def _audit(self, kind: str, message: str, **data) -> None:
        if self.store is not None:
            self.store.audit(AuditEvent(kind, self.clock.now_ms(), message, data))

    def _audit_later(self, kind: str, build: Callable[..., tuple[str, dict]], *args) -> None:
        """`_audit(kind, *build(*args))`; a store that keeps events as objects builds it when read."""
        if self.store is not None:
            audit_later(self.store, kind, self.clock.now_ms(), build, args)

    # ---------------------------------------------------------------------------------- protocol

    def on_candle(self, candle: Candle) -> list[Trade]:
        self.venue.on_candle(candle)
        trades = self._process_fills()
        state = self.book.get(candle.symbol)
        if state is not None:
            trades += self.ensure_protection(state)
        return trades

    def batch(self) -> AbstractContextManager[None]:
        """One tick's candles as one venue update, where the venue can batch (the simulator on Redis)."""
        batch = getattr(self.venue, "batch", None)  # not part of ExchangeClient: a real venue has no save
        return batch() if batch is not None else nullcontext()

    def submit(self, plan: EntryPlan) -> Order:
        now = self.clock.now_ms()
        entry = OrderIntent(
            client_order_id=entry_order_id(plan.trade_id),
            symbol=plan.symbol,
            side=plan.side.entry_order_side,
            qty=plan.qty,
            order_type=OrderType.MARKET,
            reason=plan.reason[:120],
            created_ms=now,
        )
        # Entry ids are deterministic per signal candle and the venue answers a known id with the order it
        # already holds: a second entry in one candle (a manual open after a close, a re-processed candle)
        # would come back "filled" and be booked as a trade the venue does not hold. Refused instead.
        if self.venue.fetch_order(plan.symbol, entry.client_order_id) is not None:
            raise OrderRejectedError(
                f"{plan.symbol}: entry {entry.client_order_id} was already sent in this candle; one entry per "
                "symbol, side and candle: try again on the next candle")
        # Remembered before it is sent: a crash right after the fill still finds its trade on restart.
        planned = self.rules.open(plan.symbol, plan.side, plan.qty, plan.price, now, plan.stop, plan.strategy, plan.trade_id)
        if plan.take_profit and plan.take_profit != planned.take_profit:
            planned = evolve(planned, take_profit=plan.take_profit)
        self.book.put(planned, TradeLedger())
        try:
            order = self._send(entry)
        except (OrderRejectedError, TradingHaltedError):
            self.book.pop(plan.symbol)
            raise
        if order.filled_qty <= 0:
            self.book.pop(plan.symbol)
            return order
        state = self.rules.open(
            plan.symbol, plan.side, order.filled_qty, order.avg_fill_price or plan.price, now, plan.stop, plan.strategy, plan.trade_id
        )
        if plan.take_profit and plan.take_profit != state.take_profit:
            state = evolve(state, take_profit=plan.take_profit)
        self.book.put(state)
        self._unreported.extend(self._process_fills())
        if self.book.get(plan.symbol) is not None:
            self._unreported.extend(self._place_protection(state))
        return order

    def _protective_intent(self, state: TradeState, client_order_id: str, order_type: OrderType, price: Decimal,
                           qty: Decimal | None = None) -> OrderIntent:
        return OrderIntent(
            client_order_id=client_order_id,
            symbol=state.symbol,
            side=state.side.exit_order_side,
            qty=qty if qty is not None else state.qty,
            order_type=order_type,
            stop_price=self.round_price(state.symbol, price),
            reduce_only=True,
            created_ms=self.clock.now_ms(),
        )

    def _place_stop(self, state: TradeState, generation: int, qty: Decimal | None = None) -> bool:
        """The reduce-only stop, retried with backoff; False when it cannot be placed (or would trigger at once)."""
        intent = self._protective_intent(state, stop_order_id(state.trade_id, generation), OrderType.STOP_MARKET, state.stop, qty)
        for attempt in range(PROTECT_TRIES):
            try:
                self._send(intent)
                return True
            except OrderRejectedError as exc:
                self._audit("error", f"{state.symbol}: protective stop {intent.client_order_id} refused: {exc}",
                            trade_id=state.trade_id)
                if exc.code == WOULD_TRIGGER:
                    return False  # the market is already through the stop: no point in asking again
            except ExchangeError as exc:
                self._audit("error", f"{state.symbol}: protective stop {intent.client_order_id} not placed: {exc}",
                            trade_id=state.trade_id)
            time.sleep(PROTECT_BACKOFF_S * 2**attempt)
        return False

    def _place_protection(self, state: TradeState, generation: int = 0) -> list[Trade]:
        """Stop first (a position is never without it), then the take-profit if the rules have one; a stop
        that cannot be placed closes the position. Returns the trades that closed."""
        if not self._place_stop(state, generation):
            return self._close_unprotected(state)
        if not self.rules.rests_take_profit:
            return []
        failed = self._place_take_profit(state)
        if failed is not None:  # the stop protects it; ensure_protection tries again next candle
            self._audit("error", f"{state.symbol}: take-profit not placed: {failed}", trade_id=state.trade_id)
        return []

    def _place_take_profit(self, state: TradeState, qty: Decimal | None = None) -> ExchangeError | None:
        """The reduce-only take-profit, sent once; the venue's error when it was not placed."""
        intent = self._protective_intent(state, take_profit_order_id(state.trade_id), OrderType.TAKE_PROFIT_MARKET,
                                         state.take_profit, qty)
        try:
            self._send(intent)
        except ExchangeError as exc:
            return exc
        return None

    def _close_unprotected(self, state: TradeState) -> list[Trade]:
        self._audit("error", f"{state.symbol}: no protective stop could be placed; closing the position at market",
                    trade_id=state.trade_id)
        try:
            trade = self.close(state.symbol, ExitReason.EMERGENCY)
        except ExchangeError as exc:
            self._audit("error", f"{state.symbol}: unprotected position not closed yet ({exc}); next candle tries again",
                        trade_id=state.trade_id)
            return []
        return [trade] if trade is not None else []

    def ensure_protection(self, state: TradeState) -> list[Trade]:
        """The invariant, checked on every candle and after a restart: a position the venue holds has its
        reduce-only stop resting for its whole quantity. A missing one is placed again; one that cannot be
        placed closes the position. A missing take-profit is placed again too, unless the rules switch it
        off (then none is normal). Returns the trades that closed."""
        try:
            position = next((p for p in self.venue.positions() if p.symbol == state.symbol), None)
            if position is None:
                self._forget_if_never_placed(state)
                return []
            orders = self.venue.open_orders(state.symbol)
        except ExchangeError as exc:
            self._audit("error", f"{state.symbol}: protection not checked: {exc}", trade_id=state.trade_id)
            return []
        # one pass over the symbol's orders (this runs on every candle of an open trade)
        stops, covered, take_profits = [], Decimal("0"), []
        for o in orders:
            if o.order_type is OrderType.STOP_MARKET:
                if o.reduce_only:
                    stops.append(o)
                    covered += o.qty - o.filled_qty
            elif o.order_type is OrderType.TAKE_PROFIT_MARKET:
                take_profits.append(o)
        has_take_profit = bool(take_profits)
        if take_profits and not self.rules.rests_take_profit:
            self._cancel_switched_off_take_profits(state, take_profits)
        if covered < position.qty:
            ledger = self.book.ledger(state.symbol)
            generation = ledger.stop_gen + 1
            self.book.put(state, evolve(ledger, stop_gen=generation))
            self._audit("reconcile", f"{state.symbol}: position {position.qty} had no protective stop resting for it; "
                        "placing it again", trade_id=state.trade_id)
            if not self._place_stop(state, generation, qty=position.qty):
                return self._close_unprotected(state)
            for old in stops:  # the new stop covers it all: the partial ones go
                try:
                    self.venue.cancel(old.symbol, old.client_order_id)
                except ExchangeError:
                    pass
        if state.take_profit and not has_take_profit and self.rules.rests_take_profit and self._reachable(state):
            self._place_take_profit(state, position.qty)  # failed: the stop protects it; tried again next candle
        return []

    @staticmethod
    def _reachable(state: TradeState) -> bool:
        """A trade opened with the take-profit switched off remembers one out of reach (a thousand times the
        entry): switched on since, that is no take-profit to place (it protects nothing, and a real venue's
        price filter may refuse it on every candle)."""
        # anything past half of it is no market move; the margin because the remembered one was set from the
        # plan's price, and the fill's may differ by the slippage
        if state.side is Side.LONG:
            return state.take_profit < out_of_reach(state.entry_price, above=True) / 2
        return state.take_profit > out_of_reach(state.entry_price, above=False) * 2

    def _cancel_switched_off_take_profits(self, state: TradeState, orders: list[Order]) -> None:
        """A take-profit placed by a run that had it on, for a trade still open after a restart with it off:
        the rules now say none rests, so it goes (it would still take profit there)."""
        for order in orders:
            try:
                self.venue.cancel(order.symbol, order.client_order_id)
            except ExchangeError as exc:
                self._audit("error", f"{state.symbol}: take-profit {order.client_order_id} not cancelled ({exc}); "
                            "tried again next candle", trade_id=state.trade_id)
                continue
            self._audit("reconcile", f"{state.symbol}: take-profit {order.client_order_id} cancelled: the rules switch "
                        "the take-profit off now (exits.take_profit_enabled)", trade_id=state.trade_id)

    def _forget_if_never_placed(self, state: TradeState) -> None:
        """A remembered trade with no position at the venue, no fill booked and an entry order the venue does
        not know: its entry never reached the venue. It is remembered before it is sent (a crash right after
        the fill still finds it), so a store error around the send (the simulated venue's save failed) left
        it behind, and it held the symbol for good. Forgotten, as a restart's reconcile forgets it."""
        if self.book.ledger(state.symbol).exited:
            return  # its exit fills are booked: _finish_if_flat records the trade
        try:
            if self.venue.fetch_order(state.symbol, entry_order_id(state.trade_id)) is not None:
                return
        except ExchangeError:
            return  # cannot tell: kept, and asked again next candle
        self.book.pop(state.symbol)
        self._audit("reconcile", f"{state.symbol}: trade {state.trade_id} was remembered but its entry never reached "
                    "the venue; forgotten", trade_id=state.trade_id)

    def move_stop(self, state: TradeState) -> None:
        old = self.book.get(state.symbol)
        ledger = self.book.ledger(state.symbol)
        generation = ledger.stop_gen
        self.book.put(state, evolve(ledger, stop_gen=generation + 1))
        # the new stop goes on before the old one comes off: never a moment unprotected. If it cannot be
        # placed, the old one stays and so does the old stop in memory (keeping the new peak, so the next
        # candle tries again); the caller hears why.
        intent = self._protective_intent(state, stop_order_id(state.trade_id, generation + 1), OrderType.STOP_MARKET,
                                         state.stop)
        try:
            self._send(intent)
        except ExchangeError:
            if old is not None:
                self.book.put(evolve(old, peak_price=state.peak_price), evolve(ledger, stop_gen=generation))
            raise
        if old is not None:
            try:
                self.venue.cancel(state.symbol, stop_order_id(state.trade_id, generation))
            except ExchangeError:
                pass

    def remember(self, state: TradeState) -> None:
        self.book.put(state)

    def cancel(self, symbol: str, client_order_id: str) -> None:
        self.venue.cancel(symbol, client_order_id)

    def cancel_entries(self) -> int:
        return cancel_entry_orders(self.venue, on_error=lambda message: self._audit("error", f"cancel entries: {message}"))

    def close(self, symbol: str, reason: ExitReason) -> Trade | None:
        """Close one position reduce-only at market; done only when the venue says the symbol is flat.

        The resting stop stays on until then (a close in flight is never unprotected). Raises
        ExchangeError when the venue still holds the position after CLOSE_DEADLINE_S."""
        report = self._flatten(reason, CLOSE_DEADLINE_S, only=symbol)
        trades = self._process_fills(default_reason=reason) + self.take_unreported_trades()
        # another symbol's trade can complete in the same fill pass: kept for the engine, never dropped
        self._unreported.extend(t for t in trades if t.symbol != symbol)
        trade = next((t for t in trades if t.symbol == symbol), None)
        if not report.flat:
            if trade is not None:
                self._unreported.append(trade)
            raise ExchangeError(f"{symbol}: close ({reason.value}) not confirmed: {report.summary()}")
        return trade if trade is not None else self._finish_if_flat(symbol, reason)

    def close_all(self, reason: ExitReason, deadline_s: float = 10.0) -> CloseAllResult:
        """The kill switch's venue work (control.flatten): every entry order cancelled, every position closed
        reduce-only symbol by symbol, retried with backoff until the venue's own lists are empty or
        `deadline_s` passes. Every fill is booked as it comes in, so no trade is lost on the way."""
        trades: list[Trade] = []

        def book_fills() -> None:
            # the fills of every close booked at once: one venue write per round, not one per position
            trades.extend(self._process_fills(default_reason=reason))

        report = self._flatten(reason, deadline_s, after_round=book_fills)
        book_fills()
        return CloseAllResult(trades + self.take_unreported_trades(), report.flat, report.summary())

    def _flatten(self, reason: ExitReason, deadline_s: float, *, only: str | None = None,
                 after_round=lambda: None) -> FlattenReport:
        def exit_id(position: Position, round_: int) -> str:
            state = self.book.get(position.symbol)
            if state is None:  # a position nobody remembered: adopted now, with an id of its own
                state = self._adopt(position)
            ledger = self.book.ledger(position.symbol)
            attempt = ledger.exit_attempts
            self.book.put(state, evolve(ledger, exit_attempts=attempt + 1))
            return exit_order_id(state.trade_id, reason, attempt)

        return flatten(
            self.venue, exit_id=exit_id, send=self._send, now_ms=self.clock.now_ms, deadline_s=deadline_s, only=only,
            reason=reason.value, after_round=after_round,
            on_error=lambda message: self._audit("error", f"{reason.value}: {message}"),
        )

    def portfolio(self) -> Portfolio:
        return Portfolio(self.venue.account(), tuple(self.venue.positions()), tuple(self.venue.open_orders()))

    def trade_states(self) -> dict[str, TradeState]:
        return self.book.states()

    def reconcile(self) -> list[str]:
        """The venue is the truth: adopt what it holds, forget what it does not, resolve pending intents."""
        notes: list[str] = []
        trades = self._process_fills()
        for trade in trades:
            notes.append(f"{trade.symbol}: closed while the bot was away ({trade.exit_reason.value}), trade recorded")
        self._unreported.extend(trades)
        positions = {p.symbol: p for p in self.venue.positions()}
        for symbol, state in self.book.states().items():
            position = positions.get(symbol)
            if position is None:
                finished = self._finish_if_flat(symbol, ExitReason.RECONCILED)  # its exit fills were booked: a trade
                if finished is not None:
                    self._unreported.append(finished)
                    notes.append(f"{symbol}: trade {state.trade_id} finished while the bot was away; recorded")
                else:
                    notes.append(f"{symbol}: remembered trade {state.trade_id} is flat at the venue; forgotten")
            elif position.qty != state.qty or position.side is not state.side:
                self.book.put(evolve(state, qty=position.qty, side=position.side))
                notes.append(f"{symbol}: quantity corrected from {state.qty} to the venue's {position.qty}")
        for symbol, position in positions.items():
            if self.book.get(symbol) is None:
                state = self._adopt(position)
                notes.append(f"{symbol}: position at the venue that Redis did not know; adopted as {state.trade_id} "
                             f"with stop {state.stop}")
        # a crash between a fill and its stop, or a stop refused while the bot was away: protected again now
        for state in self.book.states().values():
            self._unreported.extend(self.ensure_protection(state))
        if self.store is not None:
            for intent, status in self.store.read_intents():
                found = self._lookup(intent)
                if found is None:
                    self.store.delete_intent(intent.client_order_id)
                    notes.append(f"intent {intent.client_order_id} never reached the venue; not re-sent")
                else:
                    self._mark(intent, found.status.value)
        return notes

    def _adopt(self, position: Position) -> TradeState:
        """Remember a position the venue holds and we did not: its resting stop if it has one, else 3 %.
        The trade id is new for every adoption, so its exit orders never meet an older adoption's ids
        (a second close answered by an old filled order said "closed" while the position stayed)."""
        symbol = position.symbol
        stop = self._venue_stop(symbol) or position.entry_price * (1 - position.side.sign * Decimal("0.03"))
        state = self.rules.open(symbol, position.side, position.qty, position.entry_price, self.clock.now_ms(),
                                self.round_price(symbol, stop), "adopted", adopted_trade_id(symbol, self.clock.now_ms()))
        self.book.put(state, TradeLedger())
        return state

    def trade_recorded(self, trade: Trade) -> None:
        """The engine wrote the trade row: the executor's durable copy can go."""
        if self.store is not None:
            self.store.forget(CLOSED_TRADES, trade.trade_id)

    def _recover_closed_trades(self) -> None:
        """Trades finished before a crash: reported again unless their row made it to the trades stream."""
        if self.store is None:
            return
        pending = self.store.recall(CLOSED_TRADES)
        if not pending:
            return
        written = {t.trade_id for t in self.store.read_trades(5000)}
        for trade_id, record in pending.items():
            if trade_id in written:
                self.store.forget(CLOSED_TRADES, trade_id)
            else:
                self._unreported.append(from_record(Trade, record))

    def take_unreported_trades(self) -> list[Trade]:
        """Trades completed outside the call that asked (at reconcile, or beside another close)."""
        trades, self._unreported = self._unreported, []
        return trades

    # ---------------------------------------------------------------------------------- fills

    def _venue_stop(self, symbol: str) -> Decimal | None:
        for order in self.venue.open_orders(symbol):
            if order.order_type is OrderType.STOP_MARKET and order.stop_price:
                return order.stop_price
        return None

    def _process_fills(self, default_reason: ExitReason = ExitReason.RECONCILED) -> list[Trade]:
        """Book the venue's fills. They stay queued at the venue until booked (`ack_fills` last), and a
        finished trade is written to the closed-trades hash before its memory goes: a crash anywhere in
        here loses no trade and books no fill twice (each trade remembers the fills it booked).

        Funding goes first: the venue settles it only on a position it still holds, so a payment belongs
        to the trade that is open now, before a fill read beside it can finish that trade."""
        self._book_funding()
        fills = self.venue.pending_fills()
        if not fills:  # most candles: nothing to book, acknowledge or make durable
            return []
        touched: dict[str, ExitReason] = {}
        for fill in fills:
            reason = self._apply_fill(fill)
            if reason is not None:
                touched[fill.symbol] = reason
            self._audit_later("fill", _fill_event, fill, self.mode)
        trades = []
        for symbol, reason in touched.items():
            trade = self._finish_if_flat(symbol, reason or default_reason)
            if trade is not None:
                trades.append(trade)
        self.venue.ack_fills(fills)
        self._durable(fills)
        return trades

    def _book_funding(self) -> None:
        """Each funding payment into the ledger of the trade that held the position, once (by its key)."""
        payments = self.venue.pending_funding()
        if not payments:
            return
        for payment in payments:
            self._apply_funding(payment)
        self.venue.ack_funding(payments)
        self._durable(payments)

    def _durable(self, booked: list) -> None:
        """What was just booked is in the store now, whatever store batch is open: a venue that cannot
        deliver it again (Binance's history is read from this process's start) must not lose it in a crash
        later in the tick. On the simulated venue the acknowledgement already carried it (no round trip)."""
        if booked and self.store is not None:
            self.store.flush()

    def _apply_funding(self, payment: FundingPayment) -> None:
        state = self.book.get(payment.symbol)
        if state is None:  # a position this bot does not hold a trade for (not adopted yet): nobody to charge
            self._audit("reconcile", f"{payment.symbol}: funding {payment.amount} at {payment.ts_ms} paid by a "
                        "position without a trade; not in any trade's P&L")
            return
        ledger = self.book.ledger(payment.symbol)
        key = funding_key(payment)
        if key in ledger.fills:
            return
        self.book.put(state, evolve(ledger, funding=ledger.funding + payment.amount,
                                     fills=(ledger.fills + (key,))[-FILLS_REMEMBERED:]))

    def _apply_fill(self, fill: Fill) -> ExitReason | None:
        """Book a fill against its trade; returns the exit reason when the fill reduced a position."""
        state = self.book.get(fill.symbol)
        if state is None:
            return None
        ledger = self.book.ledger(fill.symbol)
        key = fill_key(fill)
        if key in ledger.fills:  # booked before a crash, read again: never twice, but its trade may still finish
            return None if fill.client_order_id.endswith("-en") else (ledger.exit_reason or ExitReason.RECONCILED)
        fills = (ledger.fills + (key,))[-FILLS_REMEMBERED:]
        if fill.client_order_id.endswith("-en"):
            self.book.put(state, evolve(ledger, entry_fee=ledger.entry_fee + fill.fee,
                                         slippage=ledger.slippage + fill.slippage_cost, fills=fills))
            return None
        reason = exit_reason_of(fill.client_order_id, state) or ExitReason.RECONCILED
        self.book.put(state, evolve(
            ledger, exit_fee=ledger.exit_fee + fill.fee, slippage=ledger.slippage + fill.slippage_cost,
            realized=ledger.realized + fill.realized_pnl, exit_qty=ledger.exit_qty + fill.qty,
            exit_value=ledger.exit_value + fill.qty * fill.price, exit_ms=fill.ts_ms, exit_reason=reason, fills=fills,
        ))
        return reason

    def _finish_if_flat(self, symbol: str, reason: ExitReason) -> Trade | None:
        if any(p.symbol == symbol for p in self.venue.positions()):
            return None
        state, ledger = self.book.get(symbol), self.book.ledger(symbol)
        if state is None or not ledger.exited:
            self.book.pop(symbol)
            return None
        trade = Trade(
            trade_id=state.trade_id,
            symbol=symbol,
            side=state.side,
            qty=state.qty,
            entry_price=state.entry_price,
            exit_price=ledger.exit_price(state.entry_price),
            entry_ms=state.entry_ms,
            exit_ms=max(ledger.exit_ms, state.entry_ms),
            gross_pnl=ledger.realized,
            fees=ledger.fees,
            funding=ledger.funding,
            pnl=ledger.realized - ledger.fees - ledger.funding,
            exit_reason=ledger.exit_reason or reason,
            mode=self.mode,
            strategy=state.strategy,
            slippage=ledger.slippage,
        )
        # durable before its source is discarded: the engine deletes it once the trade row is written
        if self.store is not None:
            if not remember_later(self.store, CLOSED_TRADES, trade.trade_id, partial(to_record, trade)):
                self.store.remember(CLOSED_TRADES, trade.trade_id, to_record(trade))
        self.book.pop(symbol)
        return trade



# The executor's audit lines for every order and fill (`PaperExecutor._audit_later`): (message, data).


def _venue_order_event(intent: OrderIntent, status: str, mode: Mode) -> tuple[str, dict]:
    price = intent.price if intent.price is not None else intent.stop_price
    side, order_type = intent.side.value, intent.order_type.value
    return (f"{intent.symbol} {side} {order_type} {intent.qty}" + (f" @ {price}" if price is not None else "")
            + f" ({intent.reason or 'order'}) → {status}",
            {"symbol": intent.symbol, "client_order_id": intent.client_order_id, "side": side,
             "order_type": order_type, "qty": str(intent.qty), "price": str(price or ""),
             "reduce_only": intent.reduce_only, "status": status, "mode": mode.value})


def _fill_event(fill: Fill, mode: Mode) -> tuple[str, dict]:
    # keyed by the fill (journal/sync.py): read again after a crash, it is still one journal row
    return (f"{fill.symbol} {fill.side.value} {fill.qty} @ {fill.price} fee {fill.fee} ({fill.client_order_id})",
            {"symbol": fill.symbol, "client_order_id": fill.client_order_id, "side": fill.side.value,
             "qty": str(fill.qty), "price": str(fill.price), "fee": str(fill.fee), "fill_key": fill_key(fill),
             "mode": mode.value})
