"""The one door to any venue: the simulated exchange or Binance through ccxt, behind one protocol.

Layers above this module see only `models` values and `errors` exceptions: no ccxt dicts, no ccxt or
simulator exceptions, no Redis. Three venues:

- `SimVenueClient`: the built-in simulator, persisted in Redis through a `VenueSnapshotStore`, so the bot
  and the supervisor (which flattens the account when the bot is dead) act on one simulated account. Every
  mutating call takes the store's expiring lock, reloads if someone else wrote, applies the call, and saves
  with compare-and-save; a refused save (this process was frozen past the lock's expiry and someone else
  wrote) raises UnknownOrderStatusError and reloads — newer state is never overwritten.
- `CcxtVenueClient`: `binance-demo` (USDⓈ-M demo trading) or `binance-spot-testnet` (spot sandbox).
  API keys come only from the environment and never appear in logs or error messages.
- live trading is refused until a later issue brings the go-live gate.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from typing import Any, Callable, Mapping, Protocol, TypeVar, runtime_checkable

from redis.exceptions import LockError, RedisError

from clock import Clock
from errors import (
    ExchangeError,
    StateStoreError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
    UnknownOrderStatusError,
    VenueUnavailableError,
)
from models import (
    Account,
    Candle,
    Fill,
    FundingPayment,
    Liquidity,
    MarginMode,
    Mode,
    Order,
    OrderIntent,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from simulator import FaultInjector, Ledger, SimConfig, SimExchange, SymbolRules, load_symbol_rules
from simulator.symbols import BUILTIN_RULES, rules_from_filters

T = TypeVar("T")
ZERO = Decimal("0")


@runtime_checkable
class ExchangeClient(Protocol):
    """What executors and the supervisor use. `take_fills` is the one source of fills for turning them
    into trades: it returns every fill since its last call, including those `on_candle` caused (whose
    return value is for information: do not book both)."""

    name: str

    def on_candle(self, candle: Candle) -> list[Fill]: ...
    def submit(self, intent: OrderIntent) -> Order: ...
    def cancel(self, symbol: str, client_order_id: str) -> Order: ...
    def cancel_all(self, symbol: str | None = None) -> list[Order]: ...
    def fetch_order(self, symbol: str, client_order_id: str) -> Order | None: ...
    def open_orders(self, symbol: str | None = None) -> list[Order]: ...
    def positions(self) -> list[Position]: ...
    def account(self) -> Account: ...
    def set_leverage(self, symbol: str, leverage: int) -> None: ...
    def take_fills(self) -> list[Fill]: ...
    def pending_fills(self) -> list[Fill]: ...
    def ack_fills(self, fills: list[Fill]) -> None: ...
    def pending_funding(self) -> list[FundingPayment]: ...
    def ack_funding(self, payments: list[FundingPayment]) -> None: ...
    def mark_price(self, symbol: str) -> Decimal | None: ...
    def symbol_rules(self, symbol: str) -> SymbolRules: ...
    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------ opening


def load_symbol_rules_for(settings: Any) -> dict[str, SymbolRules]:
    """The rules the simulator enforces: the configured exchangeInfo file over the built-in table. The
    ghost executor uses this too, so it rounds quantities exactly like the venue."""
    path = settings.venue.exchange_info_path
    return load_symbol_rules(settings.resolve_path(path) if path else None)


def open_exchange(settings: Any, *, clock: Clock, venue_store: Any = None) -> ExchangeClient:
    """The venue for the configured mode: paper → `venue.paper_venue`; live is not available yet."""
    if settings.bot.mode is Mode.LIVE:
        raise VenueUnavailableError("live trading arrives in a later issue")
    venue = settings.venue.paper_venue
    if venue == "sim":
        injector = FaultInjector(settings.venue.faults)
        return SimVenueClient(
            SimConfig.from_settings(settings.venue),
            clock,
            load_symbol_rules_for(settings),
            store=venue_store,
            faults=injector if injector.enabled else None,
        )
    client = CcxtVenueClient(venue, clock)
    client.connect()
    return client


# --------------------------------------------------------------------------------------- simulator


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
        self.exchange = SimExchange(config, clock, self.rules)
        if store is not None:
            self._reload()

    # ---------------------------------------------------------------------------- protocol

    def on_candle(self, candle: Candle) -> list[Fill]:
        if self.faults is not None:
            self.faults.on_candle("on_candle")
        return self._mutate("on_candle", lambda ex: ex.on_candle(candle))

    def submit(self, intent: OrderIntent) -> Order:
        return self._mutate("submit", lambda ex: ex.submit(intent), faults=True)

    def cancel(self, symbol: str, client_order_id: str) -> Order:
        return self._mutate("cancel", lambda ex: ex.cancel(symbol, client_order_id), faults=True)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        return self._mutate("cancel_all", lambda ex: ex.cancel_all(symbol), faults=True)

    def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        order = self._read(lambda ex: ex.get_order(client_order_id))
        return order if order is not None and order.symbol == symbol else None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self._read(lambda ex: ex.open_orders(symbol))

    def positions(self) -> list[Position]:
        return self._read(lambda ex: ex.positions())

    def account(self) -> Account:
        return self._read(lambda ex: ex.account())

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self._mutate("set_leverage", lambda ex: ex.set_leverage(symbol, leverage))

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        self._mutate("set_margin_mode", lambda ex: ex.set_margin_mode(symbol, mode))

    def take_fills(self) -> list[Fill]:
        """Fills since the last call, by whichever process calls it (the queue lives in the snapshot)."""
        if self.store is not None and not self._read(lambda ex: ex.has_pending_fills()):
            return []  # nothing queued: no lock, no write
        return self._mutate("take_fills", lambda ex: ex.take_fills())

    def pending_fills(self) -> list[Fill]:
        """The queued fills, left queued until `ack_fills`: a crash before they are booked loses nothing."""
        if self.store is not None and not self._read(lambda ex: ex.has_pending_fills()):
            return []
        return self._read(lambda ex: ex.pending_fills())

    def ack_fills(self, fills: list[Fill]) -> None:
        if fills:
            self._mutate("ack_fills", lambda ex: ex.ack_fills(fills))

    def pending_funding(self) -> list[FundingPayment]:
        """Funding settled and not yet acknowledged, left queued (in the snapshot) until `ack_funding`."""
        return self._read(lambda ex: ex.pending_funding())

    def ack_funding(self, payments: list[FundingPayment]) -> None:
        if payments:
            self._mutate("ack_funding", lambda ex: ex.ack_funding(payments))

    def mark_price(self, symbol: str) -> Decimal | None:
        return self._read(lambda ex: ex.mark_price(symbol))

    def market_time_ms(self) -> int | None:
        """The simulated market's own time (see SimExchange.market_time_ms): a restarted bot goes on after it."""
        return self._read(lambda ex: ex.market_time_ms())

    def symbol_rules(self, symbol: str) -> SymbolRules:
        return self.exchange.symbol_rules(symbol)

    def ledger(self) -> Ledger:
        return self._read(lambda ex: ex.ledger())

    def close(self) -> None:
        """Nothing to release: the Redis connection belongs to whoever passed the store in."""

    # ------------------------------------------------------------------------- persistence

    def _mutate(self, operation: str, apply: Callable[[SimExchange], T], *, faults: bool = False) -> T:
        if faults and self.faults is not None:
            self.faults.before_call(operation)
        if self.store is None:
            result = apply(self.exchange)
        else:
            result = self._locked_apply(operation, apply)
        if faults and self.faults is not None:
            self.faults.after_call(operation)
        return result

    def _locked_apply(self, operation: str, apply: Callable[[SimExchange], T]) -> T:
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
                self._reload()  # never keep a copy that differs from what Redis holds
                raise
            if not self.store.compare_and_save(self._version, self._dump()):
                self._reload()
                raise UnknownOrderStatusError(
                    f"{operation}: the simulated account changed underneath this process (its lock expired "
                    "and another process wrote); reloaded. Look the order up by its client order id."
                )
            self._version += 1
            return result
        finally:
            try:
                lock.release()
            except LockError:
                pass  # it expired while we held it; the compare-and-save above already guarded the data
            except RedisError:
                pass  # Redis went away: the lock expires by itself

    def _read(self, query: Callable[[SimExchange], T]) -> T:
        if self.store is not None:
            self._sync()
        return query(self.exchange)

    def _sync(self) -> None:
        """One HGET: reload only when someone else saved since we last did."""
        if self.store.version() != self._version:
            self._reload()

    def _reload(self) -> None:
        version, data = self.store.load()
        if data:
            self.exchange = SimExchange.restore(json.loads(data), self.config, self.clock, self.rules)
        else:
            self.exchange = SimExchange(self.config, self.clock, self.rules)
        self._version = version

    def _dump(self) -> str:
        return self.exchange.snapshot_json()


