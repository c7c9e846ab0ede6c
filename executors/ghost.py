"""Ghost executor: no orders anywhere. Every entry becomes a hypothetical trade that runs through the
same exit rules, at the same prices, fees, slippage and funding as the paper venue would give it, so
ghost results predict paper results (with zero costs they are identical). Funding is settled as the
simulator settles it: at every funding time a candle's close passes, after that candle's stops and
take-profits, qty × the close × the rate (longs pay when it is positive), into the trade that held it.

A ghost trade belongs to the market data feed it was opened on (`feed`: binance, a replay's files, a
synthetic seed): its prices mean nothing on another feed. A bot started on the same Redis with another
feed keeps the other feed's open trades aside (`Memory.GHOST_PARKED`), untouched by this feed's candles,
and takes them up again when it runs on their feed; before, the first replay candle closed them at the
replay's prices (−124.85, held 0 s).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from decimal import Decimal

from clock import Clock
from executors.base import CloseAllResult, TradeBook, trade_state_from_json, trade_state_to_json
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
from simulator.funding import funding_times_between
from simulator.pricing import money
from stores import EngineStore, Memory

LEDGER_ID = "_ledger"


def parked_id(feed: str, symbol: str) -> str:
    return f"{feed}|{symbol}"


class GhostExecutor:
    mode = Mode.GHOST
    checks_trading_state_with_entries = False

    def __init__(
        self,
        *,
        store: EngineStore | None,
        rules: ExitRules,
        prices: PriceModel,
        clock: Clock,
        starting_balance: Decimal,
        leverage: int,
        feed: str = "",
    ):
        self.store = store
        self.feed = feed
        self.rules = rules
        self.prices = prices
        self.clock = clock
        self.leverage = leverage
        self.book = TradeBook(store, Memory.GHOST_TRADES)
        self.starting_balance = starting_balance
        self.realized = ZERO  # gross, before fees
        self.fees = ZERO
        self.funding = ZERO  # net paid (negative: received)
        self.closes: dict[str, int] = {}  # per symbol, the last candle's close time: funding times after it are due
        self.marks: dict[str, Decimal] = {}
        self.volumes: dict[str, Decimal] = {}
        self.ranges: dict[str, tuple[Decimal, Decimal]] = {}  # the last candle's (low, high), as the venue keeps it
        self._notes: list[str] = []  # what load() did with trades of another feed, reported by reconcile()

    # ---------------------------------------------------------------------------------- memory

    def load(self) -> None:
        self.book.load()
        if self.store is not None:
            ledger = self.store.recall(Memory.GHOST_LEDGER).get(LEDGER_ID)
            if ledger:
                self.realized = Decimal(ledger["realized"])
                self.fees = Decimal(ledger["fees"])
                self.marks = {k: Decimal(v) for k, v in ledger.get("marks", {}).items()}
                self.funding = Decimal(ledger.get("funding", "0"))
                self.closes = {k: int(v) for k, v in ledger.get("closes", {}).items()}
            previous_feed = (ledger or {}).get("feed", "")
            if self.feed and previous_feed and previous_feed != self.feed:
                self._park(previous_feed)
                self.closes = {}  # another market's times: funding starts again from this feed's next candle
            self._unpark()
            if self._notes:
                self._save_ledger()

    def _park(self, feed: str) -> None:
        """The open trades of `feed` go aside: this feed's candles must not price them."""
        assert self.store is not None
        for symbol, state in self.book.states().items():
            ledger = self.book.ledger(symbol)
            mark = self.marks.pop(symbol, state.entry_price)
            self.store.remember(Memory.GHOST_PARKED, parked_id(feed, symbol), {
                "state": trade_state_to_json(state), "extra": ledger.to_json(), "mark": str(mark), "feed": feed})
            self.book.pop(symbol)
            self._notes.append(
                f"ghost {state.side.value} {state.qty} {symbol} (trade {state.trade_id}) was opened on the feed "
                f"'{feed}'; kept aside, unpriced, while the bot runs on '{self.feed}'")

    def _unpark(self) -> None:
        """This feed's trades kept aside by an earlier run on another feed come back."""
        assert self.store is not None
        for item_id, raw in self.store.recall(Memory.GHOST_PARKED).items():
            if raw.get("feed") != self.feed:
                continue
            state = trade_state_from_json(raw["state"])
            if self.book.get(state.symbol) is not None:
                continue  # a trade of this feed holds the symbol: the parked one waits
            self.book.put(state, TradeLedger.from_json(raw.get("extra", {})))
            self.marks[state.symbol] = Decimal(raw.get("mark") or state.entry_price)
            self.store.forget(Memory.GHOST_PARKED, item_id)
            self._notes.append(f"ghost {state.side.value} {state.qty} {state.symbol} (trade {state.trade_id}) taken up "
                               f"again on its feed '{self.feed}'")

    def _save_ledger(self) -> None:
        if self.store is not None:
            self.store.remember(
                Memory.GHOST_LEDGER,
                LEDGER_ID,
                {"realized": str(self.realized), "fees": str(self.fees), "marks": {k: str(v) for k, v in self.marks.items()},
                 "feed": self.feed, "funding": str(self.funding), "closes": dict(self.closes)},
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
        self._settle_funding(candle)
        return trades

    def _settle_funding(self, candle: Candle) -> None:
        close_ms = close_time_ms(candle)
        previous = self.closes.get(candle.symbol)
        if previous is not None and close_ms <= previous:
            return  # an older candle changes nothing, as at the venue
        self.closes[candle.symbol] = close_ms
        state = self.book.get(candle.symbol)
        if state is None or previous is None:
            return
        config = self.prices.config
        times = funding_times_between(max(previous, state.entry_ms), close_ms, config.funding_interval_hours)
        if not times:
            return
        payment = ZERO
        for _ in times:
            payment += money(state.side.sign * state.qty * candle.close * config.funding_rate)
        ledger = self.book.ledger(candle.symbol)
        self.book.put(state, replace(ledger, funding=ledger.funding + payment))
        self.funding += payment
        self._save_ledger()

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
        wallet = self.starting_balance + self.realized - self.fees - self.funding
        account = Account(wallet, unrealized, margin, wallet - margin, self.clock.now_ms())
        return Portfolio(account, tuple(positions), ())

    def trade_states(self) -> dict[str, TradeState]:
        return self.book.states()

    def trade_recorded(self, trade: Trade) -> None:
        """Ghost trades are booked in the ghost ledger as they close: nothing to release."""

    def take_unreported_trades(self) -> list[Trade]:
        return []  # every ghost exit is returned by the call that made it

    def reconcile(self) -> list[str]:
        """Ghost trades have no venue (Redis is their truth): only what load() did about another feed's."""
        notes, self._notes = self._notes, []
        return notes

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
            funding=ledger.funding,
            pnl=gross - entry_fee - exit_fee - ledger.funding,
            exit_reason=reason,
            mode=Mode.GHOST,
            strategy=state.strategy,
            slippage=ledger.slippage + slippage,
        )


def _with_take_profit(state: TradeState, take_profit: Decimal) -> TradeState:
    from dataclasses import replace

    return replace(state, take_profit=take_profit) if take_profit and take_profit != state.take_profit else state

