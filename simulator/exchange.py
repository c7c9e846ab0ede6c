"""A simulated Binance USDⓈ-M futures exchange: one account, one-way positions, candle-driven matching.

Why a simulator and not just a fill-at-close paper ledger: paper trading should fail the way Binance fails
(tick/step/notional rejections, reduce-only rules, insufficient margin), fill the way candles allow
(stops gap, limits need the price to trade through them, big orders fill partially), and cost what Binance
charges (maker/taker fees, slippage, funding every 8 h, liquidation at Binance's liquidation price).

Everything is in memory and in `Decimal`; `snapshot()`/`restore()` make it persistable (exchange_client
keeps it in Redis). The clock is injected. The book never changes when an order is rejected: every check
runs before the first mutation.

Per candle (`on_candle`), in this order:
1. resting orders trigger against the candle's open/high/low: stops first (when a stop and a take-profit
   could both trigger in one candle, the stop wins — the conservative assumption), then take-profits, then
   limit orders (which fill at most `max_participation` of the candle's volume). A triggered stop or
   take-profit is a market order: it fills at the worse of its trigger and the open (a candle that opens
   beyond the trigger fills at the open), moved by the slippage model against the trader (with this
   candle's volume), within the candle's range by `simulator.pricing.taker_price`;
2. the mark price becomes the close;
3. positions whose liquidation price the mark crossed are liquidated at that price;
4. funding is settled for every funding time between the previous candle's close and this one's.
"""

from __future__ import annotations

import json

import itertools
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping, NamedTuple

from clock import Clock
from errors import InsufficientFundsError, OrderRejectedError
from models import (
    Account,
    Candle,
    Fill,
    FundingPayment,
    Liquidity,
    MarginMode,
    Order,
    OrderIntent,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    evolve,
    fill_key,
    from_record,
    funding_key,
    to_record,
)
from simulator import validation as v
from simulator.config import SimConfig
from simulator.funding import funding_times_between, timeframe_ms
from simulator.margin import liquidation_price, maintenance_margin
from simulator.positions import NetPosition, apply_fill
from simulator.pricing import fee, money, slippage_bps, taker_price
from simulator.symbols import SymbolRules, round_price, round_qty_down

ZERO = Decimal("0")
SNAPSHOT_FORMAT = 1
_TRIGGER_ORDER = {OrderType.STOP_MARKET: 0, OrderType.TAKE_PROFIT_MARKET: 1, OrderType.LIMIT: 2}


@dataclass(frozen=True, slots=True)
class Ledger:
    """Where the money went. wallet_balance == starting_balance + realized_pnl - fees - funding, exactly."""

    starting_balance: Decimal
    realized_pnl: Decimal  # gross, before fees
    fees: Decimal  # trading fees plus liquidation clearance
    funding: Decimal  # net funding paid (negative: received)
    wallet_balance: Decimal
    unrealized_pnl: Decimal

    @property
    def equity(self) -> Decimal:
        return self.wallet_balance + self.unrealized_pnl


class SnapshotParts(NamedTuple):
    """A snapshot in the parts a store saves apart, each written only when it changed."""

    head: str  # JSON: the account, positions, queues (no market, no orders, no closed ids)
    market: str | None  # JSON: every symbol's mark, volume, range and candle times (every candle changes it)
    orders: dict[str, str]  # the orders written since the last save: client order id -> JSON record
    gone: list[str]  # the orders forgotten since
    orders_now: dict[str, Order]  # the orders now: the next call's `saved`
    closed: list[str]  # the ids closed since the last save, oldest first
    closed_kept: int  # how many closed ids are kept (the newest)
    closed_replace: bool  # the closed ids were not saved apart: `closed` is all of them
    closed_count: int  # the next call's `closed_saved`


