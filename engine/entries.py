"""Turning a signal into an entry plan: structure stop, size, venue rounding, take-profit, risk gate.

Each step can say no; a no is a `Denial` with a reason code and the numbers behind it, which the
engine writes to the decision log so a user can see why the bot did not trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Iterator, Mapping, Sequence, overload

from engine.candles import resample
from models import EntryPlan, TradeState, evolve, fast_init, round_down
from risk.exits import ExitRules, out_of_reach
from order_ids import make_trade_id
from models import Candle, Denial, Position, Side, Signal, SymbolRules, TradingState
from risk.gate import PreTradeCheck, check_order, stop_out_loss
from risk.levels import ResolvedRisk
from risk.limits import RiskLimits
from risk.sizing import SizingDecision, SizingInput, size_position
from risk.stops import structure_stop
from settings import StopSettings


@fast_init  # built for every entry
@dataclass(frozen=True, slots=True)
class MarketContext:
    """What the risk gate needs to know about the account at the moment of the decision."""

    trading_state: TradingState
    equity: Decimal
    wallet_balance: Decimal
    margin_used: Decimal
    positions: Sequence[Position]
    price_age_s: float
    stale_after_s: float
    daily_pnl: Decimal
    weekly_pnl: Decimal
    leverage: int
    buys_last_24h: int
    now_ms: int = 0  # market time of the decision
    recent_entries_ms: Sequence[int] = ()  # this bot's entries (any symbol) since the UTC day began, or the last minute
    mark_price: Decimal | None = None  # the venue's mark, when it has one
    mark_age_s: float | None = None  # since that mark was asked for (None: no venue to ask)


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick


def on_tick_above_zero(price: Decimal, tick: Decimal) -> Decimal:
    """`round_to_tick`, but never below one tick: a venue refuses a price of zero, and an out-of-reach level
    below a cheap coin's entry can round to it."""
    return max(round_to_tick(price, tick), tick) if tick > 0 else price


def round_stop_to_tick(side: Side, stop: Decimal, tick: Decimal) -> Decimal:
    """A moved stop on the venue's tick, rounded towards the price (up for a long, down for a short): never
    looser than the exit rules asked, and the price the executors store is the price the venue holds."""
    if tick <= 0:
        return stop
    rounding = ROUND_CEILING if side is Side.LONG else ROUND_FLOOR
    return (stop / tick).to_integral_value(rounding=rounding) * tick


