"""Binance through ccxt: `binance-demo` (USDⓈ-M demo), `binance-spot-testnet`, `binance-live` (USDⓈ-M mainnet).

At start-up the venue is asked, not assumed (`connect`): its markets and symbol rules, its clock, its
position mode (one-way, or we refuse), and leverage and margin type set per configured symbol.

Orders carry our deterministic client order id. Stops and take-profits are conditional orders, which
Binance takes only through its Algo Order API (since 2025-12-09; a plain /fapi/v1/order answers -4120):
ccxt routes an order there when its params carry a trigger price, names our id `clientAlgoId`, and sees
algo orders only when asked with `trigger=True` — so which kind an order is comes from its id (a stop or
take-profit suffix, order_ids.exit_kind) and survives a restart. A triggered algo order becomes a
regular order (`actualOrderId`); its fills are booked under the algo order's client id.

On a timeout or an unknown answer, or a -4116 "duplicate client order id", the order is looked up by
its client id (regular and algo) before anything is sent again. Keys come from the environment only
(binance_connection) and never appear in an error message (ccxt_errors.redact).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, TypeVar

from clock import Clock
from errors import (
    ClockSkewError,
    ExchangeError,
    OrderRejectedError,
    UnknownOrderStatusError,
    VenueAuthenticationError,
)
from models import (
    Account,
    Candle,
    ExitReason,
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
)
from order_ids import exit_kind
from simulator.symbols import SymbolRules
from venues.binance_clock import ServerClock
from venues.binance_connection import BinanceVenue, build_exchange, venue_named
from venues.binance_pacing import Pacer
from venues.binance_rules import RulesCache
from venues.ccxt_errors import map_ccxt_error
from venues.ccxt_parsing import ZERO, after_cursor, dec, order_from_ccxt

T = TypeVar("T")
log = logging.getLogger(__name__)

DUPLICATE_CLIENT_ID = -4116
MARKET_SETTLE_S = 2.0  # how long a market order answered "NEW" is asked about until it is final
CONDITIONAL = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
HOUR_MS = 3_600_000
FUNDING_GRACE_MS = 30_000  # Binance books the income a few seconds after the funding time


def is_conditional_id(client_order_id: str) -> bool:
    """Stops and take-profits are algo orders; their ids say so (order_ids)."""
    return exit_kind(client_order_id) in ("stop", ExitReason.TAKE_PROFIT)


class CcxtVenueClient:
    """A Binance venue through ccxt; only `models` values and our `errors` come out."""

    def __init__(self, venue: str, clock: Clock, *, exchange: Any = None, environ: Mapping[str, str] | None = None,
                 base_url: str = "", symbols: Iterable[str] = (), leverage: int | None = None,
                 margin_mode: MarginMode | None = None, recv_window_ms: int = 5000, rules_refresh_s: float = 3600.0,
                 timeout_s: float = 10.0, pacer: Pacer | None = None, closing_only: bool = False):
        import os

        self.venue: BinanceVenue = venue_named(venue)
        self.name = venue
        self.clock = clock
        self.spot = self.venue.spot
        key, secret = self.venue.credentials(os.environ if environ is None else environ)
        self._secrets = (key, secret)
        self._ex = exchange if exchange is not None else build_exchange(
            self.venue, key, secret, base_url=base_url, recv_window_ms=recv_window_ms, timeout_s=timeout_s)
        self._pacer = pacer or Pacer(venue)
        self.server_clock = ServerClock(venue, recv_window_ms)
        self._rules = RulesCache(venue, self._load_markets, rules_refresh_s)
        self._configured = tuple(symbols)
        self._leverage = leverage
        self._margin_mode = margin_mode
        self._client_ids: dict[str, str] = {}  # exchange order id (incl. a triggered algo's actualOrderId) -> ours
        self._conditional: set[str] = set()  # client ids sent as algo orders whose id does not say so
        self._symbols: set[str] = set(self._configured)  # where fills and funding can appear
        self._started_ms = 0  # set at connect, in the venue's time: fills from before are not news
        self._since: dict[str, int] = {}  # symbol -> timestamp of the last trade taken
        self._seen_at_last: dict[str, set[str]] = {}  # symbol -> trade ids at that timestamp
        self._funding_since: dict[str, int] = {}
        self._funding_seen: dict[str, set[str]] = {}
        self._funding_due_ms = 0  # venue time of the next income-history read
        # opened by the supervisor to cancel and close only (exchange_client.open_venue_for_closing)
        self.closing_only = closing_only

    # ----------------------------------------------------------------------------- plumbing

    def _call(self, fn: Callable[..., T], *args: Any, submitting: bool = False, at_start: bool = False,
              **kwargs: Any) -> T:
        """One ccxt call, paced (429/418), with one clock resync and retry on -1021; our errors only."""
        import ccxt  # loaded with the client; a cached import here costs nothing

        for attempt in (1, 2):
            try:
                return self._pacer.run(lambda: fn(*args, **kwargs), self._response_headers)
            except ccxt.BaseError as exc:
                error = map_ccxt_error(exc, submitting=submitting, at_start=at_start, secrets=self._secrets)
            if isinstance(error, ClockSkewError) and attempt == 1:
                self.sync_clock()  # -1021: the request did nothing; our timestamps were off
                continue
            if isinstance(error, VenueAuthenticationError):
                error = VenueAuthenticationError(
                    f"{self.name}: {error} (check {self.venue.key_variable} and {self.venue.secret_variable})")
            raise error from None
        raise AssertionError("unreachable")

    def _response_headers(self) -> Mapping[str, Any] | None:
        return getattr(self._ex, "last_response_headers", None)

    def _load_markets(self) -> Mapping[str, Mapping[str, Any]]:
        return self._call(self._ex.load_markets, True)

    def sync_clock(self) -> int:
        """Measure the venue's clock (GET /time) and sign with it from now on."""
        return self.server_clock.measure(lambda: self._call(self._ex.fetch_time), self._ex)

    # ----------------------------------------------------------------------------- start-up

    def connect(self) -> None:
        """Ask the venue what it is: markets and rules, clock, position mode; set leverage and margin type.

        Any failure to reach it is VenueUnavailableError (paper never falls back to the simulator)."""
        from errors import VenueUnavailableError

        try:
            self._rules.load()
            self.sync_clock()
        except ExchangeError as exc:
            if isinstance(exc, VenueUnavailableError):
                raise
            raise VenueUnavailableError(f"{self.name}: cannot start: {exc}") from None
        self._started_ms = self.server_clock.venue_now_ms()
        if self.closing_only:
            return  # nothing is configured or refused on the way to a close: it only cancels and closes
        missing = [s for s in self._configured if s not in self._rules.all()]
        if missing:
            raise VenueUnavailableError(f"{self.name} does not list {', '.join(missing)} (check bot.symbols)")
        if self.spot:
            return
        if not self.venue.demo:
            self._check_key_permissions()
        hedged = self._call(self._ex.fetch_position_mode, None, at_start=True).get("hedged")
        if hedged:
            raise VenueUnavailableError(
                f"{self.name}: the account is in hedge mode (dualSidePosition true); this bot trades one-way "
                "positions: switch the account to one-way mode at the venue, then start again")
        for symbol in self._configured:
            self._configure_symbol(symbol)

    def key_restrictions(self) -> dict[str, Any]:
        """Binance's GET /sapi/v1/account/apiRestrictions for our key (mainnet only: demo has no such endpoint);
        what control.go_live.venue_conditions judges."""
        return dict(self._call(self._ex.sapi_get_account_apirestrictions, at_start=True))

    def _check_key_permissions(self) -> None:
        """A mainnet key must trade futures and must not withdraw (a leaked trading key then cannot empty the
        account); an IP restriction is advised. Demo has no account-management endpoints to ask."""
        from errors import VenueUnavailableError

        rights = self.key_restrictions()
        if rights.get("enableWithdrawals"):
            raise VenueUnavailableError(
                f"{self.name}: the API key in {self.venue.key_variable} may withdraw funds: create a key with "
                "withdrawals disabled (futures trading only) and use that one")
        if not rights.get("enableFutures"):
            raise VenueUnavailableError(
                f"{self.name}: the API key in {self.venue.key_variable} may not trade futures: enable "
                "\"Enable Futures\" for it at the venue")
        if not rights.get("ipRestrict"):
            log.warning("%s: the API key is not restricted to trusted IPs; restrict it at the venue", self.name)

    def _configure_symbol(self, symbol: str) -> None:
        """Leverage and margin type as configured. Binance refuses a margin type change while a position or
        order is open (-4047/-4048): then the venue's setting stays, with a warning, and start-up goes on
        (a restart must recover its positions, not stop at them)."""
        if self._leverage is not None:
            try:
                self.set_leverage(symbol, self._leverage)
            except OrderRejectedError as exc:
                log.warning("%s: %s: leverage %s not set, the venue keeps its own: %s", self.name, symbol,
                            self._leverage, exc)
        if self._margin_mode is not None:
            try:
                self.set_margin_mode(symbol, self._margin_mode)
            except OrderRejectedError as exc:
                log.warning("%s: %s: margin type %s not set, the venue keeps its own: %s", self.name, symbol,
                            self._margin_mode.value, exc)

    def arm_countdown(self, symbol: str, countdown_ms: int) -> None:
        """Binance's dead-man switch for `symbol` (POST /fapi/v1/countdownCancelAll): unless called again
        within `countdown_ms`, the venue cancels the symbol's open orders; 0 disarms it."""
        if self.spot:
            raise OrderRejectedError(f"{self.name}: spot has no countdownCancelAll")
        market_id = self._ex.market(symbol)["id"]
        self._call(self._ex.fapiPrivatePostCountdownCancelAll, {"symbol": market_id, "countdownTime": int(countdown_ms)})

    def all_symbol_rules(self) -> dict[str, SymbolRules]:
        """Every symbol's rules as the venue states them (what the planner and the risk gate use)."""
        return self._rules.all()

    # ---------------------------------------------------------------------------------- orders

    def on_candle(self, candle: Candle) -> list[Fill]:
        return []  # the real venue matches orders itself

    def submit(self, intent: OrderIntent) -> Order:
        if not intent.reduce_only:
            if self.closing_only:
                raise OrderRejectedError(f"{self.name}: {intent.client_order_id} refused: this connection only closes "
                                         "(reduce-only orders); it was opened for the kill switch")
            self.server_clock.refuse_if_off()
        order_type, price, params = self._order_request(intent)
        conditional = intent.order_type in CONDITIONAL
        if conditional and not is_conditional_id(intent.client_order_id):
            self._conditional.add(intent.client_order_id)
        self._symbols.add(intent.symbol)
        try:
            raw = self._call(self._ex.create_order, intent.symbol, order_type, intent.side.value, float(intent.qty),
                             price, params, submitting=True)
        except UnknownOrderStatusError:
            found = self.fetch_order(intent.symbol, intent.client_order_id)
            if found is not None:
                return found
            raise
        except OrderRejectedError as exc:
            if exc.code != DUPLICATE_CLIENT_ID:
                raise
            found = self.fetch_order(intent.symbol, intent.client_order_id)  # it exists: sent before
            if found is None:
                raise
            return found
        order = self._order(raw, intent.client_order_id)
        if intent.order_type is OrderType.MARKET and order.status.is_open:
            order = self._settle(intent.symbol, order)
        return order

    def _order_request(self, intent: OrderIntent) -> tuple[str, float | None, dict[str, Any]]:
        params: dict[str, Any] = {"clientOrderId": intent.client_order_id}
        order_type = "market"
        price = float(intent.price) if intent.price is not None else None
        if intent.order_type is OrderType.LIMIT:
            order_type = "limit"
            if intent.time_in_force is TimeInForce.GTX:
                params["postOnly"] = True
            else:
                params["timeInForce"] = intent.time_in_force.value
        elif intent.order_type in CONDITIONAL:
            if intent.stop_price is None:
                raise OrderRejectedError(f"{intent.client_order_id}: a {intent.order_type.value} needs a stop price")
            key = "stopLossPrice" if intent.order_type is OrderType.STOP_MARKET else "takeProfitPrice"
            params[key] = float(intent.stop_price)
            # the simulator triggers on traded prices, so the venue triggers on the last price too
            params["workingType"] = "CONTRACT_PRICE"
            price = None
        if intent.reduce_only and not self.spot:
            params["reduceOnly"] = True
        return order_type, price, params

    def _settle(self, symbol: str, order: Order) -> Order:
        """A market order answered before it finished: asked again, briefly, until it has."""
        deadline = time.monotonic() + MARKET_SETTLE_S
        while order.status.is_open and time.monotonic() < deadline:
            time.sleep(0.05)
            found = self.fetch_order(symbol, order.client_order_id)
            if found is not None:
                order = found
        return order

    def _order(self, raw: Mapping[str, Any], client_order_id: str | None = None) -> Order:
        order = order_from_ccxt(raw)
        if client_order_id and not order.client_order_id:
            order = replace(order, client_order_id=client_order_id)
        if order.exchange_order_id:
            self._client_ids[order.exchange_order_id] = order.client_order_id
        actual = str((raw.get("info") or {}).get("actualOrderId") or "")
        if actual and actual != "0":
            self._client_ids[actual] = order.client_order_id
        return order

    def _algo_first(self, client_order_id: str) -> bool:
        return not self.spot and (client_order_id in self._conditional or is_conditional_id(client_order_id))

    def cancel(self, symbol: str, client_order_id: str) -> Order:
        kinds = [True, False] if self._algo_first(client_order_id) else [False, True]
        if self.spot:
            kinds = [False]
        last: OrderRejectedError | None = None
        for algo in kinds:
            params: dict[str, Any] = {"clientOrderId": client_order_id, **({"trigger": True} if algo else {})}
            try:
                raw = self._call(self._ex.cancel_order, None, symbol, params)
            except OrderRejectedError as exc:  # not this kind (unknown order): the other kind
                last = exc
                continue
            if raw.get("side") and raw.get("symbol"):
                return self._order(raw, client_order_id)
            # an algo cancel answers {algoId, clientAlgoId, code: 200}: the order itself is asked for
            found = self._fetch(symbol, client_order_id, algo)
            if found is not None:
                return found
            raise ExchangeError(f"{self.name}: {client_order_id} was cancelled but cannot be read back")
        assert last is not None
        raise last

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Every open order (regular and algo) of `symbol`, or of every symbol, cancelled; the venue's
        cancel-all answers with no orders, so what was open is what it cancelled."""
        open_now = self.open_orders(symbol)
        for sym in sorted({o.symbol for o in open_now}):
            mine = [o for o in open_now if o.symbol == sym]
            if any(not self._algo_first(o.client_order_id) for o in mine):
                self._call(self._ex.cancel_all_orders, sym)
            if not self.spot and any(self._algo_first(o.client_order_id) for o in mine):
                self._call(self._ex.cancel_all_orders, sym, {"trigger": True})
        return [replace(o, status=OrderStatus.CANCELED) for o in open_now]

    def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        """The order with this client id, regular or algo (the likelier kind first), or None."""
        kinds = [True, False] if self._algo_first(client_order_id) else [False, True]
        for algo in kinds[: 1 if self.spot else 2]:
            found = self._fetch(symbol, client_order_id, algo)
            if found is not None:
                return found
        return None

    def _fetch(self, symbol: str, client_order_id: str, algo: bool) -> Order | None:
        params: dict[str, Any] = {"clientOrderId": client_order_id, **({"trigger": True} if algo else {})}
        try:
            raw = self._call(self._ex.fetch_order, None, symbol, params)
        except OrderRejectedError:
            return None  # "Order does not exist." (-2013) or its algo twin
        order = self._order(raw, client_order_id)
        actual = str((raw.get("info") or {}).get("actualOrderId") or "")
        if algo and actual and actual != "0":
            order = self._with_actual(symbol, order, actual)
        return order

    def _with_actual(self, symbol: str, algo: Order, actual_id: str) -> Order:
        """A triggered algo order, with what its actual (market) order did."""
        try:
            raw = self._call(self._ex.fetch_order, actual_id, symbol)
        except ExchangeError:
            return algo
        actual = order_from_ccxt(raw)
        return replace(algo, status=actual.status, filled_qty=actual.filled_qty, avg_fill_price=actual.avg_fill_price,
                       fee_paid=actual.fee_paid, updated_ms=actual.updated_ms)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Regular and algo orders of `symbol`, or of every symbol this bot trades or holds. Asked symbol by
        symbol: unfiltered, each list weighs 40 (of 2400 a minute) and ccxt's throttle waits 2 s for it,
        which a kill switch confirming flat cannot afford."""
        raw: list = []
        for sym in [symbol] if symbol else sorted(self._symbols):
            raw += self._call(self._ex.fetch_open_orders, sym)
            if not self.spot:
                raw += self._call(self._ex.fetch_open_orders, sym, None, None, {"trigger": True})
        return [self._order(o) for o in raw]

    def open_orders_everywhere(self) -> list[Order]:
        """Every open order on the account, of any symbol: one unfiltered list of regular and one of algo
        orders (weight 40 each, so ccxt's throttle may wait 2 s after). What a kill switch reads once the
        positions are flat, so an order the trader left resting on a symbol this bot never traded is
        cancelled too; each symbol found is asked about from then on."""
        raw = list(self._call(self._ex.fetch_open_orders))
        if not self.spot:
            raw += self._call(self._ex.fetch_open_orders, None, None, None, {"trigger": True})
        orders = [self._order(o) for o in raw]
        self._symbols.update(o.symbol for o in orders)
        return orders

    # ------------------------------------------------------------------------------ account

    def positions(self) -> list[Position]:
        if self.spot:
            return []
        out = []
        for p in self._call(self._ex.fetch_positions):
            qty = dec(p.get("contracts")) or ZERO
            if qty == 0:
                continue
            isolated = p.get("marginMode") == "isolated"
            self._symbols.add(str(p["symbol"]))  # a position anywhere is where orders and fills can be
            out.append(Position(
                symbol=str(p["symbol"]),
                side=Side.LONG if p.get("side") == "long" else Side.SHORT,
                qty=abs(qty),
                entry_price=dec(p.get("entryPrice")) or ZERO,
                leverage=int(float(p.get("leverage") or 1)),
                margin_mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
                mark_price=dec(p.get("markPrice")) or ZERO,
                unrealized_pnl=dec(p.get("unrealizedPnl")) or ZERO,
                isolated_margin=(dec(p.get("collateral")) or ZERO) if isolated else ZERO,
                liquidation_price=dec(p.get("liquidationPrice")),
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
            wallet_balance=dec(usdt.get("total")) or ZERO,
            unrealized_pnl=ZERO,
            margin_used=dec(usdt.get("used")) or ZERO,
            available=dec(usdt.get("free")) or ZERO,
            ts_ms=self.clock.now_ms(),
        )

    def set_leverage(self, symbol: str, leverage: int) -> None:
        if self.spot:
            if leverage != 1:
                raise OrderRejectedError("spot trading has no leverage")
            return
        self._call(self._ex.set_leverage, leverage, symbol)

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """ccxt answers Binance's "No need to change margin type." (-4046) as success."""
        if self.spot:
            return
        self._call(self._ex.set_margin_mode, mode.value, symbol)

    # -------------------------------------------------------------------------------- fills

    def take_fills(self) -> list[Fill]:
        """Our trades since the last call, for every symbol we trade. Trades are fetched from the last
        trade's timestamp (inclusive) and deduplicated by id at that timestamp."""
        fills = []
        for symbol in sorted(self._symbols):
            last = self._since.get(symbol, self._started_ms)
            seen = self._seen_at_last.get(symbol, set())
            rows, last, seen = after_cursor(self._call(self._ex.fetch_my_trades, symbol, last), last, seen)
            self._resolve_order_ids(symbol, {str(t.get("order")) for t in rows} - set(self._client_ids))
            fills += [self._fill_from_ccxt(symbol, t) for t in rows]
            self._since[symbol], self._seen_at_last[symbol] = last, seen
        return sorted(fills, key=lambda f: f.ts_ms)

    def _resolve_order_ids(self, symbol: str, unknown: set[str]) -> None:
        """Client ids for trades of orders this process did not send (a restart, a triggered algo order):
        first the algo orders whose actualOrderId it is, then the regular order itself."""
        if not unknown:
            return
        if not self.spot:
            for raw in self._call(self._ex.fetch_orders, symbol, None, None, {"trigger": True}):
                self._order(raw)
        for order_id in sorted(unknown - set(self._client_ids)):
            try:
                self._order(self._call(self._ex.fetch_order, order_id, symbol))
            except OrderRejectedError:
                continue

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
        now = self.server_clock.venue_now_ms()
        if now < self._funding_due_ms:
            return []
        # funding settles on the hour (every 1, 4 or 8 h by symbol): the income history (weight 30 per
        # symbol) is read once after each hour, not on every candle
        self._funding_due_ms = (now // HOUR_MS + 1) * HOUR_MS + FUNDING_GRACE_MS
        payments = []
        for symbol in sorted(self._symbols):
            last = self._funding_since.get(symbol, self._started_ms)
            seen = self._funding_seen.get(symbol, set())
            rows, last, seen = after_cursor(self._call(self._ex.fetch_funding_history, symbol, last), last, seen)
            payments += [FundingPayment(symbol, -(dec(e.get("amount")) or ZERO), int(e.get("timestamp") or 0)) for e in rows]
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
            qty=dec(t.get("amount")) or ZERO,
            price=dec(t.get("price")) or ZERO,
            fee=dec(fee.get("cost")) or ZERO,
            liquidity=Liquidity.MAKER if t.get("takerOrMaker") == "maker" else Liquidity.TAKER,
            ts_ms=int(t.get("timestamp") or 0),
            realized_pnl=dec(info.get("realizedPnl")) or ZERO,
        )

    # -------------------------------------------------------------------------------- market

    def mark_price(self, symbol: str) -> Decimal | None:
        if self.spot:
            return dec(self._call(self._ex.fetch_ticker, symbol).get("last"))
        return dec(self._call(self._ex.fetch_mark_price, symbol).get("markPrice"))

    def symbol_rules(self, symbol: str) -> SymbolRules:
        return self._rules.get(symbol)

    def close(self) -> None:
        close = getattr(self._ex, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # closing is best effort: nothing useful to do about a failure here
                pass