class SimExchange:
    def __init__(self, config: SimConfig, clock: Clock, rules: dict[str, SymbolRules]):
        self.config = config
        self.clock = clock
        self.rules = dict(rules)
        self._wallet = money(config.starting_balance)
        self._realized = ZERO
        self._fees = ZERO
        self._funding = ZERO
        self._positions: dict[str, NetPosition] = {}
        self._leverage: dict[str, int] = {}
        self._margin_mode: dict[str, MarginMode] = {}
        self._orders: dict[str, Order] = {}  # open orders and the most recent closed ones, by client id
        # the open ones, in the order they came, and by symbol: open_orders is asked several times a candle
        # (the protection check, the flatten, the gate), and scanning up to `recent_orders_kept` closed
        # orders, then every symbol's open ones, for the symbol's few dominated a backtest
        self._open: dict[str, Order] = {}
        self._open_by_symbol: dict[str, dict[str, Order]] = {}
        # per symbol, the prices a candle must reach for any resting stop or take-profit to trigger (see
        # `_may_trigger`), worked out again only after the symbol's open orders change
        self._trigger_bounds: dict[str, tuple[Decimal | None, Decimal | None, bool]] = {}
        self._closed: deque[str] = deque()  # closed order ids, oldest first, for eviction
        self._closed_count = 0  # ids this copy appended to `_closed` (a restored copy counts those it holds)
        self._participation: dict[str, tuple[int, Decimal]] = {}  # order id -> (candle open ms, qty filled in it)
        self._marks: dict[str, Decimal] = {}
        self._volumes: dict[str, Decimal] = {}
        self._ranges: dict[str, tuple[Decimal, Decimal]] = {}  # the last candle's (low, high): fills stay in it
        self._last_open_ms: dict[str, int] = {}
        self._last_close_ms: dict[str, int] = {}
        self._pending: list[Fill] = []
        self._pending_funding: list[FundingPayment] = []  # settled, not yet booked by the executor
        self._next_id = 1
        # order id -> (the Order, its record, its JSON): orders are immutable, so a snapshot re-encodes only
        # the ones that changed since the last one, not the up to `recent_orders_kept` closed ones each time
        self._records: dict[str, tuple[Order, dict[str, str], str]] = {}
        self._changes = 0  # order writes and funding settlements: what a client must save before showing
        # the position views and the account are asked many times between two changes (the gate, the
        # protection check, the flatten's confirmation): kept until a mark, a fill, the leverage or the
        # margin mode changes (`_moved`) or an order is written (`_changes`)
        self._moves = 0
        self._views: tuple[tuple[int, int], list[Position]] | None = None
        self._account: tuple[tuple[int, int, int], Account] | None = None
        self._margin_cache: tuple[tuple[int, int], tuple[Decimal, Decimal]] | None = None
        self._isolated_liquidation: dict[str, tuple[tuple[Decimal, Decimal, Decimal], Decimal | None]] = {}
        self._cross_liquidation: dict[str, tuple[tuple[Decimal, Decimal, Decimal], Decimal | None]] = {}

    # ------------------------------------------------------------------------------------ queries

    def symbol_rules(self, symbol: str) -> SymbolRules:
        rules = self.rules.get(symbol)
        if rules is None:
            raise OrderRejectedError("Invalid symbol.", v.INVALID_SYMBOL)
        return rules

    def mark_price(self, symbol: str) -> Decimal | None:
        return self._marks.get(symbol)

    def market_time_ms(self) -> int | None:
        """Open time of the newest candle seen (any symbol): an older candle changes nothing here."""
        return max(self._last_open_ms.values(), default=None)

    def leverage(self, symbol: str) -> int:
        return self._leverage.get(symbol, self.config.leverage)

    def margin_mode(self, symbol: str) -> MarginMode:
        return self._margin_mode.get(symbol, self.config.margin_mode)

    def closed_count(self) -> int:
        """How many ids this copy appended to its closed orders (a restored copy: those it holds)."""
        return self._closed_count

    def orders_by_id(self) -> dict[str, Order]:
        """The orders it holds (open and recently closed), by client order id, in the order they came."""
        return dict(self._orders)

    def get_order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is None:
            return list(self._open.values())
        book = self._open_by_symbol.get(symbol)
        return list(book.values()) if book else []

    def change_count(self) -> int:
        """Grows with every order written (placed, filled, cancelled, expired) and every funding payment:
        a candle that leaves it alone moved only marks, ranges, volumes and the market time."""
        return self._changes

    def _put_order(self, order: Order) -> Order:
        self._changes += 1
        cid, symbol = order.client_order_id, order.symbol
        self._orders[cid] = order
        if order.status.is_open:
            self._open[cid] = order
            book = self._open_by_symbol.get(symbol)
            if book is None:
                book = self._open_by_symbol[symbol] = {}
            book[cid] = order
        elif self._open.pop(cid, None) is not None:
            del self._open_by_symbol[symbol][cid]
        self._trigger_bounds.pop(symbol, None)
        return order

    def positions(self) -> list[Position]:
        key = (self._moves, self._changes)
        if self._views is None or self._views[0] != key:
            views = [self._position_view(p) for p in sorted(self._positions.values(), key=lambda p: p.symbol) if p.qty]
            self._views = (key, views)
        return list(self._views[1])

    def account(self) -> Account:
        key = (self._moves, self._changes, self.clock.now_ms())
        if self._account is None or self._account[0] != key:
            unrealized = sum((self._unrealized(p) for p in self._open_positions()), ZERO)
            used, available = self._margins()
            self._account = (key, Account(
                wallet_balance=self._wallet,
                unrealized_pnl=unrealized,
                margin_used=used,
                available=available,
                ts_ms=key[2],
            ))
        return self._account[1]

    def _margins(self) -> tuple[Decimal, Decimal]:
        """(margin used, available), kept like the views: the account and every entry's margin check ask."""
        key = (self._moves, self._changes)
        if self._margin_cache is None or self._margin_cache[0] != key:
            used = self._margin_used()
            cross_unrealized = sum((self._unrealized(p) for p in self._open_positions() if self._is_cross(p)), ZERO)
            self._margin_cache = (key, (used, self._wallet - used + cross_unrealized))  # `_available()`, used once
        return self._margin_cache[1]

    def _moved(self) -> None:
        """A mark, a position, the wallet, a leverage or a margin mode changed: the views are rebuilt."""
        self._moves += 1

    def ledger(self) -> Ledger:
        unrealized = sum((self._unrealized(p) for p in self._open_positions()), ZERO)
        return Ledger(money(self.config.starting_balance), self._realized, self._fees, self._funding,
                      self._wallet, unrealized)

    def funding_by_symbol(self) -> dict[str, Decimal]:
        """Net funding paid by each open position since it was opened (for trade records)."""
        return {p.symbol: p.funding for p in self._open_positions()}

    def has_pending_fills(self) -> bool:
        return bool(self._pending)

    def take_fills(self) -> list[Fill]:
        """Every fill since the last call, in order: submit-time fills, triggers, liquidations."""
        fills, self._pending = self._pending, []
        return fills

    def pending_fills(self) -> list[Fill]:
        """The fills not yet acknowledged, in order, left in the queue: read them, book them, then
        `ack_fills` — a crash in between finds them again (the booking skips what it already has)."""
        return list(self._pending)

    def ack_fills(self, fills: list[Fill]) -> None:
        done = {fill_key(f) for f in fills}
        self._pending = [f for f in self._pending if fill_key(f) not in done]

    def pending_funding(self) -> list[FundingPayment]:
        """The funding settlements not yet acknowledged, queued like the fills (book, then `ack_funding`)."""
        return list(self._pending_funding)

    def ack_funding(self, payments: list[FundingPayment]) -> None:
        done = {funding_key(p) for p in payments}
        self._pending_funding = [p for p in self._pending_funding if funding_key(p) not in done]

    # ----------------------------------------------------------------------------------- orders

    def submit(self, intent: OrderIntent) -> Order:
        """Idempotent on the client order id: a resubmission returns the first order as it is now."""
        known = self._orders.get(intent.client_order_id)
        if known is not None:
            return known
        rules = self.symbol_rules(intent.symbol)
        v.check_static(intent, rules)
        mark = self._marks.get(intent.symbol)
        pos = self._positions.get(intent.symbol)
        position_qty = pos.qty if pos else ZERO
        if intent.reduce_only and (position_qty == 0 or (position_qty > 0) == (intent.side is OrderSide.BUY)):
            raise OrderRejectedError("ReduceOnly Order is rejected.", v.REDUCE_ONLY)
        if intent.order_type is OrderType.MARKET and mark is None:
            raise OrderRejectedError(f"No price for {intent.symbol} yet: the simulator has seen no candle.", v.NO_PRICE)
        self._check_trigger_and_post_only(intent, mark)
        reference = self._reference_price(intent, mark, rules)
        crossing = (intent.order_type is OrderType.LIMIT and mark is not None and intent.price is not None
                    and _crosses(intent.side, intent.price, mark))
        taker = reference if intent.order_type is OrderType.MARKET else (
            self._taker_price(intent, mark, rules) if crossing and mark is not None else None)
        if not intent.reduce_only:
            v.check_min_notional(intent.qty, reference, rules)
            self._check_margin(intent, reference)

        now = self.clock.now_ms()
        qty = intent.qty
        if intent.reduce_only and intent.order_type is OrderType.MARKET:
            qty = min(qty, abs(position_qty))  # Binance caps a reduce-only close at the position
        order = Order(
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            order_type=intent.order_type,
            qty=qty,
            status=OrderStatus.NEW,
            price=intent.price if intent.order_type is OrderType.LIMIT else None,
            stop_price=intent.stop_price if intent.order_type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET) else None,
            reduce_only=intent.reduce_only,
            time_in_force=intent.time_in_force,
            exchange_order_id=str(self._next_id),
            created_ms=now,
            updated_ms=now,
        )
        self._next_id += 1
        self._put_order(order)

        if intent.order_type is OrderType.MARKET:
            self._fill(order, qty, reference, Liquidity.TAKER, reference=mark, ts_ms=now)
        elif intent.order_type is OrderType.LIMIT:
            self._submit_limit(order, mark, taker, now)
        return self._orders[order.client_order_id]

    def cancel(self, symbol: str, client_order_id: str) -> Order:
        order = self._orders.get(client_order_id)
        if order is None or order.symbol != symbol or not order.status.is_open:
            raise OrderRejectedError("Unknown order sent.", v.UNKNOWN_ORDER)
        return self._close_order(order, OrderStatus.CANCELED)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        return [self._close_order(o, OrderStatus.CANCELED) for o in self.open_orders(symbol)]

    # ---------------------------------------------------------------------------------- account

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Refused (state unchanged) when the new leverage would leave the account short of margin.
        Lowering an isolated position's leverage tops its margin up from the available balance."""
        self.symbol_rules(symbol)
        if not 1 <= int(leverage) <= 125:
            raise OrderRejectedError(f"Leverage {leverage} is not valid", v.BAD_LEVERAGE)
        self._moved()
        before_leverage = self._leverage.get(symbol)
        before_available = self._available()
        pos = self._positions.get(symbol)
        before_margin = pos.margin if pos else ZERO
        self._leverage[symbol] = int(leverage)
        if pos and pos.qty and self.margin_mode(symbol) is MarginMode.ISOLATED:
            needed = money(pos.size * pos.entry / int(leverage))
            pos.margin = max(pos.margin, needed)
        after = self._available()
        if after < 0 and after < before_available:  # an account already short may still lower its risk
            if before_leverage is None:
                del self._leverage[symbol]
            else:
                self._leverage[symbol] = before_leverage
            if pos:
                pos.margin = before_margin
            self._moved()
            raise InsufficientFundsError("Margin is insufficient.", v.MARGIN_INSUFFICIENT)
        self._moved()

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        self.symbol_rules(symbol)
        mode = MarginMode(mode)
        if mode is self.margin_mode(symbol):
            return
        pos = self._positions.get(symbol)
        if pos and pos.qty:
            raise OrderRejectedError("Margin type cannot be changed if there exists position.",
                                     v.MARGIN_TYPE_WITH_POSITION)
        if self.open_orders(symbol):
            raise OrderRejectedError("Margin type cannot be changed if there exists open orders.",
                                     v.MARGIN_TYPE_WITH_ORDERS)
        self._margin_mode[symbol] = mode
        self._moved()

    # ----------------------------------------------------------------------------------- candles

    def on_candle(self, candle: Candle) -> list[Fill]:
        """Advance the market for one symbol by one (closed) candle. Returns the fills it caused; the
        same fills are also queued for `take_fills` (use one or the other, not both)."""
        symbol = candle.symbol
        last_open = self._last_open_ms.get(symbol)
        if last_open is not None and candle.open_time_ms < last_open:
            return []  # an older candle arriving late changes nothing
        start = len(self._pending)
        now = self.clock.now_ms()
        self._trigger_orders(candle, now)
        self._moved()
        self._marks[symbol] = candle.close
        self._volumes[symbol] = candle.volume
        self._ranges[symbol] = (candle.low, candle.high)
        self._liquidate_if_crossed(symbol, now)
        close_ms = candle.open_time_ms + timeframe_ms(candle.timeframe)
        previous_close = self._last_close_ms.get(symbol)
        if previous_close is not None:
            for funding_ms in funding_times_between(previous_close, close_ms, self.config.funding_interval_hours):
                self._settle_funding(symbol, funding_ms)
        self._last_open_ms[symbol] = candle.open_time_ms
        self._last_close_ms[symbol] = max(close_ms, previous_close or close_ms)
        return list(self._pending[start:])

    def _trigger_orders(self, candle: Candle, now: int) -> None:
        book = self._open_by_symbol.get(candle.symbol)
        if not book or not self._may_trigger(candle, book):
            return
        resting = sorted(
            book.values(),
            key=lambda o: (_TRIGGER_ORDER[o.order_type], int(o.exchange_order_id or 0)),
        )
        for order in resting:
            current = self._orders[order.client_order_id]
            if not current.status.is_open:
                continue  # cancelled by an earlier fill in this candle (the position went flat)
            if current.order_type is OrderType.LIMIT:
                self._match_limit(current, candle, now)
            else:
                self._trigger_stop(current, candle, now)

    def _may_trigger(self, candle: Candle, book: dict[str, Order]) -> bool:
        """False when the candle reaches none of the symbol's resting stops and take-profits (and no limit
        rests): most candles of an open trade, whose protective orders rest away from the price."""
        bounds = self._trigger_bounds.get(candle.symbol)
        if bounds is None:
            falling: Decimal | None = None  # the highest trigger hit on the way down (low <= it)
            rising: Decimal | None = None  # the lowest trigger hit on the way up (high >= it)
            limits = False
            for order in book.values():
                stop = order.stop_price
                if order.order_type is OrderType.LIMIT or stop is None:
                    limits = True
                elif (order.order_type is OrderType.STOP_MARKET) == (order.side is OrderSide.SELL):
                    falling = stop if falling is None or stop > falling else falling
                else:
                    rising = stop if rising is None or stop < rising else rising
            bounds = self._trigger_bounds[candle.symbol] = (falling, rising, limits)
        falling, rising, limits = bounds
        return limits or (falling is not None and candle.low <= falling) or (rising is not None and candle.high >= rising)

    def _trigger_stop(self, order: Order, candle: Candle, now: int) -> None:
        stop = order.stop_price
        assert stop is not None
        sell = order.side is OrderSide.SELL
        # A sell stop and a buy take-profit trigger on the way down; the others on the way up.
        falling = (order.order_type is OrderType.STOP_MARKET) == sell
        if falling:
            if candle.low > stop:
                return
            base = min(candle.open, stop)
        else:
            if candle.high < stop:
                return
            base = max(candle.open, stop)
        qty = order.remaining_qty
        if order.reduce_only:
            qty = self._reducible(order)
            if qty <= 0:
                self._close_order(order, OrderStatus.EXPIRED)
                return
            if qty < order.remaining_qty:
                order = self._replace(order, qty=order.filled_qty + qty)
        rules = self.rules[order.symbol]
        bps = slippage_bps(self.config.slippage_model, self.config.slippage_bps, self.config.volume_impact_bps,
                           qty, candle.volume)
        price = taker_price(base, order.side, bps, rules.tick_size, candle.low, candle.high, must_fill=True)
        assert price is not None
        self._fill(order, qty, price, Liquidity.TAKER, reference=trigger_reference(order.side, stop, base), ts_ms=now)

    def _match_limit(self, order: Order, candle: Candle, now: int) -> None:
        limit = order.price
        assert limit is not None
        if order.side is OrderSide.BUY:
            if not candle.low < limit:
                return
            price = min(candle.open, limit)
        else:
            if not candle.high > limit:
                return
            price = max(candle.open, limit)
        rules = self.rules[order.symbol]
        used_ms, used = self._participation.get(order.client_order_id, (None, ZERO))
        used = used if used_ms == candle.open_time_ms else ZERO
        cap = round_qty_down(max(self.config.max_participation * candle.volume - used, ZERO), rules.step_size)
        qty = min(order.remaining_qty, cap)
        if order.reduce_only:
            reducible = self._reducible(order)
            if reducible <= 0:
                self._close_order(order, OrderStatus.EXPIRED)
                return
            if reducible < order.remaining_qty:
                order = self._replace(order, qty=order.filled_qty + reducible)
            qty = min(qty, reducible)
        if qty <= 0:
            return
        self._participation[order.client_order_id] = (candle.open_time_ms, used + qty)
        self._fill(order, qty, price, Liquidity.MAKER, reference=limit, ts_ms=now)

    def _submit_limit(self, order: Order, mark: Decimal | None, taker: Decimal | None, now: int) -> None:
        """A limit that crosses the mark takes liquidity at once (a GTX one was already rejected), at
        `taker` bounded by its limit; one that does not rests on the book, except IOC, which expires."""
        limit = order.price
        assert limit is not None
        if mark is not None and taker is not None and _crosses(order.side, limit, mark):
            if order.reduce_only and self._reducible(order) < order.qty:
                order = self._replace(order, qty=self._reducible(order))  # capped at the position
            price = min(taker, limit) if order.side is OrderSide.BUY else max(taker, limit)
            self._fill(order, order.qty, price, Liquidity.TAKER, reference=mark, ts_ms=now)
        elif order.time_in_force is TimeInForce.IOC:
            self._close_order(order, OrderStatus.EXPIRED)

    # -------------------------------------------------------------------------- checks at submit

    def _check_trigger_and_post_only(self, intent: OrderIntent, mark: Decimal | None) -> None:
        if mark is None:
            return
        buy = intent.side is OrderSide.BUY
        if intent.order_type is OrderType.LIMIT and intent.time_in_force is TimeInForce.GTX:
            assert intent.price is not None
            if _crosses(intent.side, intent.price, mark):
                raise OrderRejectedError(
                    "Due to the order could not be executed as maker, the Post Only order will be rejected.",
                    v.GTX_REJECT,
                )
        if intent.order_type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
            assert intent.stop_price is not None
            rising = (intent.order_type is OrderType.STOP_MARKET) == buy
            if (rising and intent.stop_price <= mark) or (not rising and intent.stop_price >= mark):
                raise OrderRejectedError("Order would immediately trigger.", v.WOULD_TRIGGER)

    def _reference_price(self, intent: OrderIntent, mark: Decimal | None, rules: SymbolRules) -> Decimal:
        """The price the order is judged (notional, margin) and, for a market order, filled at."""
        if intent.order_type is OrderType.MARKET:
            assert mark is not None
            return self._taker_price(intent, mark, rules)
        if intent.order_type is OrderType.LIMIT:
            assert intent.price is not None
            return intent.price
        assert intent.stop_price is not None
        return intent.stop_price

    def _taker_price(self, intent: OrderIntent, mark: Decimal, rules: SymbolRules) -> Decimal:
        """Where a taker order sent now fills (the range rule of simulator.pricing, in the last candle's
        range). An order that opens or adds is refused when the tick cannot express a price in that range;
        a reduce-only one must be able to leave, so it fills off the tick instead."""
        bps = slippage_bps(self.config.slippage_model, self.config.slippage_bps, self.config.volume_impact_bps,
                           intent.qty, self._volumes.get(rules.symbol))
        low, high = self._ranges.get(rules.symbol, (mark, mark))
        price = taker_price(mark, intent.side, bps, rules.tick_size, low, high, must_fill=intent.reduce_only)
        if price is None:
            raise OrderRejectedError(unpriceable_reason(rules, mark, low, high, bps), v.PRICE_FILTER)
        return price

    def _opening_qty(self, symbol: str, side: OrderSide, qty: Decimal) -> Decimal:
        """The part of an order that would open or add to a position (the rest only reduces it)."""
        pos = self._positions.get(symbol)
        position_qty = pos.qty if pos else ZERO
        if position_qty == 0 or (position_qty > 0) == (side is OrderSide.BUY):
            return qty
        return max(qty - abs(position_qty), ZERO)

    def _check_margin(self, intent: OrderIntent, price: Decimal) -> None:
        """Initial margin for the part that opens or adds, plus the fee, must fit in the available balance.
        Orders that only reduce a position are never refused for margin."""
        opening = self._opening_qty(intent.symbol, intent.side, intent.qty)
        if opening == 0:
            return
        resting = intent.order_type is OrderType.LIMIT and not _crosses(intent.side, price, self._marks.get(intent.symbol))
        rate = self.config.maker_fee_rate if resting else self.config.taker_fee_rate
        required = money(opening * price / self.leverage(intent.symbol)) + fee(intent.qty, price, rate)
        if required > self._margins()[1]:
            raise InsufficientFundsError("Margin is insufficient.", v.MARGIN_INSUFFICIENT)

    # ---------------------------------------------------------------------------------- filling

    def _fill(self, order: Order, qty: Decimal, price: Decimal, liquidity: Liquidity, *,
              reference: Decimal | None, ts_ms: int, fee_override: Decimal | None = None) -> Fill:
        symbol = order.symbol
        rate = self.config.maker_fee_rate if liquidity is Liquidity.MAKER else self.config.taker_fee_rate
        paid = fee(qty, price, rate) if fee_override is None else fee_override
        self._moved()
        pos = self._positions.setdefault(symbol, NetPosition(symbol))
        isolated = self.margin_mode(symbol) is MarginMode.ISOLATED
        effect = apply_fill(pos, qty * order.side.sign, price, self.leverage(symbol), isolated, ts_ms)
        self._wallet += effect.realized - paid
        self._realized += effect.realized
        self._fees += paid
        if pos.qty == 0:
            del self._positions[symbol]

        filled = order.filled_qty + qty
        average = price if order.avg_fill_price is None else (
            (order.avg_fill_price * order.filled_qty + price * qty) / filled
        )
        status = OrderStatus.FILLED if filled >= order.qty else OrderStatus.PARTIALLY_FILLED
        updated = self._replace(order, filled_qty=filled, avg_fill_price=average, fee_paid=order.fee_paid + paid,
                                status=status, updated_ms=ts_ms)
        if status is OrderStatus.FILLED:
            self._remember_closed(updated.client_order_id)
        elif order.time_in_force is TimeInForce.IOC and order.order_type is OrderType.LIMIT:
            self._close_order(updated, OrderStatus.EXPIRED)
        fill = Fill(
            client_order_id=order.client_order_id,
            symbol=symbol,
            side=order.side,
            qty=qty,
            price=price,
            fee=paid,
            liquidity=liquidity,
            ts_ms=ts_ms,
            realized_pnl=effect.realized,
            slippage_cost=money(abs(price - reference) * qty) if reference is not None else ZERO,
        )
        self._pending.append(fill)
        self._expire_stale_reduce_only(symbol)
        return fill

    def _reducible(self, order: Order) -> Decimal:
        """How much of a reduce-only order can still reduce the position (0: it would open or add)."""
        pos = self._positions.get(order.symbol)
        if not pos or pos.qty == 0 or (pos.qty > 0) == (order.side is OrderSide.BUY):
            return ZERO
        return min(order.remaining_qty, pos.size)

    def _expire_stale_reduce_only(self, symbol: str) -> None:
        """When a position goes flat (or flips), reduce-only orders that can no longer reduce it go."""
        for order in self.open_orders(symbol):
            if order.reduce_only and self._reducible(order) <= 0:
                self._close_order(order, OrderStatus.CANCELED)

    # ------------------------------------------------------------------------ liquidation/funding

    def _liquidate_if_crossed(self, symbol: str, now: int) -> None:
        pos = self._positions.get(symbol)
        mark = self._marks.get(symbol)
        if not pos or not pos.qty or mark is None:
            return
        lp = self._liquidation_price(pos)
        if lp is None or (pos.qty > 0 and mark > lp) or (pos.qty < 0 and mark < lp):
            return
        for order in self.open_orders(symbol):
            self._close_order(order, OrderStatus.CANCELED)  # Binance cancels the symbol's orders first
        side = OrderSide.SELL if pos.qty > 0 else OrderSide.BUY
        realized = money(pos.size * (lp - pos.entry) * pos.sign)
        if self.margin_mode(symbol) is MarginMode.ISOLATED:
            clearance = max(pos.margin + realized, ZERO)  # whatever is left of the isolated margin is lost
        else:
            clearance = max(money(maintenance_margin(symbol, pos.size * lp)), ZERO)
        rules = self.rules.get(symbol)
        order_id = f"liq-{rules.exchange_id if rules and rules.exchange_id else symbol}-{now}-{self._next_id}"
        order = Order(order_id, symbol, side, OrderType.MARKET, pos.size, OrderStatus.NEW, reduce_only=True,
                      exchange_order_id=str(self._next_id), created_ms=now, updated_ms=now)
        self._next_id += 1
        self._put_order(order)
        self._fill(order, pos.size, lp, Liquidity.TAKER, reference=None, ts_ms=now, fee_override=clearance)

    def _settle_funding(self, symbol: str, funding_ms: int) -> None:
        pos = self._positions.get(symbol)
        mark = self._marks.get(symbol)
        if not pos or not pos.qty or mark is None:
            return
        payment = money(pos.qty * mark * self.config.funding_rate)  # > 0: this position pays
        self._changes += 1
        self._moved()
        self._wallet -= payment
        self._funding += payment
        pos.funding += payment
        if self.margin_mode(symbol) is MarginMode.ISOLATED:
            pos.margin -= payment  # Binance settles an isolated position's funding in its own margin
        self._pending_funding.append(FundingPayment(symbol, payment, funding_ms, mark, self.config.funding_rate))

    # ------------------------------------------------------------------------------ margin maths

    def _open_positions(self) -> Iterable[NetPosition]:
        return (p for p in self._positions.values() if p.qty)

    def _mark_or_entry(self, pos: NetPosition) -> Decimal:
        return self._marks.get(pos.symbol, pos.entry)

    def _unrealized(self, pos: NetPosition) -> Decimal:
        return pos.unrealized(self._mark_or_entry(pos))

    def _is_cross(self, pos: NetPosition) -> bool:
        return self.margin_mode(pos.symbol) is MarginMode.CROSS

    def _cross_initial_margin(self, pos: NetPosition) -> Decimal:
        return money(pos.size * self._mark_or_entry(pos) / self.leverage(pos.symbol))

    def _order_margin(self) -> Decimal:
        """Open limit orders that may open or add reserve their initial margin, as on Binance."""
        total = ZERO
        for order in self.open_orders():
            if order.order_type is OrderType.LIMIT and not order.reduce_only and order.price is not None:
                opening = self._opening_qty(order.symbol, order.side, order.remaining_qty)
                total += money(opening * order.price / self.leverage(order.symbol))
        return total

    def _margin_used(self) -> Decimal:
        used = self._order_margin()
        for pos in self._open_positions():
            used += self._cross_initial_margin(pos) if self._is_cross(pos) else pos.margin
        return used

    def _available(self) -> Decimal:
        cross_unrealized = sum((self._unrealized(p) for p in self._open_positions() if self._is_cross(p)), ZERO)
        return self._wallet - self._margin_used() + cross_unrealized

    def _liquidation_price(self, pos: NetPosition) -> Decimal | None:
        rules = self.rules.get(pos.symbol)
        if self._is_cross(pos):
            alone = len(self._positions) == 1  # no other position: nothing but its own book and the wallet
            if alone:
                key = (pos.qty, pos.entry, self._wallet)
                known = self._cross_liquidation.get(pos.symbol)
                # asked twice a candle as the isolated one is; the same values by identity, as there
                if known is not None and known[0][0] is key[0] and known[0][1] is key[1] and known[0][2] is key[2]:
                    return known[1]
            others = [p for p in self._open_positions() if p is not pos and self._is_cross(p)]
            isolated_margins = sum((p.margin for p in self._open_positions() if not self._is_cross(p)), ZERO)
            wallet = self._wallet - isolated_margins
            other_mm = sum((maintenance_margin(p.symbol, p.size * self._mark_or_entry(p)) for p in others), ZERO)
            other_upnl = sum((self._unrealized(p) for p in others), ZERO)
            raw = liquidation_price(pos.symbol, pos.sign, pos.size, pos.entry, wallet, other_mm, other_upnl)
            # On the tick, and on the side that liquidates a hair earlier: never later than Binance would.
            price = raw if raw is None or rules is None else round_price(raw, rules.tick_size, up=pos.qty > 0)
            if alone:
                self._cross_liquidation[pos.symbol] = (key, price)
            return price
        else:
            # an isolated position's depends on nothing but itself: asked twice a candle (the liquidation
            # check, the position's view), worked out again only when the position changes
            key = (pos.qty, pos.entry, pos.margin)
            known = self._isolated_liquidation.get(pos.symbol)
            # the very same values (identity: an equal Decimal of another exponent might print otherwise)
            if known is not None and known[0][0] is key[0] and known[0][1] is key[1] and known[0][2] is key[2]:
                return known[1]
            raw = liquidation_price(pos.symbol, pos.sign, pos.size, pos.entry, pos.margin)
            price = raw if raw is None or rules is None else round_price(raw, rules.tick_size, up=pos.qty > 0)
            self._isolated_liquidation[pos.symbol] = (key, price)
            return price

    def _position_view(self, pos: NetPosition) -> Position:
        mark = self._mark_or_entry(pos)
        cross = self._is_cross(pos)
        return Position(
            symbol=pos.symbol,
            side=Side.LONG if pos.qty > 0 else Side.SHORT,
            qty=pos.size,
            entry_price=pos.entry,
            leverage=self.leverage(pos.symbol),
            margin_mode=self.margin_mode(pos.symbol),
            mark_price=mark,
            unrealized_pnl=pos.unrealized(mark),
            isolated_margin=ZERO if cross else pos.margin,
            liquidation_price=self._liquidation_price(pos),
            opened_ms=pos.opened_ms,
        )

    # --------------------------------------------------------------------------- order records

    def _replace(self, order: Order, **changes: Any) -> Order:
        return self._put_order(evolve(order, **changes))

    def _close_order(self, order: Order, status: OrderStatus) -> Order:
        updated = self._replace(order, status=status, updated_ms=self.clock.now_ms())
        self._remember_closed(order.client_order_id)
        return updated

    def _remember_closed(self, client_order_id: str) -> None:
        self._participation.pop(client_order_id, None)
        self._closed.append(client_order_id)
        self._closed_count += 1
        while len(self._closed) > self.config.recent_orders_kept:
            evicted = self._closed.popleft()
            self._orders.pop(evicted, None)
            self._records.pop(evicted, None)

    # ---------------------------------------------------------------------------- persistence

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to carry on exactly where this left off, as JSON-able strings."""
        return {**self._snapshot_head(), "orders": [dict(self._cached(o)[1]) for o in self._orders.values()]}

    def snapshot_json(self) -> str:
        """`snapshot()` as compact JSON text, built from each order's cached JSON: the venue is saved after
        every call, and re-encoding every remembered order each time dominated the kill switch's latency."""
        head = json.dumps(self._snapshot_head(), separators=(",", ":"))
        orders = ",".join(self._cached(o)[2] for o in self._orders.values())
        return f'{head[:-1]},"orders":[{orders}]}}'

    def _cached(self, order: Order) -> tuple[Order, dict[str, str], str]:
        cached = self._records.get(order.client_order_id)
        if cached is None or cached[0] is not order:
            record = to_record(order)
            cached = (order, record, json.dumps(record, separators=(",", ":")))
            self._records[order.client_order_id] = cached
        return cached

    def snapshot_parts(self, market: bool = True, saved: Mapping[str, Order | None] | None = None,
                       closed_saved: int | None = None) -> SnapshotParts:
        """`snapshot()` in the parts a store saves apart (see SnapshotParts). `saved`: the orders as last
        saved, by client order id (None: none); `closed_saved`: `closed_count` at the last save (None: the
        closed ids were not saved apart). Orders are immutable, so an order is unchanged when it is the same
        object: a save after an order call re-encodes none of the others."""
        account = self._snapshot_account()
        del account["closed"]
        head = json.dumps(account, separators=(",", ":"))
        market_json = json.dumps(self._snapshot_market(), separators=(",", ":")) if market else None
        orders = self._orders
        if saved is None:
            written, gone = {k: self._cached(o)[2] for k, o in orders.items()}, []
        else:
            written = {k: self._cached(o)[2] for k, o in orders.items() if saved.get(k) is not o}
            gone = [k for k in saved if k not in orders]
        kept = len(self._closed)
        new = kept if closed_saved is None else min(kept, self._closed_count - closed_saved)
        closed = list(itertools.islice(self._closed, kept - new, kept)) if new else []
        return SnapshotParts(head, market_json, written, gone, dict(orders), closed, kept, closed_saved is None,
                             self._closed_count)

    def _snapshot_head(self) -> dict[str, Any]:
        return {**self._snapshot_account(), **self._snapshot_market()}

    def _snapshot_account(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "wallet": _s(self._wallet),
            "realized": _s(self._realized),
            "fees": _s(self._fees),
            "funding": _s(self._funding),
            "next_id": self._next_id,
            "positions": [
                {"symbol": p.symbol, "qty": _s(p.qty), "entry": _s(p.entry), "margin": _s(p.margin),
                 "opened_ms": p.opened_ms, "funding": _s(p.funding)}
                for p in self._positions.values()
            ],
            "leverage": dict(self._leverage),
            "margin_mode": {k: m.value for k, m in self._margin_mode.items()},
            "closed": list(self._closed),
            "participation": {k: [ms, _s(q)] for k, (ms, q) in self._participation.items()},
            "pending_fills": [to_record(f) for f in self._pending],
            "pending_funding": [to_record(p) for p in self._pending_funding],
        }

    def market_parts(self, symbols: Iterable[str] | None = None) -> dict[str, str]:
        """The market by symbol (None: every symbol), each as compact JSON of its entries in the snapshot's
        market fields ({"marks": "…", "volumes": "…", …}): a store keeping the market by symbol writes only
        those a candle moved since its last save (a candle moves its own symbol only)."""
        names = self._marks.keys() | self._last_open_ms.keys() if symbols is None else symbols
        marks, volumes, ranges, opens, closes = (self._marks, self._volumes, self._ranges, self._last_open_ms,
                                                 self._last_close_ms)
        parts = {}
        for k in names:
            if k in marks and k in volumes and k in ranges and k in opens and k in closes:
                # what json.dumps writes, built directly: plain decimals and ints need no escaping, and one
                # json.dumps per symbol took three times the whole market's single one
                low, high = ranges[k]
                parts[k] = (f'{{"marks":"{marks[k]:f}","volumes":"{volumes[k]:f}","ranges":["{low:f}","{high:f}"],'
                            f'"last_open_ms":{opens[k]},"last_close_ms":{closes[k]}}}')
                continue
            record: dict[str, Any] = {}
            if k in self._marks:
                record["marks"] = _s(self._marks[k])
            if k in self._volumes:
                record["volumes"] = _s(self._volumes[k])
            if k in self._ranges:
                low, high = self._ranges[k]
                record["ranges"] = [_s(low), _s(high)]
            if k in self._last_open_ms:
                record["last_open_ms"] = self._last_open_ms[k]
            if k in self._last_close_ms:
                record["last_close_ms"] = self._last_close_ms[k]
            parts[k] = json.dumps(record, separators=(",", ":"))
        return parts

    def _snapshot_market(self) -> dict[str, Any]:
        """What only `on_candle` writes."""
        return {
            "marks": {k: _s(x) for k, x in self._marks.items()},
            "volumes": {k: _s(x) for k, x in self._volumes.items()},
            "ranges": {k: [_s(lo), _s(hi)] for k, (lo, hi) in self._ranges.items()},
            "last_open_ms": dict(self._last_open_ms),
            "last_close_ms": dict(self._last_close_ms),
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any], config: SimConfig, clock: Clock,
                rules: dict[str, SymbolRules]) -> "SimExchange":
        if snapshot.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown simulator snapshot format {snapshot.get('format')!r}")
        ex = cls(config, clock, rules)
        ex._wallet = Decimal(snapshot["wallet"])
        ex._realized = Decimal(snapshot["realized"])
        ex._fees = Decimal(snapshot["fees"])
        ex._funding = Decimal(snapshot["funding"])
        ex._next_id = int(snapshot["next_id"])
        for p in snapshot["positions"]:
            ex._positions[p["symbol"]] = NetPosition(p["symbol"], Decimal(p["qty"]), Decimal(p["entry"]),
                                                     Decimal(p["margin"]), int(p["opened_ms"]), Decimal(p["funding"]))
        ex._leverage = {k: int(x) for k, x in snapshot["leverage"].items()}
        ex._margin_mode = {k: MarginMode(m) for k, m in snapshot["margin_mode"].items()}
        for record in snapshot["orders"]:
            order = from_record(Order, record)
            ex._put_order(order)
            ex._records[order.client_order_id] = (order, dict(record), json.dumps(record, separators=(",", ":")))
        ex._closed = deque(snapshot["closed"])
        ex._closed_count = len(ex._closed)
        ex._participation = {k: (int(ms), Decimal(q)) for k, (ms, q) in snapshot["participation"].items()}
        # a market kept by symbol has no entry before the first candle
        ex._marks = {k: Decimal(x) for k, x in snapshot.get("marks", {}).items()}
        ex._volumes = {k: Decimal(x) for k, x in snapshot.get("volumes", {}).items()}
        # snapshots from before fills kept to the candle's range have none: the mark stands for its candle
        ex._ranges = {k: (Decimal(lo), Decimal(hi)) for k, (lo, hi) in snapshot.get("ranges", {}).items()}
        ex._last_open_ms = {k: int(x) for k, x in snapshot.get("last_open_ms", {}).items()}
        ex._last_close_ms = {k: int(x) for k, x in snapshot.get("last_close_ms", {}).items()}
        ex._pending = [from_record(Fill, record) for record in snapshot["pending_fills"]]
        # absent from snapshots written before funding was queued
        ex._pending_funding = [from_record(FundingPayment, r) for r in snapshot.get("pending_funding", ())]
        return ex


def trigger_reference(side: OrderSide, trigger: Decimal, base: Decimal) -> Decimal:
    """What a triggered order's slippage cost is measured from: the better of its trigger and where the
    market was, so a stop gapped through costs the gap, and a take-profit gapped past gains no cost."""
    return max(trigger, base) if side is OrderSide.SELL else min(trigger, base)


def unpriceable_reason(rules: SymbolRules, mark: Decimal, low: Decimal, high: Decimal, bps: Decimal) -> str:
    return (f"No price on {rules.symbol}'s tick {_s(rules.tick_size)} lies within the market's range "
            f"{_s(low)}-{_s(high)} (last {_s(mark)}, slippage {_s(bps)} bps): the candles are finer than the "
            f"symbol's rules, so the order would fill at a price the market never had.")


def _crosses(side: OrderSide, limit: Decimal, mark: Decimal | None) -> bool:
    """Would a limit at this price take liquidity now (buy at or above the mark, sell at or below)?"""
    if mark is None:
        return False
    return limit >= mark if side is OrderSide.BUY else limit <= mark


def _s(value: Decimal) -> str:
    return format(value, "f")
