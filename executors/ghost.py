"""Ghost executor: no orders anywhere. Every entry becomes a hypothetical trade that runs through the
same exit rules, at the same prices, fees and slippage as the paper venue would give it, so ghost
results predict paper results (with zero fees and slippage they are identical).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal

from clock import Clock
from executors.base import CloseAllResult, TradeBook
from models import EntryPlan, TradeLedger, TradeState, close_time_ms
from risk.exits import ExitRules
from exchange_client import PriceModel
from models import (
    ZERO,
    Account,
    Candle,
    ExitReason,
    Mode,
    Order,
    OrderStatus,
    OrderType,
    Portfolio,
    Position,
    Trade,
)
from stores import EngineStore, Memory

LEDGER_ID = "_ledger"


class GhostExecutor:
    mode = Mode.GHOST

    def __init__(
        self,
        *,
        store: EngineStore | None,
        rules: ExitRules,
        prices: PriceModel,
        clock: Clock,
        starting_balance: Decimal,
        leverage: int,
    ):
        self.store = store
        self.rules = rules
        self.prices = prices
        self.clock = clock
        self.leverage = leverage
        self.book = TradeBook(store, Memory.GHOST_TRADES)
        self.starting_balance = starting_balance
        self.realized = ZERO  # gross, before fees
        self.fees = ZERO
        self.marks: dict[str, Decimal] = {}
        self.volumes: dict[str, Decimal] = {}
        self.ranges: dict[str, tuple[Decimal, Decimal]] = {}  # the last candle's (low, high), as the venue keeps it

    # ---------------------------------------------------------------------------------- memory

    def load(self) -> None:
        self.book.load()
        if self.store is not None:
            ledger = self.store.recall(Memory.GHOST_LEDGER).get(LEDGER_ID)
            if ledger:
                self.realized = Decimal(ledger["realized"])
                self.fees = Decimal(ledger["fees"])
                self.marks = {k: Decimal(v) for k, v in ledger.get("marks", {}).items()}

    def _save_ledger(self) -> None:
        if self.store is not None:
            self.store.remember(
                Memory.GHOST_LEDGER,
                LEDGER_ID,
                {"realized": str(self.realized), "fees": str(self.fees), "marks": {k: str(v) for k, v in self.marks.items()}},
            )

    # ---------------------------------------------------------------------------------- protocol

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()  # nothing to save per tick: the ghost book is written as it changes

    def on_candle(self, candle: Candle) -> list[Trade]:
        self.volumes[candle.symbol] = candle.volume
        trades = []
        state = self.book.get(candle.symbol)
        if state is not None:
            decision = self.rules.price_exit(state, candle)
            if decision is not None and decision.trigger is not None:
                # a resting stop / take-profit is a market order once triggered: slipped from where the
                # market was, in this candle's range, exactly as the venue fills it
                fill = self.prices.trigger_fill(state.symbol, state.side.exit_order_side, state.qty, decision.trigger,
                                                decision.price, candle)
                trades.append(self._exit(state, decision.price, decision.reason, close_time_ms(candle), fill=fill))
        self.marks[candle.symbol] = candle.close
        self.ranges[candle.symbol] = (candle.low, candle.high)
        return trades

    def submit(self, plan: EntryPlan) -> Order:
        side = plan.side.entry_order_side
        fill_price, slippage = self.prices.market_fill(plan.symbol, side, plan.qty, plan.price, self.volumes.get(plan.symbol),
                                                       self.ranges.get(plan.symbol), reduce_only=False)
        fee = self.prices.taker_fee(plan.qty, fill_price)
        now = self.clock.now_ms()
        self.fees += fee
        state = self.rules.open(plan.symbol, plan.side, plan.qty, fill_price, now, plan.stop, plan.strategy, plan.trade_id)
        state = _with_take_profit(state, plan.take_profit)
        self.book.put(state, TradeLedger(entry_fee=fee, slippage=slippage))
        self.marks.setdefault(plan.symbol, plan.price)
        self._save_ledger()
        return Order(
            client_order_id=f"{plan.trade_id}-en",
            symbol=plan.symbol,
            side=side,
            order_type=OrderType.MARKET,
            qty=plan.qty,
            status=OrderStatus.FILLED,
            filled_qty=plan.qty,
            avg_fill_price=fill_price,
            fee_paid=fee,
            created_ms=now,
            updated_ms=now,
        )

    def move_stop(self, state: TradeState) -> None:
        self.book.put(state)

    def remember(self, state: TradeState) -> None:
        self.book.put(state)

    def cancel(self, symbol: str, client_order_id: str) -> None:
        return None

    def cancel_entries(self) -> int:
        return 0

    def close(self, symbol: str, reason: ExitReason) -> Trade | None:
        state = self.book.get(symbol)
        if state is None:
            return None
        return self._exit(state, self.marks.get(symbol, state.entry_price), reason, self.clock.now_ms())

    def close_all(self, reason: ExitReason, deadline_s: float = 10.0) -> CloseAllResult:
        """Ghost positions are hypothetical: closing them at the last price cannot fail."""
        trades = [t for t in (self.close(s, reason) for s in list(self.book.states())) if t is not None]
        return CloseAllResult(trades, True, f"{len(trades)} ghost position(s) closed")

    def portfolio(self) -> Portfolio:
        positions = []
        unrealized = ZERO
        margin = ZERO
        for state in self.book.states().values():
            mark = self.marks.get(state.symbol, state.entry_price)
            upnl = state.side.sign * (mark - state.entry_price) * state.qty
            unrealized += upnl
            margin += state.qty * state.entry_price / self.leverage
            positions.append(
                Position(
                    symbol=state.symbol,
                    side=state.side,
                    qty=state.qty,
                    entry_price=state.entry_price,
                    leverage=self.leverage,
                    mark_price=mark,
                    unrealized_pnl=upnl,
                    isolated_margin=state.qty * state.entry_price / self.leverage,
                    opened_ms=state.entry_ms,
                )
            )
        wallet = self.starting_balance + self.realized - self.fees
        account = Account(wallet, unrealized, margin, wallet - margin, self.clock.now_ms())
        return Portfolio(account, tuple(positions), ())

    def trade_states(self) -> dict[str, TradeState]:
        return self.book.states()

    def trade_recorded(self, trade: Trade) -> None:
        """Ghost trades are booked in the ghost ledger as they close: nothing to release."""

    def take_unreported_trades(self) -> list[Trade]:
        return []  # every ghost exit is returned by the call that made it

    def reconcile(self) -> list[str]:
        return []  # ghost trades have no venue: Redis is their truth

    # ---------------------------------------------------------------------------------- internals

    def _exit(self, state: TradeState, price: Decimal, reason: ExitReason, ts_ms: int, *,
              fill: tuple[Decimal, Decimal] | None = None) -> Trade:
        """Exit as the venue would: a market order slips from `price`; a triggered order brings its `fill`."""
        _, ledger = self.book.pop(state.symbol)
        side = state.side.exit_order_side
        if fill is None:
            fill = self.prices.market_fill(state.symbol, side, state.qty, price, self.volumes.get(state.symbol),
                                           self.ranges.get(state.symbol))
        fill_price, slippage = fill
        exit_fee = self.prices.taker_fee(state.qty, fill_price)
        entry_fee = ledger.entry_fee
        gross = state.side.sign * (fill_price - state.entry_price) * state.qty
        self.realized += gross
        self.fees += exit_fee
        self._save_ledger()
        return Trade(
            trade_id=state.trade_id,
            symbol=state.symbol,
            side=state.side,
            qty=state.qty,
            entry_price=state.entry_price,
            exit_price=fill_price,
            entry_ms=state.entry_ms,
            exit_ms=max(ts_ms, state.entry_ms),
            gross_pnl=gross,
            fees=entry_fee + exit_fee,
            pnl=gross - entry_fee - exit_fee,
            exit_reason=reason,
            mode=Mode.GHOST,
            strategy=state.strategy,
            slippage=ledger.slippage + slippage,
        )


def _with_take_profit(state: TradeState, take_profit: Decimal) -> TradeState:
    from dataclasses import replace

    return replace(state, take_profit=take_profit) if take_profit and take_profit != state.take_profit else state

