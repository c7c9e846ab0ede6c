"""The signed USDⓈ-M endpoints of the account and its regular orders: balance, positions, leverage, margin
type, position mode, trades, income, orders (create, query, cancel, lists), cancel-all and the countdown.

A conditional order sent to /fapi/v1/order is refused with -4120, as Binance has done since 2025-12-09:
those go to the Algo Order API (algo_orders.py). The stand-in plays one-way mode only: with dual-side
position mode switched on, every order is refused (-4061) — the project trades one-way.
"""

from __future__ import annotations

import secrets
from typing import Callable

from errors import OrderRejectedError
from models import MarginMode, OrderIntent, OrderSide, OrderType, TimeInForce
from simulator.symbols import round_qty_down
from tests.standin import params
from tests.standin.faults import FaultPlan
from tests.standin.futures_account import CANCEL_ALL_DONE, FuturesAccount, OrderRecord
from tests.standin.replies import BinanceReply, error, mandatory

CONDITIONAL_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
ALGO_API_MSG = "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
SUCCESS = {"code": 200, "msg": "success"}


def sim_error(exc: OrderRejectedError) -> BinanceReply:
    return error(400, exc.code if exc.code is not None else -1000, str(exc))


def generated_client_id() -> str:
    return "web_" + secrets.token_urlsafe(15)[:20].replace("-", "A").replace("_", "B")


