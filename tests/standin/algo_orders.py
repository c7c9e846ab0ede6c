"""Binance's Algo Order API for conditional orders (USDⓈ-M, since 2025-12-09): create, query, cancel, the
open list, the history and cancel-all. Algo orders cannot be modified (no PUT), only cancelled and placed again.

The stand-in serves STOP_MARKET and TAKE_PROFIT_MARKET (what a protective stop and take-profit are); the
simulator holds each as its own stop order and fills it when a candle crosses the trigger (at the worse of
trigger and open, with slippage). Then the algo order is FINISHED with `actualOrderId`, the regular MARKET
order that filled. A reduce-only algo order whose position is gone is EXPIRED. `closePosition=true` closes
whatever the position is when it triggers.
"""

from __future__ import annotations

from typing import Callable

from errors import OrderRejectedError
from models import OrderIntent, OrderSide, OrderType
from simulator.symbols import round_qty_down
from tests.standin import params
from tests.standin.account_orders import generated_client_id, sim_error
from tests.standin.futures_account import CANCEL_ALL_DONE, AlgoRecord, FuturesAccount
from tests.standin.replies import error, mandatory

SERVED_TYPES = {"STOP_MARKET": OrderType.STOP_MARKET, "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET}
KNOWN_TYPES = ("STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET", *SERVED_TYPES)


class AlgoOrders:
    def __init__(self, account: FuturesAccount):
        self.account = account

    def routes(self) -> dict[tuple[str, str], Callable[[dict], object]]:
        return {
            ("POST", "/fapi/v1/algoOrder"): self.create,
            ("GET", "/fapi/v1/algoOrder"): lambda q: self.account.algo_payload(self._find(q)),
            ("DELETE", "/fapi/v1/algoOrder"): self.cancel,
            ("GET", "/fapi/v1/openAlgoOrders"): self.open_orders,
            ("GET", "/fapi/v1/allAlgoOrders"): self.all_orders,
            ("DELETE", "/fapi/v1/algoOpenOrders"): self.cancel_all,
        }

    def create(self, query: dict) -> dict:
        account = self.account
        if query.get("algoType") != "CONDITIONAL":
            if not query.get("algoType"):
                raise mandatory("algoType")
            raise error(400, -1116, "Invalid algoType.")
        rules = account.rules(query.get("symbol"))
        side = params.side(query)
        kind = query.get("type") or query.get("orderType")
        if not kind:
            raise mandatory("type")
        if kind not in KNOWN_TYPES:
            raise error(400, -1116, "Invalid orderType.")
        if kind not in SERVED_TYPES:
            raise error(400, -1116, f"orderType {kind} is not served by the stand-in (STOP_MARKET, TAKE_PROFIT_MARKET are).")
        if account.dual_side or query.get("positionSide", "BOTH") != "BOTH":
            raise error(400, -4061, "Order's position side does not match user's setting.")
        client = params.client_id(query, "clientAlgoId") or generated_client_id()
        if any(a.client_algo_id == client for a in account.open_algos()):
            raise error(400, -4116, "ClientOrderId is duplicated.")
        trigger = params.decimal(query, "triggerPrice")
        assert trigger is not None
        close_position = params.boolean(query, "closePosition")
        reduce_only = params.boolean(query, "reduceOnly") or close_position
        if close_position:
            if query.get("quantity"):
                raise error(400, -1106, "Parameter 'quantity' sent when not required.")
            qty = round_qty_down(rules.market_max_qty, rules.market_step_size)  # the simulator caps it at the position
        else:
            qty = params.decimal(query, "quantity")
            assert qty is not None
        working = query.get("workingType", "CONTRACT_PRICE")
        if working not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise error(400, -1116, "Invalid workingType.")
        algo_id = account.new_algo_id()
        now = account.server_ms()
        algo = AlgoRecord(algo_id, client, rules.exchange_id, rules.symbol, side, kind, qty, trigger, f"a{algo_id}",
                          now, reduce_only=reduce_only, close_position=close_position, working_type=working,
                          price_protect=params.boolean(query, "priceProtect"),
                          time_in_force=query.get("timeInForce", "GTC"), updated_ms=now)
        intent = OrderIntent(algo.sim_id, rules.symbol, OrderSide.BUY if side == "BUY" else OrderSide.SELL, qty,
                             SERVED_TYPES[kind], None, trigger, reduce_only)
        with account.lock:
            try:
                account.sim.submit(intent)
            except OrderRejectedError as exc:
                raise sim_error(exc) from None
            account.algos[algo_id] = algo
            account.settle()
            return account.algo_payload(algo)

    def _find(self, query: dict) -> AlgoRecord:
        algo_id = params.integer(query, "algoId")
        client = query.get("clientAlgoId")
        if algo_id is None and not client:
            raise error(400, -1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!")
        matches = [a for a in self.account.algos.values()
                   if (algo_id is None or a.algo_id == algo_id) and (not client or a.client_algo_id == client)
                   and query.get("symbol") in (None, a.market_id)]
        if not matches:
            raise error(400, -2013, "Order does not exist.")
        return max(matches, key=lambda a: a.algo_id)

    def cancel(self, query: dict) -> dict:
        with self.account.lock:
            try:
                algo = self._find(query)
            except Exception:
                raise error(400, -2011, "Unknown order sent.") from None
            if not algo.is_open:
                raise error(400, -2011, "Unknown order sent.")
            self.account.cancel_algo(algo)
            self.account.settle()
            return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}

    def open_orders(self, query: dict) -> list[dict]:
        market_id = query.get("symbol")
        if market_id:
            self.account.rules(market_id)
        return [self.account.algo_payload(a) for a in self.account.open_algos(market_id)]

    def all_orders(self, query: dict) -> list[dict]:
        market_id = params.symbol(query)
        self.account.rules(market_id)
        rows = params.in_window([a for a in self.account.algos.values() if a.market_id == market_id], query)
        return [self.account.algo_payload(a) for a in rows]

    def cancel_all(self, query: dict) -> dict:
        market_id = params.symbol(query)
        self.account.rules(market_id)
        with self.account.lock:
            for algo in self.account.open_algos(market_id):
                self.account.cancel_algo(algo)
            self.account.settle()
        return dict(CANCEL_ALL_DONE)
