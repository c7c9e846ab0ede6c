"""Exit rules: where a trade's stop and take-profit sit, how they move, and when to leave early.

Two kinds of exit, checked by the engine in this order for every closed candle:
1. `price_exit` — resting orders: the stop and the take-profit, triggered by the candle's range. The
   simulated exchange triggers its resting stop / take-profit orders with exactly these rules, so ghost
   and paper agree:
     long stop if low ≤ stop, from min(open, stop) (a gap through the stop fills at the open);
     take-profit if high ≥ take_profit, from max(open, take_profit); shorts mirrored;
     when one candle touches both we cannot know which came first: assume the stop (conservative).
   The decision's price is where the market was; both are market orders once triggered, so the
   executor slips it like any market order (simulator.pricing.taker_price), as the venue does.
2. `condition_exit` — discretionary exits at the candle's close, in priority order:
     time limit → emergency (a large loss while volume has dried up; ignores the minimum hold) →
     [only after min_hold_seconds] reverse signal → volume exhaustion.
Then `update` moves the stop for the next candle: to breakeven (entry plus round-trip fees) once price
has covered `breakeven_at_fraction` of the way to the take-profit, and trailing behind the best price
once the trade is `activation_pct` in profit. A stop only ever tightens. A stop moved to or through the
close (`stop_through_close`, e.g. a tight trail behind a spike that closed well off its high) is an exit
at market now, in every mode: the venue would refuse such a stop order, and ghost must do what paper does.

Each discretionary exit, and the take-profit, can be switched off (`*_enabled`). A stop the rules switch
off (`stops.method: none`) still rests on the venue, as every position's protective stop does, but out of
reach (`out_of_reach`): the venue keeps it and the market never triggers it (reconcile re-places a missing
stop). A take-profit switched off (`exits.take_profit_enabled: false`) rests nowhere: no executor places
it (`rests_take_profit`), and a position without one is normal, not a fault for the protection check,
reconcile or a restart to repair. The trade's `take_profit` is still out of reach, so every price rule
reads it as never hit. Breakeven is measured towards the take-profit: without one, no breakeven.

Every profit or loss comparison is after fees (taker on both legs: entries and stop exits are market
orders), so "in profit" means the trade would actually make money if closed now.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from models import Candle, ExitReason, Side, TradeState, evolve
from settings import ExitSettings

_HUNDRED = Decimal(100)
_BPS = Decimal(10_000)
_MS_PER_SECOND = 1000
_MS_PER_MINUTE = 60_000
# A switched-off level sits this many times beyond or short of the entry: a long is liquidated (at any
# leverage, from 1) before its price falls 99.9 %, and no position lives through a thousandfold rise.
OUT_OF_REACH = Decimal(1000)


def out_of_reach(entry: Decimal, above: bool) -> Decimal:
    """A price the market will not reach while a position is open: far above or far below `entry`."""
    return entry * OUT_OF_REACH if above else entry / OUT_OF_REACH


@dataclass(frozen=True)
class ExitDecision:
    reason: ExitReason
    price: Decimal
    detail: str
    trigger: Decimal | None = None  # a resting order's stop price; None for an exit at market


def _tighter(side: Side, current: Decimal, candidate: Decimal) -> Decimal:
    """The stop closer to price: higher for a long, lower for a short."""
    return max(current, candidate) if side is Side.LONG else min(current, candidate)


class ExitRules:
    def __init__(self, settings: ExitSettings, taker_fee_rate: Decimal,
                 exit_slippage_bps: Callable[[Decimal, Decimal], Decimal] = lambda qty, volume: Decimal(0)):
        """`exit_slippage_bps(qty, candle_volume)`: what a market exit is expected to slip (the venue's
        slippage model), so an exit that promises a profit decides on the net after every exit cost."""
        self.settings = settings
        self.fee_rate = Decimal(taker_fee_rate)
        self.exit_slippage_bps = exit_slippage_bps

    # ------------------------------------------------------------------------------------ money

    @staticmethod
    def net_pnl(side: Side, qty: Decimal, entry: Decimal, exit: Decimal, fee_rate_entry: Decimal, fee_rate_exit: Decimal) -> Decimal:
        """Gross P&L minus the fee on each leg (fees are charged on notional)."""
        gross = side.sign * qty * (exit - entry)
        return gross - qty * entry * fee_rate_entry - qty * exit * fee_rate_exit

    def pnl_pct(self, side: Side, entry: Decimal, price: Decimal) -> Decimal:
        """Return after both fees, in % of the entry notional, if the trade were closed at `price`."""
        if entry <= 0:
            return Decimal(0)  # a trade booked at no price (older state) has no return to speak of
        return self.net_pnl(side, Decimal(1), entry, price, self.fee_rate, self.fee_rate) / entry * _HUNDRED

    def round_trip_fee_pct(self) -> Decimal:
        return 2 * self.fee_rate * _HUNDRED

    def breakeven_price(self, side: Side, entry: Decimal) -> Decimal:
        """The exit price at which the trade nets exactly zero after both fees."""
        f = self.fee_rate
        return entry * (1 + f) / (1 - f) if side is Side.LONG else entry * (1 - f) / (1 + f)

    # ------------------------------------------------------------------------------------- open

    def initial_take_profit(self, side: Side, entry: Decimal, stop: Decimal) -> Decimal:
        """The farther of: entry ± max(take_profit_pct, round-trip fees), and reward_risk × the stop distance."""
        s = self.settings
        if not s.take_profit_enabled:
            return out_of_reach(entry, above=side is Side.LONG)
        pct = max(s.take_profit_pct, self.round_trip_fee_pct())
        by_pct = entry * (1 + side.sign * pct / _HUNDRED)
        by_risk = entry + side.sign * s.reward_risk * abs(entry - stop)
        return max(by_pct, by_risk) if side is Side.LONG else min(by_pct, by_risk)

    def open(
        self, symbol: str, side: Side, qty: Decimal, entry_price: Decimal, entry_ms: int, stop: Decimal,
        strategy: str = "", trade_id: str = "",
    ) -> TradeState:
        return TradeState(
            symbol=symbol, side=side, qty=qty, entry_price=entry_price, entry_ms=entry_ms, stop=stop,
            take_profit=self.initial_take_profit(side, entry_price, stop), initial_stop=stop,
            peak_price=entry_price, strategy=strategy, trade_id=trade_id,
        )

    # ---------------------------------------------------------------------------- within a candle

    def _stop_reason(self, t: TradeState) -> ExitReason:
        if t.trailing_active:
            return ExitReason.TRAILING_STOP
        if t.breakeven_moved:
            return ExitReason.BREAKEVEN_STOP
        return ExitReason.STOP_LOSS

    def price_exit(self, t: TradeState, candle: Candle) -> ExitDecision | None:
        """The stop or take-profit this candle triggers, at the price it fills (stop first if both)."""
        if t.side is Side.LONG:
            stop_hit, tp_hit = candle.low <= t.stop, candle.high >= t.take_profit
            stop_fill, tp_fill = min(candle.open, t.stop), max(candle.open, t.take_profit)
        else:
            stop_hit, tp_hit = candle.high >= t.stop, candle.low <= t.take_profit
            stop_fill, tp_fill = max(candle.open, t.stop), min(candle.open, t.take_profit)
        if stop_hit:
            reason = self._stop_reason(t)
            both = " (take-profit touched in the same candle; stop assumed first)" if tp_hit else ""
            gap = f", gapped through at open {candle.open}" if stop_fill != t.stop else ""
            return ExitDecision(reason, stop_fill, f"{reason.value} {t.stop} hit{gap}{both}", t.stop)
        if tp_hit:
            gap = f", gapped through at open {candle.open}" if tp_fill != t.take_profit else ""
            return ExitDecision(ExitReason.TAKE_PROFIT, tp_fill, f"take-profit {t.take_profit} hit{gap}", t.take_profit)
        return None

    @property
    def rests_take_profit(self) -> bool:
        """Whether a position's take-profit rests on the venue: not when the rules switch it off (an
        order at a thousand times the entry protects nothing, and cost a venue order and its cancel a trade)."""
        return self.settings.take_profit_enabled

    @property
    def decides_between_signals(self) -> bool:
        """Whether a candle without a signal can change an open trade by these rules alone (beyond its
        resting stop and take-profit): a breakeven move, a trail, an emergency, volume exhaustion or the
        time limit. When none is on, only a signal or a resting order can end the trade (a backtest
        skips the quiet candles between)."""
        s = self.settings
        return (s.take_profit_enabled or s.trailing.enabled or s.emergency_enabled or s.volume_exhaustion_enabled
                or s.time_limit_enabled)

    # ---------------------------------------------------------------------------- after a candle

    def update(self, t: TradeState, candle: Candle) -> TradeState:
        """The trade after this candle: new peak, and the stop moved to breakeven / trailing (never looser)."""
        s = self.settings
        side = t.side
        peak = max(t.peak_price, candle.high) if side is Side.LONG else min(t.peak_price, candle.low)
        stop, breakeven_moved, trailing_active = t.stop, t.breakeven_moved, t.trailing_active

        if not breakeven_moved and s.take_profit_enabled:
            trigger = t.entry_price + s.breakeven_at_fraction * (t.take_profit - t.entry_price)
            if (peak >= trigger) if side is Side.LONG else (peak <= trigger):
                stop = _tighter(side, stop, self.breakeven_price(side, t.entry_price))
                breakeven_moved = True

        if s.trailing.enabled:
            if not trailing_active and self.pnl_pct(side, t.entry_price, peak) >= s.trailing.activation_pct:
                trailing_active = True
            if trailing_active:
                trail = peak * (1 - side.sign * s.trailing.trail_pct / _HUNDRED)
                stop = _tighter(side, stop, trail)

        return evolve(
            t, peak_price=peak, stop=stop, breakeven_moved=breakeven_moved, trailing_active=trailing_active
        )

    def stop_through_close(self, t: TradeState, candle: Candle) -> ExitDecision | None:
        """After `update`: a stop moved to or beyond the close cannot rest on a venue (it would trigger at
        once, and Binance refuses it with -2021), so the trade leaves now, at market, for the stop's reason."""
        crossed = candle.close <= t.stop if t.side is Side.LONG else candle.close >= t.stop
        if not crossed:
            return None
        reason = self._stop_reason(t)
        return ExitDecision(reason, candle.close, f"{reason.value} moved to {t.stop}, at or beyond the close {candle.close}")

    # ---------------------------------------------------------------------------- at candle close

    def condition_exit(
        self, t: TradeState, candle: Candle, volume_avg: Decimal, reverse_signal: bool, now_ms: int
    ) -> ExitDecision | None:
        """A discretionary exit at this candle's close, or None. See the module docstring for the order.
        `volume_avg` is read by the emergency and volume-exhaustion exits only (`reads_volume_average`)."""
        s = self.settings
        price = candle.close
        held_ms = now_ms - t.entry_ms
        # the figures and texts are worked out by the rule that needs them: asked on every candle of an
        # open trade, they were formatted each time for the one exit in many
        volume_ratio = candle.volume / volume_avg if self.reads_volume_average and volume_avg > 0 else None

        if s.time_limit_enabled and held_ms >= s.time_limit_minutes * _MS_PER_MINUTE:
            return ExitDecision(ExitReason.TIME_LIMIT, price, f"{_held(held_ms)} ≥ time limit {s.time_limit_minutes} min")

        if s.emergency_enabled and volume_ratio is not None:
            pnl = self.pnl_pct(t.side, t.entry_price, price)
            if -pnl >= s.emergency_loss_pct and volume_ratio < s.emergency_volume_ratio:
                return ExitDecision(
                    ExitReason.EMERGENCY, price,
                    f"loss {-pnl:.2f}% after fees ≥ {s.emergency_loss_pct}% with volume {volume_ratio:.2f}x average "
                    f"< {s.emergency_volume_ratio}x",
                )

        if held_ms < s.min_hold_seconds * _MS_PER_SECOND:
            return None

        if s.exit_on_reverse_signal and reverse_signal:
            pnl = self.pnl_pct(t.side, t.entry_price, price)
            return ExitDecision(ExitReason.REVERSE_SIGNAL, price,
                                f"opposite signal at {price}, {_held(held_ms)}, P&L {pnl:.2f}% after fees")

        if (
            s.volume_exhaustion_enabled
            and volume_ratio is not None
            and held_ms >= s.volume_exhaustion_min_hold_seconds * _MS_PER_SECOND
            and volume_ratio < s.volume_exhaustion_ratio
        ):
            # "in profit" after both fees and the exit's expected slippage (a market exit fills worse than
            # the close): on the close alone, 15 of 174 such exits lost money
            slip = self.exit_slippage_bps(t.qty, candle.volume) / _BPS
            net = self.pnl_pct(t.side, t.entry_price, price * (1 - t.side.sign * slip))
            if net > 0:
                return ExitDecision(
                    ExitReason.VOLUME_EXHAUSTION, price,
                    f"profit {net:.2f}% after fees and {slip * _BPS:.1f} bps expected slippage, {_held(held_ms)}, "
                    f"volume {volume_ratio:.2f}x average < {s.volume_exhaustion_ratio}x",
                )
        return None

    @property
    def reads_volume_average(self) -> bool:
        """Whether `condition_exit` reads the volume average (the engine works it out only then)."""
        return self.settings.emergency_enabled or self.settings.volume_exhaustion_enabled


def _held(held_ms: int) -> str:
    return f"held {held_ms / _MS_PER_SECOND:.0f}s"