class AccountOrders:
    def __init__(self, account: FuturesAccount, faults: FaultPlan):
        self.account = account
        self.faults = faults

    def routes(self) -> dict[tuple[str, str], Callable[[dict], object]]:
        return {
            ("GET", "/fapi/v3/account"): lambda q: self.account.account_v3(),
            ("GET", "/fapi/v2/account"): lambda q: self.account.account_v2(),
            ("GET", "/fapi/v2/balance"): lambda q: self.account.balances(),
            ("GET", "/fapi/v3/balance"): lambda q: self.account.balances(),
            ("GET", "/fapi/v3/positionRisk"): lambda q: self.account.positions_v3(self._symbol(q)),
            ("GET", "/fapi/v2/positionRisk"): lambda q: self.account.positions_v2(self._symbol(q)),
            ("GET", "/fapi/v1/leverageBracket"): lambda q: self.account.leverage_brackets(self._symbol(q)),
            ("GET", "/fapi/v1/symbolConfig"): lambda q: self.account.symbol_config(self._symbol(q)),
            ("POST", "/fapi/v1/leverage"): self.set_leverage,
            ("POST", "/fapi/v1/marginType"): self.set_margin_type,
            ("GET", "/fapi/v1/positionSide/dual"): lambda q: {"dualSidePosition": self.account.dual_side},
            ("POST", "/fapi/v1/positionSide/dual"): self.set_position_mode,
            ("GET", "/fapi/v1/userTrades"): self.user_trades,
            ("GET", "/fapi/v1/income"): self.income,
            ("POST", "/fapi/v1/order"): self.create,
            ("GET", "/fapi/v1/order"): lambda q: self.account.order_payload(self._find(q)),
            ("DELETE", "/fapi/v1/order"): self.cancel,
            ("GET", "/fapi/v1/openOrder"): self.open_order,
            ("GET", "/fapi/v1/openOrders"): self.open_orders,
            ("GET", "/fapi/v1/allOrders"): self.all_orders,
            ("DELETE", "/fapi/v1/allOpenOrders"): self.cancel_all,
            ("POST", "/fapi/v1/countdownCancelAll"): self.countdown,
        }

    def _symbol(self, query: dict) -> str | None:
        market_id = query.get("symbol")
        if market_id:
            self.account.rules(market_id)
        return market_id

    # ---------------------------------------------------------------------------- account

    def set_leverage(self, query: dict) -> dict:
        rules = self.account.rules(query.get("symbol"))
        leverage = params.integer(query, "leverage")
        if leverage is None:
            raise mandatory("leverage")
        try:
            self.account.sim.set_leverage(rules.symbol, leverage)
        except OrderRejectedError as exc:
            raise sim_error(exc) from None
        return {"leverage": leverage, "maxNotionalValue": "1000000000", "symbol": rules.exchange_id}

    def set_margin_type(self, query: dict) -> dict:
        rules = self.account.rules(query.get("symbol"))
        kind = query.get("marginType")
        if not kind:
            raise mandatory("marginType")
        if kind not in ("ISOLATED", "CROSSED"):
            raise error(400, -4044, "The margin type is invalid.")
        mode = MarginMode.ISOLATED if kind == "ISOLATED" else MarginMode.CROSS
        if self.account.sim.margin_mode(rules.symbol) is mode:
            raise error(400, -4046, "No need to change margin type.")
        try:
            self.account.sim.set_margin_mode(rules.symbol, mode)
        except OrderRejectedError as exc:
            raise sim_error(exc) from None
        return SUCCESS

    def set_position_mode(self, query: dict) -> dict:
        if "dualSidePosition" not in query:
            raise mandatory("dualSidePosition")
        dual = params.boolean(query, "dualSidePosition")
        if dual == self.account.dual_side:
            raise error(400, -4059, "No need to change position side.")
        if self.account.sim.positions():
            raise error(400, -4068, "Position side cannot be changed if there exists position.")
        if self.account.open_orders() or self.account.open_algos():
            raise error(400, -4067, "Position side cannot be changed if there exists open orders.")
        self.account.dual_side = dual
        return SUCCESS

    def user_trades(self, query: dict) -> list[dict]:
        market_id = params.symbol(query)
        self.account.rules(market_id)
        start, end, limit = params.time_window(query, 500, 1000)
        from_id = params.integer(query, "fromId")
        rows = [t for t in self.account.trades if t["symbol"] == market_id
                and (start is None or t["time"] >= start) and (end is None or t["time"] <= end)
                and (from_id is None or t["id"] >= from_id)]
        return rows[:limit] if start is not None or from_id is not None else rows[-limit:]

    def income(self, query: dict) -> list[dict]:
        market_id = self._symbol(query)
        kind = query.get("incomeType")
        start, end, limit = params.time_window(query, 100, 1000)
        rows = [i for i in self.account.income if market_id in (None, i["symbol"]) and kind in (None, i["incomeType"])
                and (start is None or i["time"] >= start) and (end is None or i["time"] <= end)]
        return rows[:limit] if start is not None else rows[-limit:]

    # ----------------------------------------------------------------------------- orders

    def create(self, query: dict) -> dict:
        account = self.account
        rules = account.rules(query.get("symbol"))
        side = params.side(query)
        kind = query.get("type")
        if not kind:
            raise mandatory("type")
        if kind in CONDITIONAL_TYPES:
            raise error(400, -4120, ALGO_API_MSG)
        if kind not in ("LIMIT", "MARKET"):
            raise error(400, -1116, "Invalid orderType.")
        position_side = query.get("positionSide", "BOTH")
        if account.dual_side or position_side != "BOTH":
            raise error(400, -4061, "Order's position side does not match user's setting.")
        client = params.client_id(query, "newClientOrderId") or generated_client_id()
        if any(r.client_id == client for r in account.open_orders()):
            raise error(400, -4116, "ClientOrderId is duplicated.")
        qty = params.decimal(query, "quantity")
        assert qty is not None
        reduce_only = params.boolean(query, "reduceOnly")
        price, tif = None, query.get("timeInForce", "GTC")
        if kind == "LIMIT":
            price = params.decimal(query, "price")
            if "timeInForce" not in query:
                raise mandatory("timeInForce")
            if tif not in ("GTC", "IOC", "GTX"):
                raise error(400, -1116, f"timeInForce {tif} is not served by the stand-in (GTC, IOC, GTX are).")
        sim_qty = qty
        if kind == "MARKET" or tif == "IOC":
            fraction = self.faults.take_partial(rules.exchange_id)
            if fraction is not None:
                step = rules.market_step_size if kind == "MARKET" else rules.step_size
                sim_qty = min(qty, max(step, round_qty_down(qty * fraction, step)))
        order_id = account.new_order_id()
        record = OrderRecord(order_id, client, rules.exchange_id, rules.symbol, side, kind, qty, f"o{order_id}",
                             account.server_ms(), price=price, time_in_force=tif if kind == "LIMIT" else "GTC",
                             reduce_only=reduce_only)
        intent = OrderIntent(record.sim_id, rules.symbol, OrderSide.BUY if side == "BUY" else OrderSide.SELL, sim_qty,
                             OrderType.LIMIT if kind == "LIMIT" else OrderType.MARKET, price, None, reduce_only,
                             TimeInForce(tif) if kind == "LIMIT" else TimeInForce.GTC)
        with account.lock:
            try:
                account.sim.submit(intent)
            except OrderRejectedError as exc:
                raise sim_error(exc) from None
            account.orders[order_id] = record
            account.by_sim[record.sim_id] = record
            account.settle()
            return account.order_payload(record, with_time=False)

    def _find(self, query: dict) -> OrderRecord:
        market_id = params.symbol(query)
        self.account.rules(market_id)
        order_id = params.integer(query, "orderId")
        client = query.get("origClientOrderId")
        if order_id is None and not client:
            raise error(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        matches = [r for r in self.account.orders.values() if r.market_id == market_id
                   and (order_id is None or r.order_id == order_id) and (not client or r.client_id == client)]
        if not matches:
            raise error(400, -2013, "Order does not exist.")
        return max(matches, key=lambda r: r.order_id)  # a reused client id: the newest order

    def cancel(self, query: dict) -> dict:
        with self.account.lock:
            try:
                record = self._find(query)
            except BinanceReply as reply:
                if reply.body.get("code") == -2013:
                    raise error(400, -2011, "Unknown order sent.") from None
                raise
            if not self.account.is_open(record):
                raise error(400, -2011, "Unknown order sent.")
            self.account.sim.cancel(record.symbol, record.sim_id)
            self.account.settle()
            return self.account.order_payload(record, with_time=False)

    def open_order(self, query: dict) -> dict:
        record = self._find(query)
        if not self.account.is_open(record):
            raise error(400, -2013, "Order does not exist.")
        return self.account.order_payload(record)

    def open_orders(self, query: dict) -> list[dict]:
        return [self.account.order_payload(r) for r in self.account.open_orders(self._symbol(query))]

    def all_orders(self, query: dict) -> list[dict]:
        market_id = params.symbol(query)
        self.account.rules(market_id)
        rows = params.in_window([r for r in self.account.orders.values() if r.market_id == market_id], query)
        return [self.account.order_payload(r) for r in rows]

    def cancel_all(self, query: dict) -> dict:
        """Regular orders only: algo orders have their own cancel-all (DELETE /fapi/v1/algoOpenOrders)."""
        market_id = params.symbol(query)
        rules = self.account.rules(market_id)
        with self.account.lock:
            for record in self.account.open_orders(market_id):
                self.account.sim.cancel(rules.symbol, record.sim_id)
            self.account.settle()
        return dict(CANCEL_ALL_DONE)

    def countdown(self, query: dict) -> dict:
        market_id = params.symbol(query)
        self.account.rules(market_id)
        countdown_ms = params.integer(query, "countdownTime")
        if countdown_ms is None:
            raise mandatory("countdownTime")
        if countdown_ms < 0:
            raise error(400, -1130, "Data sent for parameter 'countdownTime' is not valid.")
        with self.account.lock:
            self.account.set_countdown(market_id, countdown_ms)
        return {"symbol": market_id, "countdownTime": str(countdown_ms)}
