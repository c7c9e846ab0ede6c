"""The stand-in's one futures account: the project's simulator (`simulator.SimExchange`) as the matching
engine, and what Binance keeps around it — order ids, trades, income, countdowns — shown as Binance shows it.

The simulator fills, charges fees and slippage, settles funding and liquidates; this module only maps. Every
order the simulator holds has an internal id of its own (`o<orderId>`, `a<algoId>`), so a client order id may
be used again once its order is closed, as on Binance (unique only among open orders).

A triggered algo order becomes a regular MARKET order with an orderId of its own (the algo order's
`actualOrderId`) and the clientOrderId `algo-<algoId>` — deliberately not the clientAlgoId, so a client must
follow actualOrderId, as Binance documents. Its trades carry that orderId.

Timestamps (order times, trades, income) are the server's clock; candles move the market (`feed`).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from models import Candle, Liquidity, MarginMode, Order, OrderStatus
from simulator import SimConfig, SimExchange
from simulator.margin import brackets_for, maintenance_margin
from simulator.symbols import SymbolRules, parse_exchange_info
from tests.standin.public_market import PublicMarket
from tests.standin.replies import error

ZERO = Decimal("0")
ORDERS_KEPT = 1_000_000
EIGHT = Decimal("0.00000001")
CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}
_STATUS = {
    OrderStatus.NEW: "NEW", OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED", OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED", OrderStatus.EXPIRED: "EXPIRED", OrderStatus.REJECTED: "REJECTED",
}


def money(value: Decimal) -> str:
    return format(Decimal(value).quantize(EIGHT), "f")


def plain(value: Decimal | None) -> str:
    if value is None:
        return "0"
    text = format(Decimal(value).normalize(), "f")
    return text


@dataclass
class OrderRecord:
    """A regular order as Binance knows it (the simulator holds its state under `sim_id`)."""

    order_id: int
    client_id: str
    market_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET
    orig_qty: Decimal
    sim_id: str
    created_ms: int
    price: Decimal | None = None
    time_in_force: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    orig_type: str = ""
    cum_quote: Decimal = ZERO

    def __post_init__(self):
        self.orig_type = self.orig_type or self.type


@dataclass
class AlgoRecord:
    algo_id: int
    client_algo_id: str
    market_id: str
    symbol: str
    side: str
    order_type: str  # STOP_MARKET / TAKE_PROFIT_MARKET
    quantity: Decimal
    trigger_price: Decimal
    sim_id: str
    created_ms: int
    reduce_only: bool = False
    close_position: bool = False
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    time_in_force: str = "GTC"
    status: str = "NEW"  # NEW, CANCELED, TRIGGERED, FINISHED, EXPIRED
    updated_ms: int = 0
    trigger_ms: int = 0
    actual_order_id: int | None = None
    actual_price: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"


class _ServerClock:
    def __init__(self, server_ms: Callable[[], int]):
        self.now_ms = server_ms


@dataclass
class Countdown:
    deadline_ms: int
    countdown_ms: int


class FuturesAccount:
    def __init__(self, public: PublicMarket, server_ms: Callable[[], int], sim_config: SimConfig | None = None,
                 countdown_cancels_algo: bool = False):
        self.public = public
        self.server_ms = server_ms
        self.lock = threading.RLock()
        self.rules_by_id: dict[str, SymbolRules] = {
            r.exchange_id: r for r in parse_exchange_info(public.exchange_info()).values()
            if r.exchange_id in public.market_ids()
        }
        # closed orders must stay answerable (GET /fapi/v1/order), so the simulator forgets none
        config = dataclasses.replace(sim_config or SimConfig(), recent_orders_kept=ORDERS_KEPT)
        self.sim = SimExchange(config, _ServerClock(server_ms), {r.symbol: r for r in self.rules_by_id.values()})
        self.orders: dict[int, OrderRecord] = {}
        self.by_sim: dict[str, OrderRecord] = {}
        self.algos: dict[int, AlgoRecord] = {}
        self.trades: list[dict] = []
        self.income: list[dict] = []
        self.dual_side = False
        self.countdown_cancels_algo = countdown_cancels_algo
        self.countdowns: dict[str, Countdown] = {}
        self._next_order_id = 8_389_765_000
        self._next_algo_id = 1_000_000_033_000_000
        self._next_trade_id = 5_000_000
        self._next_tran_id = 9_000_000_000

    # ----------------------------------------------------------------------------- lookups

    def rules(self, market_id: str | None) -> SymbolRules:
        if not market_id:
            raise error(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        rules = self.rules_by_id.get(market_id)
        if rules is None:
            raise error(400, -1121, "Invalid symbol.")
        return rules

    def new_order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id

    def new_algo_id(self) -> int:
        self._next_algo_id += 1
        return self._next_algo_id

    def sim_order(self, record: OrderRecord | AlgoRecord) -> Order:
        order = self.sim.get_order(record.sim_id)
        assert order is not None, f"the simulator lost order {record.sim_id}"
        return order

    def is_open(self, record: OrderRecord) -> bool:
        return self.sim_order(record).status.is_open

    def open_orders(self, market_id: str | None = None) -> list[OrderRecord]:
        return [r for r in self.orders.values()
                if (market_id is None or r.market_id == market_id) and self.is_open(r)]

    def open_algos(self, market_id: str | None = None) -> list[AlgoRecord]:
        return [a for a in self.algos.values() if a.is_open and (market_id is None or a.market_id == market_id)]

    def mark(self, market_id: str) -> str | None:
        rules = self.rules_by_id.get(market_id)
        mark = self.sim.mark_price(rules.symbol) if rules else None
        return None if mark is None else plain(mark)

    # ------------------------------------------------------------------------------ market

    def feed(self, open_ms: int) -> int:
        """Every symbol's recorded candle that opens at `open_ms` goes to the simulator (stops trigger,
        limits fill, funding settles). Returns how many symbols had one."""
        fed = 0
        for market_id, rules in sorted(self.rules_by_id.items()):
            candle = self.public.candle_at(market_id, open_ms, rules.symbol)
            if candle is not None:
                self.feed_candle(candle)
                fed += 1
        return fed

    def feed_candle(self, candle: Candle) -> None:
        with self.lock:
            self.sim.on_candle(candle)
            self.settle()

    def settle(self) -> None:
        """After every simulator call: algo orders whose simulator order closed, then the fills and funding
        the simulator queued become Binance's trades and income."""
        now = self.server_ms()
        for algo in self.open_algos():
            order = self.sim_order(algo)
            if order.status.is_open:
                continue
            algo.updated_ms = now
            if order.filled_qty > 0:
                actual = OrderRecord(self.new_order_id(), f"algo-{algo.algo_id}", algo.market_id, algo.symbol,
                                     algo.side, "MARKET", order.qty, algo.sim_id, now,
                                     reduce_only=algo.reduce_only, close_position=algo.close_position,
                                     orig_type=algo.order_type)
                self.orders[actual.order_id] = actual
                self.by_sim[algo.sim_id] = actual
                algo.status, algo.trigger_ms, algo.actual_order_id = "FINISHED", now, actual.order_id
                algo.actual_price = order.avg_fill_price or ZERO
            else:
                # the simulator dropped it: a reduce-only order whose position is gone, or a liquidation
                algo.status = "EXPIRED"
        for fill in self.sim.take_fills():
            record = self.by_sim.get(fill.client_order_id) or self._liquidation_record(fill.client_order_id)
            self._trade(record, fill)
        funding = self.sim.pending_funding()
        self.sim.ack_funding(funding)
        for payment in funding:
            market_id = self._market_id(payment.symbol)
            self._income(market_id, "FUNDING_FEE", -payment.amount, now, "")

    def _market_id(self, symbol: str) -> str:
        return next(m for m, r in self.rules_by_id.items() if r.symbol == symbol)

    def _liquidation_record(self, sim_id: str) -> OrderRecord:
        order = self.sim.get_order(sim_id)
        assert order is not None
        record = OrderRecord(self.new_order_id(), f"autoclose-{sim_id}", self._market_id(order.symbol), order.symbol,
                             order.side.value.upper(), "MARKET", order.qty, sim_id, order.created_ms,
                             reduce_only=True, orig_type="LIQUIDATION")
        self.orders[record.order_id] = record
        self.by_sim[sim_id] = record
        return record

    def _trade(self, record: OrderRecord, fill) -> None:
        self._next_trade_id += 1
        quote = fill.qty * fill.price
        record.cum_quote += quote
        self.trades.append({
            "symbol": record.market_id, "id": self._next_trade_id, "orderId": record.order_id,
            "side": record.side, "price": plain(fill.price), "qty": plain(fill.qty),
            "realizedPnl": money(fill.realized_pnl), "marginAsset": "USDT", "quoteQty": money(quote),
            "commission": money(fill.fee), "commissionAsset": "USDT", "time": fill.ts_ms, "positionSide": "BOTH",
            "buyer": record.side == "BUY", "maker": fill.liquidity is Liquidity.MAKER,
        })
        if fill.realized_pnl:
            self._income(record.market_id, "REALIZED_PNL", fill.realized_pnl, fill.ts_ms, str(self._next_trade_id))
        self._income(record.market_id, "COMMISSION", -fill.fee, fill.ts_ms, str(self._next_trade_id))

    def _income(self, market_id: str, kind: str, amount: Decimal, ts_ms: int, trade_id: str) -> None:
        self._next_tran_id += 1
        self.income.append({"symbol": market_id, "incomeType": kind, "income": money(amount), "asset": "USDT",
                            "info": kind if kind == "FUNDING_FEE" else "", "time": ts_ms,
                            "tranId": self._next_tran_id, "tradeId": trade_id})

    # -------------------------------------------------------------------------- countdown

    def set_countdown(self, market_id: str, countdown_ms: int) -> None:
        if countdown_ms == 0:
            self.countdowns.pop(market_id, None)
        else:
            self.countdowns[market_id] = Countdown(self.server_ms() + countdown_ms, countdown_ms)

    def check_countdowns(self) -> None:
        """A countdown that ran out cancels the symbol's regular open orders — and its algo (protective)
        orders only when the stand-in plays the venue that does (`countdown_cancels_algo`)."""
        now = self.server_ms()
        with self.lock:
            for market_id, countdown in list(self.countdowns.items()):
                if now < countdown.deadline_ms:
                    continue
                del self.countdowns[market_id]
                symbol = self.rules_by_id[market_id].symbol
                for record in self.open_orders(market_id):
                    self.sim.cancel(symbol, record.sim_id)
                if self.countdown_cancels_algo:
                    for algo in self.open_algos(market_id):
                        self.cancel_algo(algo)
                self.settle()

    def cancel_algo(self, algo: AlgoRecord) -> None:
        self.sim.cancel(algo.symbol, algo.sim_id)
        algo.status, algo.updated_ms = "CANCELED", self.server_ms()

    # ---------------------------------------------------------------------------- payloads

    def _precision(self, market_id: str) -> tuple[int, int]:
        entry = self.public.symbol_entry(market_id) or {}
        return int(entry.get("pricePrecision", 2)), int(entry.get("quantityPrecision", 3))

    def price_text(self, market_id: str, value: Decimal | None) -> str:
        places = self._precision(market_id)[0]
        return format((value or ZERO).quantize(Decimal(1).scaleb(-places)), "f")

    def qty_text(self, market_id: str, value: Decimal) -> str:
        places = self._precision(market_id)[1]
        return format(value.quantize(Decimal(1).scaleb(-places)), "f")

    def order_payload(self, record: OrderRecord, *, with_time: bool = True) -> dict:
        order = self.sim_order(record)
        status = _STATUS[order.status]
        if status == "FILLED" and order.filled_qty < record.orig_qty:
            status = "EXPIRED"  # a partly filled MARKET or IOC order: the rest expired
        mid = record.market_id
        body = {
            "orderId": record.order_id, "symbol": mid, "status": status, "clientOrderId": record.client_id,
            "price": self.price_text(mid, record.price), "avgPrice": plain(order.avg_fill_price or ZERO),
            "origQty": self.qty_text(mid, record.orig_qty), "executedQty": self.qty_text(mid, order.filled_qty),
            "cumQty": self.qty_text(mid, order.filled_qty), "cumQuote": money(record.cum_quote),
            "timeInForce": record.time_in_force, "type": record.type, "reduceOnly": record.reduce_only,
            "closePosition": record.close_position, "side": record.side, "positionSide": "BOTH",
            "stopPrice": self.price_text(mid, ZERO), "workingType": "CONTRACT_PRICE", "priceProtect": False,
            "origType": record.orig_type, "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
            "goodTillDate": 0, "updateTime": order.updated_ms,
        }
        if with_time:
            body["time"] = record.created_ms
        return body

    def algo_payload(self, algo: AlgoRecord) -> dict:
        mid = algo.market_id
        return {
            "algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "algoType": "CONDITIONAL",
            "orderType": algo.order_type, "symbol": mid, "side": algo.side, "positionSide": "BOTH",
            "timeInForce": algo.time_in_force,
            "quantity": self.qty_text(mid, ZERO if algo.close_position else algo.quantity),
            "algoStatus": algo.status,
            "actualOrderId": "" if algo.actual_order_id is None else str(algo.actual_order_id),
            "actualPrice": plain(algo.actual_price), "triggerPrice": self.price_text(mid, algo.trigger_price),
            "price": self.price_text(mid, ZERO), "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": algo.working_type, "priceMatch": "NONE", "closePosition": algo.close_position,
            "priceProtect": algo.price_protect, "reduceOnly": algo.reduce_only, "createTime": algo.created_ms,
            "updateTime": algo.updated_ms or algo.created_ms, "triggerTime": algo.trigger_ms, "goodTillDate": 0,
        }

    def _positions(self) -> dict[str, object]:
        return {p.symbol: p for p in self.sim.positions()}

    def position_v3(self, market_id: str, pos) -> dict:
        rules = self.rules_by_id[market_id]
        sign = 1 if pos.side.value == "long" else -1
        notional = pos.qty * pos.mark_price
        leverage = self.sim.leverage(rules.symbol)
        initial = notional / leverage
        return {
            "symbol": market_id, "positionSide": "BOTH", "positionAmt": self.qty_text(market_id, sign * pos.qty),
            "entryPrice": plain(pos.entry_price), "breakEvenPrice": plain(pos.entry_price),
            "markPrice": money(pos.mark_price), "unRealizedProfit": money(pos.unrealized_pnl),
            "liquidationPrice": money(pos.liquidation_price or ZERO),
            "isolatedMargin": money(pos.isolated_margin + pos.unrealized_pnl if pos.isolated_margin else ZERO),
            "notional": money(sign * notional), "marginAsset": "USDT", "isolatedWallet": money(pos.isolated_margin),
            "initialMargin": money(initial), "maintMargin": money(maintenance_margin(rules.symbol, notional)),
            "positionInitialMargin": money(initial), "openOrderInitialMargin": "0", "adl": 1,
            "bidNotional": "0", "askNotional": "0", "updateTime": pos.opened_ms,
        }

    def positions_v3(self, market_id: str | None) -> list[dict]:
        positions = self._positions()
        out = []
        for mid, rules in sorted(self.rules_by_id.items()):
            if market_id not in (None, mid) or rules.symbol not in positions:
                continue
            out.append(self.position_v3(mid, positions[rules.symbol]))
        return out

    def positions_v2(self, market_id: str | None) -> list[dict]:
        """v2 lists every symbol, open or not, with its leverage and margin type."""
        positions = self._positions()
        out = []
        for mid, rules in sorted(self.rules_by_id.items()):
            if market_id not in (None, mid):
                continue
            isolated = self.sim.margin_mode(rules.symbol) is MarginMode.ISOLATED
            pos = positions.get(rules.symbol)
            base = self.position_v3(mid, pos) if pos else {
                "symbol": mid, "positionAmt": self.qty_text(mid, ZERO), "entryPrice": "0.0", "breakEvenPrice": "0.0",
                "markPrice": money(Decimal(self.mark(mid) or "0")), "unRealizedProfit": money(ZERO),
                "liquidationPrice": "0", "isolatedMargin": money(ZERO), "notional": "0", "isolatedWallet": "0",
                "updateTime": 0, "positionSide": "BOTH"}
            out.append({k: base[k] for k in (
                "symbol", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice", "unRealizedProfit",
                "liquidationPrice", "isolatedMargin", "notional", "isolatedWallet", "updateTime", "positionSide")}
                | {"leverage": str(self.sim.leverage(rules.symbol)), "maxNotionalValue": "1000000000",
                   "marginType": "isolated" if isolated else "cross", "isAutoAddMargin": "false"})
        return out

    def account_v3(self) -> dict:
        account = self.sim.account()
        positions = self.positions_v3(None)
        maint = sum((Decimal(p["maintMargin"]) for p in positions), ZERO)
        isolated = sum((Decimal(p["isolatedWallet"]) for p in positions), ZERO)
        cross_upnl = sum((Decimal(p["unRealizedProfit"]) for p in positions if Decimal(p["isolatedWallet"]) == 0), ZERO)
        position_initial = sum((Decimal(p["positionInitialMargin"]) for p in positions), ZERO)
        order_initial = max(account.margin_used - position_initial, ZERO)
        now = self.server_ms()
        totals = {
            "totalInitialMargin": money(account.margin_used), "totalMaintMargin": money(maint),
            "totalWalletBalance": money(account.wallet_balance), "totalUnrealizedProfit": money(account.unrealized_pnl),
            "totalMarginBalance": money(account.equity), "totalPositionInitialMargin": money(position_initial),
            "totalOpenOrderInitialMargin": money(order_initial),
            "totalCrossWalletBalance": money(account.wallet_balance - isolated), "totalCrossUnPnl": money(cross_upnl),
            "availableBalance": money(account.available), "maxWithdrawAmount": money(max(account.available, ZERO)),
        }
        asset = {
            "asset": "USDT", "walletBalance": totals["totalWalletBalance"],
            "unrealizedProfit": totals["totalUnrealizedProfit"], "marginBalance": totals["totalMarginBalance"],
            "maintMargin": totals["totalMaintMargin"], "initialMargin": totals["totalInitialMargin"],
            "positionInitialMargin": totals["totalPositionInitialMargin"],
            "openOrderInitialMargin": totals["totalOpenOrderInitialMargin"],
            "crossWalletBalance": totals["totalCrossWalletBalance"], "crossUnPnl": totals["totalCrossUnPnl"],
            "availableBalance": totals["availableBalance"], "maxWithdrawAmount": totals["maxWithdrawAmount"],
            "marginAvailable": True, "updateTime": now,
        }
        return {**totals, "assets": [asset], "positions": [
            {k: p[k] for k in ("symbol", "positionSide", "positionAmt", "isolatedMargin", "notional",
                               "isolatedWallet", "initialMargin", "maintMargin", "updateTime")}
            | {"unrealizedProfit": p["unRealizedProfit"]}  # v3 account spells it so, positionRisk "unRealizedProfit"
            for p in positions]}

    def account_v2(self) -> dict:
        v3 = self.account_v3()
        by_symbol = {p["symbol"]: p for p in self.positions_v2(None)}
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": 0,
                "multiAssetsMargin": False, "tradeGroupId": -1, **{k: v for k, v in v3.items() if k != "positions"},
                "positions": [{
                    "symbol": s, "initialMargin": "0", "maintMargin": "0", "unrealizedProfit": p["unRealizedProfit"],
                    "positionInitialMargin": "0", "openOrderInitialMargin": "0", "leverage": p["leverage"],
                    "isolated": p["marginType"] == "isolated", "entryPrice": p["entryPrice"],
                    "maxNotional": p["maxNotionalValue"], "bidNotional": "0", "askNotional": "0",
                    "positionSide": "BOTH", "positionAmt": p["positionAmt"], "updateTime": p["updateTime"]}
                    for s, p in by_symbol.items()]}

    def balances(self) -> list[dict]:
        v3 = self.account_v3()
        asset = v3["assets"][0]
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": asset["walletBalance"],
                 "crossWalletBalance": asset["crossWalletBalance"], "crossUnPnl": asset["crossUnPnl"],
                 "availableBalance": asset["availableBalance"], "maxWithdrawAmount": asset["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": asset["updateTime"]}]

    def leverage_brackets(self, market_id: str | None) -> list[dict] | dict:
        def one(mid: str) -> dict:
            tiers = brackets_for(self.rules_by_id[mid].symbol)
            rows = []
            for i, b in enumerate(tiers):
                cap = tiers[i + 1].floor if i + 1 < len(tiers) else Decimal("10000000000")
                rows.append({"bracket": i + 1, "initialLeverage": int(min(125, 1 / (2 * b.mmr))),
                             "notionalCap": int(cap), "notionalFloor": int(b.floor),
                             "maintMarginRatio": float(b.mmr), "cum": float(b.cum)})
            return {"symbol": mid, "brackets": rows}

        if market_id:
            self.rules(market_id)
            return one(market_id)
        return [one(mid) for mid in sorted(self.rules_by_id)]

    def symbol_config(self, market_id: str | None) -> list[dict]:
        out = []
        for mid, rules in sorted(self.rules_by_id.items()):
            if market_id not in (None, mid):
                continue
            isolated = self.sim.margin_mode(rules.symbol) is MarginMode.ISOLATED
            out.append({"symbol": mid, "marginType": "ISOLATED" if isolated else "CROSSED", "isAutoAddMargin": False,
                        "leverage": self.sim.leverage(rules.symbol), "maxNotionalValue": "1000000000"})
        return out