# -------------------------------------------------------------------------------------------- ccxt

_BINANCE_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F]+")


def binance_code(message: str) -> int | None:
    """Binance's error code from a ccxt message such as `binanceusdm {"code":-2019,"msg":"..."}`."""
    match = _BINANCE_CODE.search(message)
    return int(match.group(1)) if match else None


def redact(message: str, secrets: tuple[str, ...] = ()) -> str:
    """Keys and request signatures never leave this module, not even inside an error message."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", message)


def map_ccxt_error(exc: BaseException, *, submitting: bool = False, at_start: bool = False,
                   secrets: tuple[str, ...] = ()) -> ExchangeError:
    """A ccxt exception as one of ours. Order matters: ccxt's rate-limit errors are NetworkErrors too.

    `submitting`: a network failure while sending an order means its fate is unknown, not that it failed.
    `at_start`: any failure to reach the venue at start-up is VenueUnavailableError (paper never falls back).
    """
    import ccxt  # here, not at the top: a backtest or the simulator never loads ccxt (~60 MB)

    message = redact(f"{type(exc).__name__}: {exc}", secrets)
    code = binance_code(message)
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return RateLimitError(message)
    if isinstance(exc, ccxt.AuthenticationError):
        return VenueUnavailableError(f"the venue refused our API keys: {message}")
    if isinstance(exc, ccxt.NetworkError):  # RequestTimeout, ExchangeNotAvailable, OnMaintenance, ...
        if at_start:
            return VenueUnavailableError(f"cannot reach the venue: {message}")
        if submitting:
            return UnknownOrderStatusError(message)
        return NetworkError(message)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFundsError(message, code)
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.OperationRejected)):
        return OrderRejectedError(message, code)
    if isinstance(exc, ccxt.BaseError) and at_start:
        return VenueUnavailableError(f"cannot use the venue: {message}")
    return ExchangeError(message)


_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_TYPE = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop_market": OrderType.STOP_MARKET,
    "stop": OrderType.STOP_MARKET,
    "take_profit_market": OrderType.TAKE_PROFIT_MARKET,
    "take_profit": OrderType.TAKE_PROFIT_MARKET,
}


def _after_cursor(rows: Any, last: int, seen: set[str]) -> tuple[list[Mapping[str, Any]], int, set[str]]:
    """The history rows newer than a cursor — the newest timestamp read (`last`, asked again inclusively,
    since Binance pages by time) and the ids already read at it — and the cursor moved past them."""
    out = []
    for row in rows:
        ts, row_id = int(row.get("timestamp") or 0), str(row.get("id"))
        if ts < last or (ts == last and row_id in seen):
            continue
        if ts > last:
            last, seen = ts, set()
        seen.add(row_id)
        out.append(row)
    return out, last, seen


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def order_from_ccxt(raw: Mapping[str, Any]) -> Order:
    """A ccxt unified order as ours."""
    filled = _dec(raw.get("filled")) or ZERO
    status = _STATUS.get(raw.get("status") or "", OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW)
    trigger = _dec(raw.get("triggerPrice") or raw.get("stopPrice"))
    order_type = _TYPE.get(str(raw.get("type") or "").lower(), OrderType.MARKET)
    if order_type is OrderType.MARKET and trigger is not None:
        order_type = OrderType.TAKE_PROFIT_MARKET if raw.get("takeProfitPrice") else OrderType.STOP_MARKET
    fee = raw.get("fee") or {}
    tif = raw.get("timeInForce") or "GTC"
    timestamp = int(raw.get("timestamp") or 0)
    return Order(
        client_order_id=str(raw.get("clientOrderId") or raw.get("id") or ""),
        symbol=str(raw.get("symbol")),
        side=OrderSide(str(raw.get("side")).lower()),
        order_type=order_type,
        qty=_dec(raw.get("amount")) or ZERO,
        status=status,
        price=_dec(raw.get("price")) if order_type is OrderType.LIMIT else None,
        stop_price=trigger,
        filled_qty=filled,
        avg_fill_price=_dec(raw.get("average")),
        fee_paid=_dec(fee.get("cost")) or ZERO,
        reduce_only=bool(raw.get("reduceOnly")),
        time_in_force=TimeInForce(tif) if tif in TimeInForce._value2member_map_ else TimeInForce.GTC,
        exchange_order_id=str(raw.get("id") or ""),
        created_ms=timestamp,
        updated_ms=int(raw.get("lastUpdateTimestamp") or timestamp),
    )


class CcxtVenueClient:
    """Binance demo trading (USDⓈ-M) or the spot testnet through ccxt. Small on purpose: every call is
    one ccxt call, wrapped so that only our errors come out."""

    def __init__(self, venue: str, clock: Clock, *, exchange: Any = None, environ: Mapping[str, str] | None = None):
        if venue not in ("binance-demo", "binance-spot-testnet"):
            raise VenueUnavailableError(f"unknown ccxt venue {venue!r}")
        self.name = venue
        self.clock = clock
        self.spot = venue == "binance-spot-testnet"
        environ = os.environ if environ is None else environ
        self._secrets = (environ.get("BINANCE_API_KEY", ""), environ.get("BINANCE_API_SECRET", ""))
        self._ex = exchange if exchange is not None else self._build(venue)
        self._client_ids: dict[str, str] = {}  # exchange order id -> client order id, for fills
        self._conditional: set[str] = set()  # client ids sent as conditional (algo) orders
        self._symbols: set[str] = set()  # symbols we sent orders for: where fills can appear
        self._started_ms = clock.now_ms()  # fills from before this client started are not news
        self._since: dict[str, int] = {}  # symbol -> timestamp of the last trade taken
        self._seen_at_last: dict[str, set[str]] = {}  # symbol -> trade ids at that timestamp
        self._funding_since: dict[str, int] = {}  # symbol -> time of the last funding income taken
        self._funding_seen: dict[str, set[str]] = {}  # symbol -> income ids at that time

    def _build(self, venue: str) -> Any:
        import ccxt

        key, secret = self._secrets
        if not key or not secret:
            raise VenueUnavailableError(f"{venue} needs BINANCE_API_KEY and BINANCE_API_SECRET in the environment")
        options = {"apiKey": key, "secret": secret, "enableRateLimit": True, "timeout": 10_000,
                   "options": {"warnOnFetchOpenOrdersWithoutSymbol": False}}
        if self.spot:
            ex = ccxt.binance(options)
            ex.set_sandbox_mode(True)
        else:
            ex = ccxt.binanceusdm(options)
            ex.enable_demo_trading(True)
        return ex

    def _call(self, fn: Callable[..., T], *args: Any, submitting: bool = False, at_start: bool = False,
              **kwargs: Any) -> T:
        import ccxt  # loaded once by _build; a cached import here costs nothing

        try:
            return fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise map_ccxt_error(exc, submitting=submitting, at_start=at_start, secrets=self._secrets) from None

    def connect(self) -> None:
        self._call(self._ex.load_markets, at_start=True)

    # ---------------------------------------------------------------------------- protocol

    def on_candle(self, candle: Candle) -> list[Fill]:
        return []  # the real venue matches orders itself

    def submit(self, intent: OrderIntent) -> Order:
        order_type = "market"
        params: dict[str, Any] = {"clientOrderId": intent.client_order_id}
        price = float(intent.price) if intent.price is not None else None
        if intent.order_type is OrderType.LIMIT:
            order_type = "limit"
            if intent.time_in_force is TimeInForce.GTX:
                params["postOnly"] = True
            else:
                params["timeInForce"] = intent.time_in_force.value
        elif intent.order_type is OrderType.STOP_MARKET:
            params["stopLossPrice"] = float(intent.stop_price) if intent.stop_price is not None else None
        elif intent.order_type is OrderType.TAKE_PROFIT_MARKET:
            params["takeProfitPrice"] = float(intent.stop_price) if intent.stop_price is not None else None
        conditional = intent.order_type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
        if intent.reduce_only and not self.spot:
            params["reduceOnly"] = True
        if conditional:
            self._conditional.add(intent.client_order_id)
        self._symbols.add(intent.symbol)
        try:
            raw = self._call(self._ex.create_order, intent.symbol, order_type, intent.side.value, float(intent.qty),
                             price, params, submitting=True)
        except UnknownOrderStatusError:
            found = self._lookup(intent.symbol, intent.client_order_id)
            if found is not None:
                return found
            raise
        order = order_from_ccxt(raw)
        self._client_ids[order.exchange_order_id] = intent.client_order_id
        return order

    def _lookup(self, symbol: str, client_order_id: str) -> Order | None:
        try:
            return self.fetch_order(symbol, client_order_id)
        except ExchangeError:
            return None

    def cancel(self, symbol: str, client_order_id: str) -> Order:
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if client_order_id in self._conditional:
            params["trigger"] = True
        return order_from_ccxt(self._call(self._ex.cancel_order, None, symbol, params))

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        symbols = [symbol] if symbol else sorted({o.symbol for o in self.open_orders()})
        cancelled = []
        for sym in symbols:
            for order in self.open_orders(sym):
                cancelled.append(self.cancel(sym, order.client_order_id))
        return cancelled

    def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if client_order_id in self._conditional:
            params["trigger"] = True
        try:
            return order_from_ccxt(self._call(self._ex.fetch_order, None, symbol, params))
        except OrderRejectedError:
            return None  # Binance: "Order does not exist." (-2013)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        raw = list(self._call(self._ex.fetch_open_orders, symbol))
        if not self.spot:
            raw += self._call(self._ex.fetch_open_orders, symbol, None, None, {"trigger": True})
        return [order_from_ccxt(o) for o in raw]

    def positions(self) -> list[Position]:
        if self.spot:
            return []
        out = []
        for p in self._call(self._ex.fetch_positions):
            qty = _dec(p.get("contracts")) or ZERO
            if qty == 0:
                continue
            isolated = p.get("marginMode") == "isolated"
            out.append(Position(
                symbol=str(p["symbol"]),
                side=Side.LONG if p.get("side") == "long" else Side.SHORT,
                qty=abs(qty),
                entry_price=_dec(p.get("entryPrice")) or ZERO,
                leverage=int(float(p.get("leverage") or 1)),
                margin_mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
                mark_price=_dec(p.get("markPrice")) or ZERO,
                unrealized_pnl=_dec(p.get("unrealizedPnl")) or ZERO,
                isolated_margin=(_dec(p.get("collateral")) or ZERO) if isolated else ZERO,
                liquidation_price=_dec(p.get("liquidationPrice")),
                opened_ms=int(p.get("timestamp") or 0),
            ))
        return out

    def account(self) -> Account:
        balance = self._call(self._ex.fetch_balance)
        info = balance.get("info") or {}
        usdt = balance.get("USDT") or {}
        if not self.spot and "totalWalletBalance" in info:
            return Account(
                wallet_balance=Decimal(str(info["totalWalletBalance"])),
                unrealized_pnl=Decimal(str(info.get("totalUnrealizedProfit", "0"))),
                margin_used=Decimal(str(info.get("totalInitialMargin", "0"))),
                available=Decimal(str(info.get("availableBalance", "0"))),
                ts_ms=self.clock.now_ms(),
            )
        return Account(
            wallet_balance=_dec(usdt.get("total")) or ZERO,
            unrealized_pnl=ZERO,
            margin_used=_dec(usdt.get("used")) or ZERO,
            available=_dec(usdt.get("free")) or ZERO,
            ts_ms=self.clock.now_ms(),
        )

    def set_leverage(self, symbol: str, leverage: int) -> None:
        if self.spot:
            if leverage != 1:
                raise OrderRejectedError("spot trading has no leverage")
            return
        self._call(self._ex.set_leverage, leverage, symbol)

    def take_fills(self) -> list[Fill]:
        """Our trades since the last call, for every symbol we have sent orders for. Trades are fetched
        from the last trade's timestamp (inclusive) and deduplicated by id at that timestamp."""
        fills = []
        for symbol in sorted(self._symbols):
            last = self._since.get(symbol, self._started_ms)
            seen = self._seen_at_last.get(symbol, set())
            rows, last, seen = _after_cursor(self._call(self._ex.fetch_my_trades, symbol, last), last, seen)
            fills += [self._fill_from_ccxt(symbol, t) for t in rows]
            self._since[symbol], self._seen_at_last[symbol] = last, seen
        return sorted(fills, key=lambda f: f.ts_ms)

    def pending_fills(self) -> list[Fill]:
        return self.take_fills()

    def ack_fills(self, fills: list[Fill]) -> None:
        """Nothing to do: fills are read from the venue's own trade history, which nothing drains."""

    def pending_funding(self) -> list[FundingPayment]:
        """Funding since the last call, from Binance's income history (FUNDING_FEE entries, ccxt's
        `fetch_funding_history`), read like the trades: from the last entry's time, deduplicated by id.
        Binance reports income (> 0 received); a FundingPayment's amount is what the position paid."""
        if self.spot:
            return []  # spot has no funding
        payments = []
        for symbol in sorted(self._symbols):
            last = self._funding_since.get(symbol, self._started_ms)
            seen = self._funding_seen.get(symbol, set())
            rows, last, seen = _after_cursor(self._call(self._ex.fetch_funding_history, symbol, last), last, seen)
            payments += [FundingPayment(symbol, -(_dec(e.get("amount")) or ZERO), int(e.get("timestamp") or 0)) for e in rows]
            self._funding_since[symbol], self._funding_seen[symbol] = last, seen
        return sorted(payments, key=lambda p: p.ts_ms)

    def ack_funding(self, payments: list[FundingPayment]) -> None:
        """Nothing to do: the income history is the venue's own, which nothing drains."""

    def _fill_from_ccxt(self, symbol: str, t: Mapping[str, Any]) -> Fill:
        fee = t.get("fee") or {}
        info = t.get("info") or {}
        return Fill(
            client_order_id=self._client_ids.get(str(t.get("order")), str(t.get("order"))),
            symbol=symbol,
            side=OrderSide(str(t["side"]).lower()),
            qty=_dec(t.get("amount")) or ZERO,
            price=_dec(t.get("price")) or ZERO,
            fee=_dec(fee.get("cost")) or ZERO,
            liquidity=Liquidity.MAKER if t.get("takerOrMaker") == "maker" else Liquidity.TAKER,
            ts_ms=int(t.get("timestamp") or 0),
            realized_pnl=_dec(info.get("realizedPnl")) or ZERO,
        )

    def mark_price(self, symbol: str) -> Decimal | None:
        if self.spot:
            return _dec(self._call(self._ex.fetch_ticker, symbol).get("last"))
        return _dec(self._call(self._ex.fetch_mark_price, symbol).get("markPrice"))

    def symbol_rules(self, symbol: str) -> SymbolRules:
        import ccxt

        try:
            market = self._ex.market(symbol)
        except ccxt.BaseError:
            market = None
        if market is not None:
            info = market.get("info") or {}
            rules = rules_from_filters(symbol, str(info.get("symbol", market.get("id", ""))), info.get("filters", []))
            if rules is not None:
                return rules
        if symbol in BUILTIN_RULES:
            return BUILTIN_RULES[symbol]
        raise OrderRejectedError("Invalid symbol.", -1121)

    def close(self) -> None:
        close = getattr(self._ex, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # closing is best effort: nothing useful to do about a failure here
                pass


# ------------------------------------------------------------------------------------ price model


class PriceModel:
    """The simulated venue's taker prices and fees, for the ghost executor: a hypothetical trade is
    priced exactly as the paper venue would price the real order (same slippage, rounding and fees)."""

    def __init__(self, config: SimConfig, rules: Mapping[str, SymbolRules]):
        self.config = config
        self.rules = rules

    @classmethod
    def from_settings(cls, settings: Any, rules: Mapping[str, SymbolRules] | None = None) -> "PriceModel":
        return cls(SimConfig.from_settings(settings.venue), rules if rules is not None else load_symbol_rules_for(settings))

    def market_fill(
        self, symbol: str, side: OrderSide, qty: Decimal, reference: Decimal, candle_volume: Decimal | None,
        candle_range: tuple[Decimal, Decimal] | None = None, *, reduce_only: bool = True,
    ) -> tuple[Decimal, Decimal]:
        """(fill price, slippage cost) of a market order of `qty` against `reference` (the last close), kept
        in `candle_range` (low, high) as the simulator keeps it. An order that opens (`reduce_only=False`)
        is refused, as the simulator refuses it, when its quantity is not above zero or no price on the
        tick lies in the range; an exit always fills."""
        from simulator.exchange import unpriceable_reason
        from simulator.pricing import money, slippage_bps, taker_price
        from simulator.validation import PRICE_FILTER, QTY_NOT_POSITIVE

        if not reduce_only and qty <= 0:
            raise OrderRejectedError("Quantity less than or equal to zero.", QTY_NOT_POSITIVE)
        c = self.config
        rules = self.rules[symbol]
        bps = slippage_bps(c.slippage_model, c.slippage_bps, c.volume_impact_bps, qty, candle_volume)
        low, high = candle_range if candle_range is not None else (reference, reference)
        price = taker_price(reference, side, bps, rules.tick_size, low, high, must_fill=reduce_only)
        if price is None:
            raise OrderRejectedError(unpriceable_reason(rules, reference, low, high, bps), PRICE_FILTER)
        return price, money(abs(price - reference) * qty)

    def trigger_fill(
        self, symbol: str, side: OrderSide, qty: Decimal, trigger: Decimal, base: Decimal, candle: Candle
    ) -> tuple[Decimal, Decimal]:
        """(fill price, slippage cost) of a resting stop or take-profit that `candle` triggered, `base` being
        the worse of its trigger and the open: exactly the simulator's `_trigger_stop`."""
        from simulator.exchange import trigger_reference
        from simulator.pricing import money, slippage_bps, taker_price

        c = self.config
        bps = slippage_bps(c.slippage_model, c.slippage_bps, c.volume_impact_bps, qty, candle.volume)
        price = taker_price(base, side, bps, self.rules[symbol].tick_size, candle.low, candle.high, must_fill=True)
        assert price is not None
        return price, money(abs(price - trigger_reference(side, trigger, base)) * qty)

    def taker_fee(self, qty: Decimal, price: Decimal) -> Decimal:
        from simulator.pricing import fee

        return fee(qty, price, self.config.taker_fee_rate)