class EntryPlanner:
    def __init__(
        self,
        *,
        risk: ResolvedRisk,
        stops: StopSettings,
        exit_rules: ExitRules,
        limits: RiskLimits,
        symbol_rules: Mapping[str, SymbolRules],
        fee_rate: Decimal = Decimal(0),
        slippage_bps: Decimal = Decimal(0),
    ):
        # the taker fee and expected slippage a stop-out pays: the per-trade loss limit counts them
        self.fee_rate = fee_rate
        self.slippage_bps = slippage_bps
        self.risk = risk
        self.stops = stops
        self.exit_rules = exit_rules
        self.limits = limits
        self.symbol_rules = symbol_rules

    def stop_on_tick(self, state: TradeState) -> TradeState:
        """The trade with its stop on the symbol's tick (see `round_stop_to_tick`)."""
        rules = self.symbol_rules.get(state.symbol)
        if rules is None:
            return state
        stop = round_stop_to_tick(state.side, state.stop, rules.tick_size)
        return state if stop == state.stop else evolve(state, stop=stop)

    def refusal(self, signal: Signal) -> Denial | None:
        """What refuses a signal whatever the account holds (no venue filters for it, a side this bot does
        not enter): asked before the account is read, for every exit signal of a one-sided bot."""
        if signal.symbol not in self.symbol_rules:
            return Denial("unknown_symbol", f"{signal.symbol}: no venue filters known")
        if self.risk.entry_sides not in ("both", signal.side.value):
            return Denial(
                "side_not_allowed",
                f"{signal.symbol} {signal.side.value}: strategy.entry_sides is {self.risk.entry_sides}, "
                "so this signal only closes an opposite trade",
            )
        return None

    def plan(
        self, signal: Signal, candles: Sequence[Candle], ctx: MarketContext, *, notional: Decimal | None = None
    ) -> tuple[EntryPlan | Denial, SizingDecision | None]:
        """`notional` (a manual entry) replaces the sizing rule; every other check still applies."""
        refused = self.refusal(signal)
        if refused is not None:
            return refused, None
        rules = self.symbol_rules[signal.symbol]
        entry = signal.price
        if self.stops.method == "none":
            stop = out_of_reach(entry, above=signal.side is Side.SHORT)
        else:
            higher = _Resampled(candles, self.stops.higher_timeframe)
            found = structure_stop(signal.side, entry, candles, higher, self.stops, self.risk.max_stop_pct)
            if isinstance(found, Denial):
                return found, None
            stop = found
        stop = on_tick_above_zero(stop, rules.tick_size)
        if notional is not None:
            sizing: SizingDecision | Denial = SizingDecision(notional / entry, notional, "manual", f"{notional} USDT at {entry}")
        else:
            cap = ctx.equity * self.limits.max_position_pct / 100
            if self.limits.usdt.max_position_usdt is not None:
                cap = min(cap, self.limits.usdt.max_position_usdt)
            sizing = size_position(self.risk, SizingInput(ctx.equity, entry, stop, signal.strength, ctx.buys_last_24h, cap))
        if isinstance(sizing, Denial):
            return sizing, None
        qty = sizing.qty
        max_loss = self.limits.usdt.max_loss_per_trade_usdt
        per_unit = stop_out_loss(Decimal(1), entry, stop, self.fee_rate, self.slippage_bps)
        if max_loss is not None and per_unit > 0 and notional is None:
            # a rule-sized entry is sized down so a stop-out honours the limit (never rounded up); a manual
            # one keeps the size asked for and the gate refuses it when it cannot
            qty = min(qty, max_loss / per_unit)
        qty = round_down(qty, rules.step_size)
        if qty < rules.min_qty or qty * entry < rules.min_notional:
            return (
                Denial(
                    "below_min_notional",
                    f"{signal.symbol}: size {qty} (notional {(qty * entry).quantize(Decimal('0.01'), ROUND_DOWN)}) is below "
                    f"the venue minimum (qty {rules.min_qty}, notional {rules.min_notional})",
                ),
                sizing,
            )
        take_profit = on_tick_above_zero(self.exit_rules.initial_take_profit(signal.side, entry, stop), rules.tick_size)
        denial = check_order(
            PreTradeCheck(
                trading_state=ctx.trading_state,
                symbol=signal.symbol,
                side=signal.side,
                qty=qty,
                price=entry,
                reduce_only=False,
                equity=ctx.equity,
                wallet_balance=ctx.wallet_balance,
                positions=ctx.positions,
                price_age_s=ctx.price_age_s,
                stale_after_s=ctx.stale_after_s,
                daily_pnl=ctx.daily_pnl,
                weekly_pnl=ctx.weekly_pnl,
                margin_used=ctx.margin_used,
                leverage=ctx.leverage,
                now_ms=ctx.now_ms,
                recent_entries_ms=ctx.recent_entries_ms,
                mark_price=ctx.mark_price,
                mark_age_s=ctx.mark_age_s,
                stop_price=stop,
                fee_rate=self.fee_rate,
                slippage_bps=self.slippage_bps,
                min_qty=rules.min_qty,
                min_notional=rules.min_notional,
            ),
            self.limits,
        )
        if denial is not None:
            return denial, sizing
        return (
            EntryPlan(
                trade_id=make_trade_id(signal.symbol, signal.ts_ms, signal.side),
                symbol=signal.symbol,
                side=signal.side,
                qty=qty,
                price=entry,
                stop=stop,
                take_profit=take_profit,
                strategy=signal.strategy,
                reason=signal.reason,
            ),
            sizing,
        )


class _Resampled(Sequence[Candle]):
    """The higher timeframe's candles, resampled only when asked for: the stop looks there only when the
    signal's own timeframe has no swing, and resampling the whole window was most of an entry's planning."""

    def __init__(self, candles: Sequence[Candle], timeframe: str):
        self._source, self._timeframe = candles, timeframe
        self._candles: list[Candle] | None = None

    def _built(self) -> list[Candle]:
        if self._candles is None:
            self._candles = resample(self._source, self._timeframe)
        return self._candles

    def __len__(self) -> int:
        return len(self._built())

    @overload
    def __getitem__(self, index: int) -> Candle: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Candle]: ...

    def __getitem__(self, index: int | slice) -> Candle | Sequence[Candle]:
        return self._built()[index]

    def __iter__(self) -> Iterator[Candle]:
        return iter(self._built())
