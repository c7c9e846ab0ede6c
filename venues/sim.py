"""The simulator as a venue: `SimVenueClient`, persisted in Redis through a `VenueSnapshotStore`.

The bot and the supervisor (which flattens the account when the bot is dead) act on one simulated account.
Every mutating call takes the store's expiring lock, reloads if someone else wrote, applies the call, and
saves with compare-and-save; a refused save (this process was frozen past the lock's expiry and someone
else wrote) raises UnknownOrderStatusError and reloads — newer state is never overwritten. Without a store
it lives in memory only (backtests, unit tests).

Inside `batch()` (one tick of the bot's loop) a *quiet* candle — one that fills, triggers, cancels or
settles nothing, so it moves only marks, the last candle's range and volume and the market time — is
applied in memory and saved with the next save: the next order call, a candle that does something, or
the end of the batch. Losing such a candle in a crash, or when the batch's save is refused, is as if the
venue had not seen it (nothing feeds it again: it moved only marks, and the next candle sets them);
anything the executor could book or act on (a fill, a funding payment, an order's new status, an
acknowledgement of fills) is saved before any call returns it. Reads inside a batch check the version once; a mutation
inside one is applied to that copy and saved in one round trip (behind the bot's queued writes, an
order's intent among them), refused while anyone holds the lock or after anyone else saved, and then
done the locked way on the newest state. Outside a batch every mutation takes the lock first.

A save writes only the snapshot's parts that changed (`simulator.exchange.SnapshotParts`): the head, the
market of the symbols a candle moved, the orders written or forgotten and the ids closed since the last
save. It sent the whole snapshot, ~95 KB with 100 symbols, three times per entry, then the whole market
(~17 KB) with every save after a candle.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping, TypeVar

from redis.exceptions import LockError, RedisError

from clock import Clock
from errors import NetworkError, StateStoreError, TradingHaltedError, UnknownOrderStatusError
from models import Account, Candle, Fill, FundingPayment, MarginMode, Order, OrderIntent, Position
from simulator import FaultInjector, Ledger, SimConfig, SimExchange, SymbolRules
from simulator.exchange import SnapshotParts

T = TypeVar("T")

log = logging.getLogger(__name__)


class SimVenueClient:
    """The simulator as a venue. Without a store it lives in memory only (backtests, tests)."""

    def __init__(
        self,
        config: SimConfig,
        clock: Clock,
        rules: dict[str, SymbolRules],
        *,
        store: Any = None,
        faults: FaultInjector | None = None,
        name: str = "sim",
        lock_timeout_s: float = 2.0,
        lock_wait_s: float = 3.0,
    ):
        self.name = name
        self.config = config
        self.clock = clock
        self.rules = dict(rules)
        self.store = store  # a state.VenueSnapshotStore, or None
        self.faults = faults
        self.lock_timeout_s = lock_timeout_s
        self.lock_wait_s = lock_wait_s
        self._version = 0
        self._batches = 0  # depth of nested `batch()` contexts
        self._synced_in_batch = False
        self._unsaved = False  # quiet candles applied in memory since the last save
        # what Redis holds of the snapshot's parts (SnapshotParts): each order as saved (None: one this copy
        # does not hold, to be forgotten), the symbols a candle moved since (None: Redis does not hold the
        # market by symbol, the next save writes it whole) and how many closed ids (None: not apart), so a
        # save writes only what changed
        self._saved_orders: Mapping[str, Order | None] = {}
        self._market_moved: set[str] | None = None
        self._closed_saved: int | None = None
        # the bot's trading thread and its command thread share this client; every call is one unit
        self._guard = threading.RLock()
        # the copy may hold a change Redis never took (a save or a reload failed on a Redis error): every
        # next call reloads it first, and nothing saves it (an entry kept in it was saved later, unchecked,
        # by a reduce-only stop's save, while HALTED: found by an attack with Redis out of memory)
        self._stale = False
        self.exchange = SimExchange(config, clock, self.rules)
        if store is not None:
            self._reload()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many candles as one venue update: quiet candles are saved once, at the end (see the module)."""
        with self._guard:
            self._batches += 1
            if self._batches == 1:
                self._synced_in_batch = False
        try:
            yield
        finally:
            with self._guard:
                self._batches -= 1
                if self._batches == 0:
                    self.flush()

    def flush(self) -> None:
        """Save the quiet candles still only in memory. A save refused or a lock not taken leaves them to
        the next save (they are the venue not having seen those candles yet); Redis errors propagate."""
        with self._guard:
            if self.store is None or not self._unsaved or self._stale:
                return
            # quiet candles are nobody's to act on, so no lock is taken: one round trip, refused while
            # another process holds the lock or after it wrote (then the next sync reloads its state)
            if not self._saved_or_discarded(self._try_save_unlocked):
                log.warning("simulated venue: candles not saved yet (the venue is busy or changed); "
                            "saved with the next save")

    # ---------------------------------------------------------------------------- protocol

    def on_candle(self, candle: Candle) -> list[Fill]:
        if self.faults is not None:
            self.faults.on_candle("on_candle")
        if self.store is None:
            return self.exchange.on_candle(candle)
        if not self._batches:
            return self._mutate("on_candle", lambda ex: self._apply_candle(ex, candle))
        with self._guard:
            self._sync_in_batch()
            before = self.exchange.change_count()
            try:
                fills = self._apply_candle(self.exchange, candle)
            except BaseException:
                self._reload()
                raise
            if self.exchange.change_count() == before:
                self._unsaved = True
                return fills
            # it filled, triggered, cancelled or settled something: saved before anyone can see it. If
            # someone else wrote meanwhile, the candle goes again on their state, under the lock.
            if self._save_unlocked():
                return fills
            return self._locked_apply("on_candle", lambda ex: self._apply_candle(ex, candle))

    def _apply_candle(self, exchange: SimExchange, candle: Candle) -> list[Fill]:
        if self._market_moved is not None:  # a candle moves its symbol's market: the next save writes it
            self._market_moved.add(candle.symbol)
        return exchange.on_candle(candle)

    def submit(self, intent: OrderIntent) -> Order:
        """Saved in the bot's Redis, an order that adds risk is placed only if the bot is ACTIVE in the same
        atomic step as its save (TradingHaltedError otherwise, nothing placed): see `checks_trading_state_in`."""
        if self.store is None and self.faults is None:
            return self.exchange.submit(intent)
        return self._mutate("submit", lambda ex: ex.submit(intent), faults=True, only_if_active=not intent.reduce_only)

    def cancel(self, symbol: str, client_order_id: str) -> Order:
        if self.store is None and self.faults is None:
            return self.exchange.cancel(symbol, client_order_id)
        return self._mutate("cancel", lambda ex: ex.cancel(symbol, client_order_id), faults=True)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        return self._mutate("cancel_all", lambda ex: ex.cancel_all(symbol), faults=True)

    def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        order = (self.exchange.get_order(client_order_id) if self.store is None
                 else self._read(lambda ex: ex.get_order(client_order_id)))
        return order if order is not None and order.symbol == symbol else None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if self.store is None:
            return self.exchange.open_orders(symbol)
        return self._read(lambda ex: ex.open_orders(symbol))

    def positions(self) -> list[Position]:
        if self.store is None:
            return self.exchange.positions()
        return self._read(SimExchange.positions)

    def account(self) -> Account:
        if self.store is None:
            return self.exchange.account()
        return self._read(SimExchange.account)

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self._mutate("set_leverage", lambda ex: ex.set_leverage(symbol, leverage))

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        self._mutate("set_margin_mode", lambda ex: ex.set_margin_mode(symbol, mode))

    def take_fills(self) -> list[Fill]:
        """Fills since the last call, by whichever process calls it (the queue lives in the snapshot)."""
        if self.store is not None and not self._read(SimExchange.has_pending_fills):
            return []  # nothing queued: no lock, no write
        return self._mutate("take_fills", lambda ex: ex.take_fills())

    def pending_fills(self) -> list[Fill]:
        """The queued fills, left queued until `ack_fills`: a crash before they are booked loses nothing."""
        if self.store is None:
            return self.exchange.pending_fills()
        if not self._read(SimExchange.has_pending_fills):
            return []
        return self._read(SimExchange.pending_fills)

    def ack_fills(self, fills: list[Fill]) -> None:
        if fills:
            if self.store is None:
                return self.exchange.ack_fills(fills)
            self._mutate("ack_fills", lambda ex: ex.ack_fills(fills))

    def pending_funding(self) -> list[FundingPayment]:
        """Funding settled and not yet acknowledged, left queued (in the snapshot) until `ack_funding`."""
        if self.store is None:
            return self.exchange.pending_funding()
        return self._read(SimExchange.pending_funding)

    def ack_funding(self, payments: list[FundingPayment]) -> None:
        if payments:
            if self.store is None:
                return self.exchange.ack_funding(payments)
            self._mutate("ack_funding", lambda ex: ex.ack_funding(payments))

    def mark_price(self, symbol: str) -> Decimal | None:
        if self.store is None:
            return self.exchange.mark_price(symbol)
        return self._read(lambda ex: ex.mark_price(symbol))

    def market_time_ms(self) -> int | None:
        """The simulated market's own time (see SimExchange.market_time_ms): a restarted bot goes on after it."""
        return self._read(lambda ex: ex.market_time_ms())

    def symbol_rules(self, symbol: str) -> SymbolRules:
        return self.exchange.symbol_rules(symbol)

    def ledger(self) -> Ledger:
        return self._read(lambda ex: ex.ledger())

    def saves_in(self, store: Any) -> bool:
        """Whether every change of this venue is saved through `store` (a state.StateStore), in the round trip
        that carries the writes queued there before it: what a caller queued before an order is then
        durable with the order, in one MULTI/EXEC, never after it."""
        return self.store is not None and getattr(self.store, "store", None) is store

    def checks_trading_state_in(self, store: Any) -> bool:
        """Whether an order that adds risk is placed only while `store`'s bot is ACTIVE, checked in the atomic
        step that places it (the save script reads the halt flag, the state and the run marker): the bot then
        need not read them itself right before the order, and a halt set at any moment before is obeyed."""
        return self.saves_in(store)

    def close(self) -> None:
        """Nothing to release: the Redis connection belongs to whoever passed the store in."""

    # ------------------------------------------------------------------------- persistence

    def _mutate(self, operation: str, apply: Callable[[SimExchange], T], *, faults: bool = False,
                only_if_active: bool = False) -> T:
        if faults and self.faults is not None:
            self.faults.before_call(operation)
        if self.store is None:
            result = apply(self.exchange)
        else:
            with self._guard:
                result = (self._batched_apply(operation, apply, only_if_active) if self._batches
                          else self._locked_apply(operation, apply, only_if_active))
        if faults and self.faults is not None:
            self.faults.after_call(operation)
        return result

    def _batched_apply(self, operation: str, apply: Callable[[SimExchange], T], only_if_active: bool = False) -> T:
        """Inside a batch: applied to the copy in memory (checked once a batch, as reads are) and saved in one
        round trip, behind the bot's queued writes (an order's intent among them), refused while anyone holds
        the lock or after anyone else saved. Refused, it is done the locked way on the newest state, as if
        the lock had been taken first: nobody saw the refused copy. A lock, then a save, were two round trips."""
        self._sync_in_batch()
        version = self._version
        try:
            result = apply(self.exchange)
        except BaseException:
            self._discard_copy()  # never keep a copy that differs from what Redis holds
            if self._stale or self._version == version:
                raise  # decided on the newest state (or Redis cannot tell what that is)
            return self._locked_apply(operation, apply, only_if_active)
        if self._save_unlocked(only_if_active):
            return result
        return self._locked_apply(operation, apply, only_if_active)

    def _save_unlocked(self, only_if_active: bool = False) -> bool:
        """Save the copy in memory unless anyone holds the lock or saved since; refused, it is reloaded."""
        if self._saved_or_discarded(lambda: self._try_save_unlocked(only_if_active)):
            return True
        self._reload()
        return False

    def _saved_or_discarded(self, save: Callable[[], bool]) -> bool:
        """`save()`; when it raises (the bot not ACTIVE for an entry, a Redis error) the copy is discarded: the
        change applied to it was not placed, or nobody can tell."""
        try:
            return save()
        except BaseException:
            self._discard_copy()
            raise

    def _discard_copy(self) -> None:
        """Reload the copy from Redis; if Redis cannot be read either, the copy is stale: the next call reloads
        it first and nothing saves it."""
        self._stale = True
        try:
            self._reload()
        except (StateStoreError, RedisError):
            pass  # the caller's error is the one to raise; the copy stays marked stale

    def _try_save_unlocked(self, only_if_active: bool = False) -> bool:
        dumped, market = self._dump()
        if not self.store.save_if_unlocked(self._version, dumped, market, self._market_moved is None,
                                           only_if_active=only_if_active):
            return False
        self._was_saved(dumped)
        return True

    def _locked_apply(self, operation: str, apply: Callable[[SimExchange], T], only_if_active: bool = False) -> T:
        lock = self.store.lock(self.lock_timeout_s, self.lock_wait_s)
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise StateStoreError(f"cannot take the simulated venue's lock: {exc}") from None
        if not acquired:
            raise NetworkError(f"simulated venue busy: could not take its lock for {operation} "
                               f"within {self.lock_wait_s} s; nothing was sent")
        try:
            self._sync()
            try:
                result = apply(self.exchange)
            except BaseException:
                self._discard_copy()  # never keep a copy that differs from what Redis holds
                raise
            dumped, market = self._dump()
            saved = self._saved_or_discarded(lambda: self.store.compare_and_save(
                self._version, dumped, market, self._market_moved is None, only_if_active=only_if_active))
            if not saved:
                self._reload()
                raise UnknownOrderStatusError(
                    f"{operation}: the simulated account changed underneath this process (its lock expired "
                    "and another process wrote); reloaded. Look the order up by its client order id."
                )
            self._was_saved(dumped)
            return result
        finally:
            try:
                lock.release()
            except LockError:
                pass  # it expired while we held it; the compare-and-save above already guarded the data
            except RedisError:
                pass  # Redis went away: the lock expires by itself

    # Without a store (a backtest, a unit test) the calls above go straight to the exchange: a read or a
    # call through `_read`/`_mutate` built a closure for every one of the ~30 venue calls of a round trip.

    def _read(self, query: Callable[[SimExchange], T]) -> T:
        if self.store is None:
            return query(self.exchange)
        with self._guard:
            if not self._batches or self._stale or not self._synced_in_batch:  # (checked once a batch)
                self._sync_in_batch()
            return query(self.exchange)

    def _sync_in_batch(self) -> None:
        """Outside a batch every read checks the version; inside one only the first does (the other writer,
        the supervisor, writes only when this bot is dead, frozen or handed a flatten over, and every
        mutation checks again under the lock)."""
        if not self._batches:
            self._sync()
        elif self._stale or not self._synced_in_batch:
            self._sync()
            self._synced_in_batch = True

    def _sync(self) -> None:
        """One HGET: reload only when someone else saved since we last did (or the copy is stale)."""
        if self._stale or self.store.version() != self._version:
            self._reload()

    def _reload(self) -> None:
        self._unsaved = False  # quiet candles not saved are dropped: the venue had not seen them yet
        loaded = self.store.load_snapshot()
        if loaded.snapshot is not None:
            self.exchange = SimExchange.restore(loaded.snapshot, self.config, self.clock, self.rules)
        else:
            self.exchange = SimExchange(self.config, self.clock, self.rules)
        self._version = loaded.version
        # the orders restored are those Redis holds (a whole snapshot's: none yet, the next save writes them)
        restored = self.exchange.orders_by_id() if loaded.saved_orders else {}
        self._saved_orders = {k: restored.get(k) for k in loaded.saved_orders}
        self._market_moved = set() if loaded.market_saved else None
        self._closed_saved = self.exchange.closed_count() if loaded.closed_saved else None
        self._stale = False

    def _dump(self) -> tuple[SnapshotParts, dict[str, str]]:
        """The snapshot's parts that changed since the last save, and the market of the symbols a candle moved
        (every symbol's while Redis does not hold the market by symbol)."""
        parts = self.exchange.snapshot_parts(market=False, saved=self._saved_orders, closed_saved=self._closed_saved)
        return parts, self.exchange.market_parts(self._market_moved)

    def _was_saved(self, dumped: SnapshotParts) -> None:
        """Redis holds `dumped` now, as the next version: the next save starts from it."""
        self._version += 1
        self._unsaved = False
        self._saved_orders, self._closed_saved = dumped.orders_now, dumped.closed_count
        self._market_moved = set()

