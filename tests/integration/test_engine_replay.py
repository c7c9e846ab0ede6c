"""The trading engine over real candles (../shared/data/klines), built exactly as the bot builds it
(`bot.assembly.assemble`) over a real Redis.

1. Ghost predicts paper: with fees, slippage and funding at zero, the ghost executor's hypothetical
   trades and the paper executor's trades on the simulated venue are the same list, field by field.
   The exits are tightened so every kind of price exit happens (stop, breakeven, trailing, take-profit,
   a trailing stop moved through the close) besides the discretionary ones.
2. With the venue's fees and slippage (funding off), ghost and paper still agree, slippage included.
3. With the venue's real costs: every trade's P&L is its gross minus its fees and funding, exactly, and
   the trades add up to the wallet's change (wallet = start + realised − fees − funding = start + Σ pnl).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Mapping

import pytest

from clock import SimulatedClock, SystemClock
from bot.assembly import EngineParts, assemble
from exchange_client import SimVenueClient, load_symbol_rules_for
from marketdata.replay import ReplaySource
from models import Candle, ExitReason, Mode, Trade
from settings import Settings, load_settings
from simulator import SimConfig
from state import StateStore, connect

pytestmark = pytest.mark.slow

BTC, SOL = "BTC/USDT:USDT", "SOL/USDT:USDT"
FILES = {
    BTC: "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    SOL: "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}
WARMUP = 300  # candles per symbol that only warm the indicators
STEPS = 300  # minutes replayed after the warm-up: 600 candles, two symbols

BASE_ENV = {
    "TB_BOT__SYMBOLS": f"[{BTC}, {SOL}]",
    "TB_STRATEGY__MIN_CONFIDENCE": "0",  # every signal is a trade candidate
}
ZERO_COSTS = {
    "TB_VENUE__MAKER_FEE_RATE": "0",
    "TB_VENUE__TAKER_FEE_RATE": "0",
    "TB_VENUE__SLIPPAGE__FIXED_BPS": "0",
    "TB_VENUE__FUNDING_RATE": "0",  # funding moves the venue's equity and so the next trade's size
}
# Exits tight enough that, in five hours of candles, trades leave by every price exit too
TIGHT_EXITS = {
    "TB_EXITS__TAKE_PROFIT_PCT": "0.35",
    "TB_EXITS__REWARD_RISK": "0.5",
    "TB_EXITS__BREAKEVEN_AT_FRACTION": "0.5",
    "TB_EXITS__TRAILING__ACTIVATION_PCT": "0.25",
    "TB_EXITS__TRAILING__TRAIL_PCT": "0.05",
    "TB_EXITS__MIN_HOLD_SECONDS": "300",
    "TB_EXITS__TIME_LIMIT_MINUTES": "90",
}
# What the exit rules can close a trade for on their own (engine/exits.py), plus the venue liquidating it
EXIT_RULE_REASONS = {
    ExitReason.TAKE_PROFIT, ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP, ExitReason.BREAKEVEN_STOP,
    ExitReason.EMERGENCY, ExitReason.VOLUME_EXHAUSTION, ExitReason.TIME_LIMIT, ExitReason.REVERSE_SIGNAL,
    ExitReason.LIQUIDATION,
}


# --------------------------------------------------------------------------------------- helpers


def settings_with(*overrides: Mapping[str, str]) -> Settings:
    environ: dict[str, str] = dict(BASE_ENV)
    for o in overrides:
        environ.update(o)
    return load_settings(environ=environ)


def comparable(t: Trade) -> tuple:
    return (t.trade_id, t.symbol, t.side, t.qty, t.entry_price, t.exit_price, t.exit_reason, t.entry_ms, t.exit_ms,
            t.gross_pnl, t.fees, t.pnl)


def in_memory_venue(settings: Settings, clock: SimulatedClock) -> SimVenueClient:
    return SimVenueClient(SimConfig.from_settings(settings.venue), clock, load_symbol_rules_for(settings))


def run_engine(settings: Settings, store: StateStore, mode: Mode, replay: tuple, *, in_memory: bool = False) -> tuple[list[Trade], EngineParts]:
    backfill, candles = replay
    clock = SimulatedClock(0)
    venue = in_memory_venue(settings, clock) if in_memory else None
    parts = assemble(settings, store, mode, market_clock=clock, wall_clock=SystemClock(), venue=venue)
    parts.engine.warm_up(backfill)
    trades = parts.engine.process(candles)
    return trades, parts


@pytest.fixture(scope="module")
def replay(shared_klines: Path) -> tuple[dict[str, list[Candle]], list[Candle]]:
    """The same real candles for every run: the warm-up history, then STEPS minutes of both symbols."""
    source = ReplaySource({s: shared_klines / f for s, f in FILES.items()}, "1m", SystemClock(), speed=0, loop=False,
                          batch_candles=2 * STEPS)
    backfill = source.backfill(WARMUP)
    candles = source.poll()[: 2 * STEPS]
    assert len(candles) == 2 * STEPS
    return backfill, candles


@pytest.fixture
def other_store(redis_url: str, bot_id: str) -> StateStore:
    s = StateStore(connect(redis_url), bot_id + "p")
    yield s
    s.wipe()


# ------------------------------------------------------------------------------------------- tests


def test_replay_when_costs_are_zero_then_ghost_and_paper_trades_are_identical(replay, store, other_store):
    # Arrange
    settings = settings_with(ZERO_COSTS, TIGHT_EXITS)

    # Act
    ghost, ghost_parts = run_engine(settings, store, Mode.GHOST, replay)
    paper, paper_parts = run_engine(settings, other_store, Mode.PAPER, replay, in_memory=True)

    # Assert
    assert [comparable(t) for t in paper] == [comparable(t) for t in ghost]
    reasons = Counter(t.exit_reason for t in ghost)
    assert len(ghost) >= 12, reasons
    # the run went through the paths where ghost and paper could part ways
    assert {ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP, ExitReason.BREAKEVEN_STOP, ExitReason.TAKE_PROFIT} <= set(reasons), reasons
    assert any(t.exit_reason not in (ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP, ExitReason.BREAKEVEN_STOP,
                                     ExitReason.TAKE_PROFIT) for t in ghost), "no market exit in the run"
    assert any("at or beyond the close" in e.message for e in store.read_audit(20_000, kinds=["exit"])), \
        "no stop moved through the close in the run"
    # both books are flat or hold the same open trade, and each wrote its trades to its own stream
    assert paper_parts.executor.trade_states() == ghost_parts.executor.trade_states()
    assert [comparable(t) for t in store.read_trades(1000)] == [comparable(t) for t in ghost]
    assert [comparable(t) for t in other_store.read_trades(1000)] == [comparable(t) for t in paper]
    assert ghost_parts.engine.stats.pnl == paper_parts.engine.stats.pnl
    # a venue without costs pays none
    assert all(t.fees == 0 and t.pnl == t.gross_pnl for t in paper)


def test_replay_when_the_venue_charges_fees_and_slippage_then_ghost_and_paper_trades_are_still_identical(replay, store, other_store):
    # Arrange: the configured fees and 2 bps slippage; funding off, as it reaches paper's equity (and so
    # the next trade's size) but no ghost trade
    settings = settings_with({"TB_VENUE__FUNDING_RATE": "0"}, TIGHT_EXITS)
    assert settings.venue.taker_fee_rate > 0 and settings.venue.slippage.fixed_bps > 0

    # Act
    ghost, _ = run_engine(settings, store, Mode.GHOST, replay)
    paper, _ = run_engine(settings, other_store, Mode.PAPER, replay, in_memory=True)

    # Assert: every stop and take-profit paid its slippage, at the same price in both
    assert [comparable(t) + (t.slippage,) for t in paper] == [comparable(t) + (t.slippage,) for t in ghost]
    resting = [t for t in ghost if t.exit_reason in (ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP,
                                                      ExitReason.BREAKEVEN_STOP, ExitReason.TAKE_PROFIT)]
    assert len(resting) >= 5, Counter(t.exit_reason for t in ghost)
    assert all(t.fees > 0 and t.slippage > 0 for t in ghost)
    # a resting exit slips like the market entry did (about 2 bps on each leg), not zero on its leg
    entry_leg = lambda t: t.entry_price * t.qty * settings.venue.slippage.fixed_bps / 10_000  # noqa: E731
    assert all(t.slippage >= Decimal("1.5") * entry_leg(t) for t in resting), \
        [(t.exit_reason, t.slippage, entry_leg(t)) for t in resting]


def test_replay_when_the_venue_charges_fees_slippage_and_funding_then_pnl_is_net_of_them_and_the_trades_sum_to_the_wallet(replay, store):
    # Arrange: the configured fees (0.02 % maker, 0.05 % taker), 2 bps slippage and funding (the replay
    # crosses 08:00 with positions open), on the simulated venue saved in Redis, as the bot runs it
    settings = settings_with()
    assert settings.venue.taker_fee_rate > 0 and settings.venue.slippage.fixed_bps > 0

    # Act
    trades, parts = run_engine(settings, store, Mode.PAPER, replay)
    final = parts.engine.close_all(ExitReason.MANUAL).trades  # whatever is still open, so trades cover the ledger

    # Assert
    assert len(trades) >= 8, Counter(t.exit_reason for t in trades)
    for t in trades + final:
        assert t.pnl == t.gross_pnl - t.fees - t.funding, t
        assert t.fees > 0 and t.slippage > 0, t
        assert t.gross_pnl == t.side.sign * (t.exit_price - t.entry_price) * t.qty, t
    assert {t.exit_reason for t in trades} <= EXIT_RULE_REASONS
    assert {t.exit_reason for t in final} <= {ExitReason.MANUAL}
    ledger = parts.venue.ledger()
    start = settings.venue.starting_balance
    assert ledger.wallet_balance == start + ledger.realized_pnl - ledger.fees - ledger.funding
    everything = trades + final
    assert ledger.realized_pnl == sum((t.gross_pnl for t in everything), Decimal(0))
    assert ledger.fees == sum((t.fees for t in everything), Decimal(0))
    assert ledger.funding == sum((t.funding for t in everything), Decimal(0)) != 0
    assert ledger.wallet_balance - start == sum((t.pnl for t in everything), Decimal(0))  # exactly, funding in
    assert parts.venue.positions() == [] and parts.venue.open_orders() == []
    assert parts.engine.stats.pnl == sum((t.pnl for t in everything), Decimal(0))


@pytest.mark.parametrize("mode", [Mode.GHOST, Mode.PAPER])
def test_replay_when_the_store_is_in_memory_then_the_same_trades_and_records_as_with_redis(replay, store, mode):
    """The store seam: the engine does not know whether its store is Redis or memory."""
    from memory_store import InMemoryStore

    settings = settings_with(TIGHT_EXITS)

    with_redis, _ = run_engine(settings, store, mode, replay, in_memory=True)
    memory = InMemoryStore()
    in_memory, _ = run_engine(settings, memory, mode, replay, in_memory=True)

    assert len(with_redis) >= 5
    assert [comparable(t) for t in in_memory] == [comparable(t) for t in with_redis]
    assert [comparable(t) for t in memory.read_trades()] == [comparable(t) for t in store.read_trades()]
    assert memory.trading_state() is store.trading_state()
