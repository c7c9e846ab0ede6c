"""Assembly: a trading engine built from settings, the same way for the bot process, a backtest and
the tests. The one place that knows which executor, venue and store go together; the engine itself
never knows whether its store is Redis or memory, nor whether its venue is the simulator or Binance.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator, Mapping, Sequence

from clock import Clock, SimulatedClock
from engine.engine import EngineConfig, TradingEngine
from errors import ConfigError
from engine.entries import EntryPlanner, round_to_tick
from engine.signal_scoring import SignalScorer
from engine.strategies import build_strategies
from engine.strategies.base import Strategy
from exchange_client import LIVE_VENUE, ExchangeClient, PriceModel, load_symbol_rules_for, open_exchange
from executors.base import Executor
from executors.ghost import GhostExecutor
from executors.paper import PaperExecutor
from models import Mode, SymbolRules
from risk.circuit_breaker import OrderFailureBreaker
from risk.exits import ExitRules
from simulator.pricing import slippage_bps
from risk.levels import resolve_risk
from risk.limits import effective_limits
from settings import Settings
from stores import EngineStore


def _round_price_with(rules):
    def round_price(symbol: str, price: Decimal) -> Decimal:
        r = rules.get(symbol)
        return round_to_tick(price, r.tick_size) if r is not None else price

    return round_price


class VenueRules(Mapping[str, SymbolRules]):
    """The venue's rules as it states them now (its cache refreshes itself), over the configured ones for a
    symbol the venue does not list: what the planner, the risk gate and the price rounding read."""

    def __init__(self, venue: ExchangeClient, fallback: Mapping[str, SymbolRules]):
        self._venue = venue
        self._fallback = fallback

    def _current(self) -> dict[str, SymbolRules]:
        return {**self._fallback, **self._venue.all_symbol_rules()}  # type: ignore[attr-defined]

    def __getitem__(self, symbol: str) -> SymbolRules:
        return self._current()[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


@dataclass
class EngineParts:
    engine: TradingEngine
    executor: Executor
    venue: ExchangeClient | None
    scorer: SignalScorer


def engine_window_size(settings: Settings, strategies: Sequence[Strategy]) -> int:
    """Closed candles the engine keeps per symbol: enough for every strategy's warm-up, the structure
    stops (swing lookback on the 15-minute resample) and the volume average."""
    s = settings
    return max([st.warmup for st in strategies] + [s.stops.swing_lookback * 16, s.exits.volume_window + 2, 300]) + 10


def venue_name(settings: Settings, mode: Mode) -> str:
    """The venue a mode's trades go to, which names their book (models.Book); "" for ghost, which has none."""
    if mode is Mode.GHOST:
        return ""
    return LIVE_VENUE if mode is Mode.LIVE else settings.venue.paper_venue


def assemble(settings: Settings, store: EngineStore, mode: Mode, *, market_clock: SimulatedClock, wall_clock: Clock,
             venue: ExchangeClient | None = None, live_gate: Any = None, feed: str = "") -> EngineParts:
    """Everything the trading loop needs, built from settings: the same assembly for the bot process, a
    backtest and the tests. `venue` overrides the configured one (tests, backtests); `feed` names the market
    data feed (bot.runtime.feed_identity), to which ghost trades and scored signals belong."""
    s = settings
    symbol_rules: Mapping[str, SymbolRules] = load_symbol_rules_for(s)
    if venue is None and mode is Mode.LIVE:
        venue = open_exchange(s, clock=market_clock, live_gate=live_gate)  # refused unless the gate passed
    elif venue is None and mode is Mode.PAPER:
        # a Redis store shares the simulated venue with the supervisor; an in-memory one keeps it here
        venue_store = getattr(store, "venue_store", None)
        venue = open_exchange(s, clock=market_clock,
                              venue_store=venue_store(s.venue.paper_venue) if venue_store is not None else None)
    if mode in (Mode.PAPER, Mode.LIVE) and venue is not None and callable(getattr(venue, "all_symbol_rules", None)):
        symbol_rules = VenueRules(venue, symbol_rules)  # a ccxt venue states its own rules: they win
    unknown = [symbol for symbol in s.bot.symbols if symbol not in symbol_rules]
    if unknown:
        # every signal would be denied as unknown_symbol, visible only in the decision log
        raise ConfigError(
            f"bot.symbols: no trading rules (tick, lot, minimum notional) for {', '.join(unknown)}: check the "
            "spelling (ccxt unified, e.g. BTC/USDT:USDT) or give an exchangeInfo file that lists it "
            "(venue.exchange_info_path)")
    slippage = s.venue.slippage
    exit_rules = ExitRules(s.exits, s.venue.taker_fee_rate, lambda qty, volume: slippage_bps(
        slippage.model, slippage.fixed_bps, slippage.volume_impact_bps, qty, volume))
    strategies = build_strategies(s.strategy)
    risk = resolve_risk(s.sizing, s.strategy, s.stops)
    limits = effective_limits(s.risk, s.venue.leverage, mode, s.live)
    breaker = OrderFailureBreaker(max_consecutive=s.risk.circuit_breaker_failures)
    executor: Executor
    if mode in (Mode.PAPER, Mode.LIVE):
        # live is the paper executor on the live venue under the live limits: one code path for real money
        assert venue is not None
        if mode is Mode.LIVE:
            for symbol in s.bot.symbols:  # rule 1 at the venue itself, whatever it was set to before
                venue.set_leverage(symbol, limits.leverage)
        executor = PaperExecutor(
            venue=venue, store=store, rules=exit_rules, clock=market_clock, round_price=_round_price_with(symbol_rules),
            breaker=breaker, mode=mode,  # a live trade booked as paper would count as the go-live gate's evidence
        )
    else:
        venue = None
        executor = GhostExecutor(
            store=store, rules=exit_rules, prices=PriceModel.from_settings(s, symbol_rules), clock=market_clock,
            starting_balance=s.venue.starting_balance, leverage=s.venue.leverage, feed=feed,
        )
    scorer = SignalScorer(store, s.ghost.horizons_minutes, feed=feed)
    planner = EntryPlanner(risk=risk, stops=s.stops, exit_rules=exit_rules, limits=limits, symbol_rules=symbol_rules,
                           fee_rate=s.venue.taker_fee_rate, slippage_bps=slippage.fixed_bps)
    config = EngineConfig(
        mode=mode, symbols=tuple(s.bot.symbols), timeframe=s.bot.timeframe, min_confidence=risk.min_confidence,
        window_size=engine_window_size(s, strategies), volume_window=s.exits.volume_window,
        stale_after_s=s.market_data.stale_after_seconds, leverage=limits.leverage, limits=limits,
        venue=venue_name(s, mode),
    )
    engine = TradingEngine(
        config, store=store, executor=executor, strategies=strategies, planner=planner, exit_rules=exit_rules,
        scorer=scorer, market_clock=market_clock, wall_clock=wall_clock, breaker=breaker,
    )
    return EngineParts(engine, executor, venue, scorer)
