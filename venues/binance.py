"""Binance through ccxt: `binance-demo` (USDⓈ-M demo trading) and `binance-spot-testnet` (spot sandbox).

API keys come only from the environment and never appear in logs or error messages. Small on purpose:
every call is one ccxt call, wrapped so that only our errors come out.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Callable, Mapping, TypeVar

from clock import Clock
from errors import ExchangeError, OrderRejectedError, UnknownOrderStatusError, VenueUnavailableError
from models import Account, Candle, Fill, FundingPayment, Liquidity, MarginMode, Order, OrderIntent, OrderSide, OrderType, Position, Side, TimeInForce
from simulator.symbols import BUILTIN_RULES, SymbolRules, rules_from_filters
from venues.ccxt_errors import map_ccxt_error
from venues.ccxt_parsing import ZERO, after_cursor, dec, order_from_ccxt

T = TypeVar("T")


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
            qty = dec(p.get("contracts")) or ZERO
            if qty == 0:
                continue
            isolated = p.get("marginMode") == "isolated"
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

    def take_fills(self) -> list[Fill]:
        """Our trades since the last call, for every symbol we have sent orders for. Trades are fetched
        from the last trade's timestamp (inclusive) and deduplicated by id at that timestamp."""
        fills = []
        for symbol in sorted(self._symbols):
            last = self._since.get(symbol, self._started_ms)
            seen = self._seen_at_last.get(symbol, set())
            rows, last, seen = after_cursor(self._call(self._ex.fetch_my_trades, symbol, last), last, seen)
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

    def mark_price(self, symbol: str) -> Decimal | None:
        if self.spot:
            return dec(self._call(self._ex.fetch_ticker, symbol).get("last"))
        return dec(self._call(self._ex.fetch_mark_price, symbol).get("markPrice"))

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

