"""The EMA comparison rules: the reference in plain Decimal (hand-computed), the `ema_cross` strategy that
crosses where the reference does, and configs/ema_cross.yaml with the settings it needs — long only, a
fixed notional, no stop, no take-profit and no exit but the opposite cross."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from benchmarks import ema_reference
from benchmarks.ema_reference import ReferenceTrade, cross_signals, ema_differences, simulate
from bot.assembly import assemble
from clock import SimulatedClock, SystemClock
from engine.candles import close_time_ms
from engine.entries import EntryPlanner, MarketContext
from engine.indicators import ema
from engine.strategies import STRATEGIES, build_strategies
from engine.strategies.base import candles_to_frame
from engine.strategies.ema_cross import EmaCross
from errors import ConfigError
from exchange_client import load_symbol_rules_for
from marketdata.csvfile import HEADER_LINE, read_candles
from models import Candle, Denial, EntryPlan, ExitReason, Mode, Side, Signal, TradingState
from risk.exits import OUT_OF_REACH, ExitRules
from risk.levels import resolve_risk
from risk.limits import effective_limits
from risk.sizing import SizingInput, size_position
from settings import PROJECT_ROOT, EmaCrossSettings, Settings, load_settings
from memory_store import InMemoryStore

CONFIG = PROJECT_ROOT / "configs" / "ema_cross.yaml"
BTC = "BTC/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_372_780_000
D = Decimal


def candles(closes: list[float | str], symbol: str = BTC) -> list[Candle]:
    out = []
    for i, raw in enumerate(closes):
        c = D(str(raw))
        out.append(Candle(symbol, "1m", T0 + i * MINUTE, c, c, c, c, D("1")))
    return out


def write_closes(directory: Path, closes: list[str]) -> Path:
    path = directory / "closes.csv"
    rows = [f"{T0 + i * MINUTE},{c},{c},{c},{c},1" for i, c in enumerate(closes)]
    path.write_text("\n".join([HEADER_LINE, *rows]) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- the reference


def test_reference_when_a_tiny_series_crosses_up_then_down_then_one_trade_computed_by_hand(tmp_path):
    # Arrange: EMA(2) alpha 2/3, EMA(3) alpha 1/2
    #   close   EMA2      EMA3    diff
    #   100     100       100     0          first candle: no difference, no cross
    #   90      93.333…   95      -1.667     first non-zero: nothing before it to cross from
    #   120     111.111…  107.5   +3.611     cross up: buy floor(1000 / 120, 0.001) = 8.333 at 120
    #   80      90.370…   93.75   -3.380     cross down: sell 8.333 at 80
    #   80      83.456…   86.875  -3.418     no cross
    path = write_closes(tmp_path, ["100", "90", "120", "80", "80"])

    # Act
    trades, equity = ema_reference.run(path, fast=2, slow=3)

    # Assert: fees 0.04 % of 999.96 and of 666.64; P&L 8.333 × -40 less both
    entry_fee, exit_fee = D("0.399984"), D("0.266656")
    assert trades == [ReferenceTrade(D("8.333"), T0 + 3 * MINUTE, D("120"), T0 + 4 * MINUTE, D("80"),
                                     entry_fee + exit_fee, D("-333.32") - entry_fee - exit_fee)]
    assert equity == D("10000") - D("333.32") - entry_fee - exit_fee == D("9666.013360")


def test_reference_when_a_position_is_open_at_the_end_then_it_counts_at_the_last_close_without_an_exit_fee():
    times = [T0 + i * MINUTE for i in range(4)]

    trades, equity = simulate(times, [D("100"), D("90"), D("120"), D("130")], fast=2, slow=3)

    assert trades == []
    assert equity == D("10000") - D("8.333") * D("120") * D("0.0004") + D("8.333") * D("10")


def test_reference_when_emas_are_computed_then_alpha_is_two_over_n_plus_one_seeded_with_the_first_close():
    diffs = ema_differences([D("10"), D("13")], fast=2, slow=5)

    assert diffs == [D("0"), D("10") + D(2) / 3 * 3 - (D("10") + D(2) / 6 * 3)]


@pytest.mark.parametrize(
    "differences, signals",
    [
        ([0, 0, 0], [0, 0, 0]),
        ([1, -1, 1], [0, -1, 1]),
        ([-1, 0, 1], [0, 0, 1]),  # a zero between is no cross and no reset: the cross is at the +1
        ([-1, 0, -1], [0, 0, 0]),  # a touch and back is no signal
        ([0, 1, 1, 0, 0, -2, 0, 3], [0, 0, 0, 0, 0, -1, 0, 1]),
        ([2, 3, 0, 4], [0, 0, 0, 0]),
        ([-1e-30, 1e-30], [0, 1]),  # any non-zero difference counts, however small
    ],
)
def test_cross_signals_when_differences_touch_zero_then_only_a_change_of_the_last_nonzero_sign_crosses(
    differences, signals
):
    assert cross_signals([D(str(d)) for d in differences]) == signals


def test_reference_when_the_lot_floors_the_quantity_then_the_remainder_is_not_bought(tmp_path):
    # 1000 / 0.7 = 1428.571428…: 1428.571 on a lot of 0.001, 1428 on a lot of 1
    times = [T0 + i * MINUTE for i in range(4)]
    closes = [D("0.6"), D("0.5"), D("0.7"), D("0.4")]

    (fine,), _ = simulate(times, closes, fast=2, slow=3)
    (coarse,), _ = simulate(times, closes, fast=2, slow=3, lot=D("1"))

    assert (fine.qty, coarse.qty) == (D("1428.571"), D("1428"))


# --------------------------------------------------------------------------------- the strategy


def sides(strategy: EmaCross, series: list[Candle]) -> list[int]:
    return strategy.generate(candles_to_frame(series))["side"].tolist()


def test_generate_when_the_emas_meet_exactly_in_a_flat_run_then_the_zero_neither_crosses_nor_resets():
    # Arrange: down, then flat until both EMAs equal the price exactly, then up, then flat again, then down
    closes = [100.0, 99.0, 98.0] + [98.0] * 120 + [99.0, 100.0] + [100.0] * 120 + [99.0]
    strategy = EmaCross(EmaCrossSettings(fast=2, slow=3))
    frame = candles_to_frame(candles(closes))
    diff = (ema(frame["close"], 2) - ema(frame["close"], 3)).to_numpy()
    assert diff[1] < 0 and diff[122] == 0 and diff[123] > 0 and diff[-3] == 0 and diff[-1] < 0

    # Act
    generated = strategy.generate(frame)

    # Assert: the cross up at the rise (the last non-zero was below), the cross down at the fall
    assert np.flatnonzero(generated["side"].to_numpy()).tolist() == [123, len(closes) - 1]
    assert generated["side"].iat[123] == 1 and generated["side"].iat[-1] == -1
    assert generated["reason"].iat[123] == "EMA2 crossed above EMA3" and generated["strength"].iat[123] == 1.0


def test_generate_when_the_series_starts_flat_then_rises_then_no_cross_up_only_the_later_cross_down():
    strategy = EmaCross(EmaCrossSettings(fast=2, slow=3))

    assert sides(strategy, candles([100, 100, 100, 101, 102, 103, 101, 99])) == [0, 0, 0, 0, 0, 0, -1, 0]


def test_registry_when_ema_cross_enabled_then_built_with_its_section_and_warm_from_the_first_candle():
    s = load_settings(CONFIG, environ={})

    (strategy,) = build_strategies(s.strategy)

    assert STRATEGIES["ema_cross"] is EmaCross and isinstance(strategy, EmaCross)
    assert strategy.params == EmaCrossSettings(fast=12, slow=26) and strategy.warmup == 1


@pytest.mark.parametrize("fast, slow", [(12, 12), (26, 12)])
def test_settings_when_ema_cross_fast_not_below_slow_then_refused_naming_both(fast, slow):
    with pytest.raises(ConfigError, match=rf"strategy.ema_cross: fast \({fast}\) must be smaller than slow \({slow}\)"):
        load_settings(CONFIG, environ={"TB_STRATEGY__EMA_CROSS__FAST": str(fast), "TB_STRATEGY__EMA_CROSS__SLOW": str(slow)})


KLINES = ["binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv", "binance_usdm_ETHUSDT_1m_2025-05-04_2025-06-15.csv",
          "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv"]


@pytest.mark.parametrize("name", KLINES)
def test_generate_when_a_real_file_then_it_crosses_exactly_where_the_decimal_reference_does(shared_klines, name):
    # Arrange
    times, closes = ema_reference.read_closes(shared_klines / name)
    frame = candles_to_frame(candles([str(c) for c in closes]))

    # Act
    generated = EmaCross().generate(frame)["side"].to_numpy()

    # Assert
    reference = np.array(cross_signals(ema_differences(closes, 12, 26)))
    differ = np.flatnonzero(generated != reference)
    assert not len(differ), f"rows {differ[:10].tolist()}"
    assert (reference != 0).sum() > 1000


# ---------------------------------------------------------------------- the settings the rules need


def rules_settings(**environ: str) -> Settings:
    return load_settings(CONFIG, environ={"TB_BOT__SYMBOLS": f"[{BTC}]", **environ})


def planner(s: Settings) -> EntryPlanner:
    return EntryPlanner(
        risk=resolve_risk(s.sizing, s.strategy, s.stops), stops=s.stops, exit_rules=ExitRules(s.exits, s.venue.taker_fee_rate),
        limits=effective_limits(s.risk, s.venue.leverage, Mode.PAPER), symbol_rules=load_symbol_rules_for(s),
    )


def context() -> MarketContext:
    return MarketContext(
        trading_state=TradingState.ACTIVE, equity=D("10000"), wallet_balance=D("10000"), margin_used=D("0"),
        positions=(), price_age_s=1.0, stale_after_s=120.0, daily_pnl=D("0"), weekly_pnl=D("0"), leverage=3,
        buys_last_24h=0,
    )


def signal(side: Side, price: str, series: list[Candle]) -> Signal:
    return Signal(BTC, side, 1.0, D(price), close_time_ms(series[-1]), "ema_cross", "a cross")


def test_config_when_loaded_then_it_states_the_comparison_rules():
    s = load_settings(CONFIG, environ={})

    assert (s.strategy.enabled, s.strategy.min_confidence, s.strategy.entry_sides) == (("ema_cross",), 0.0, "long")
    assert (s.venue.taker_fee_rate, s.venue.slippage.fixed_bps, s.venue.funding_rate) == (D("0.0004"), 0, 0)
    assert (s.venue.starting_balance, s.sizing.method, s.sizing.fixed_notional) == (D("10000"), "fixed_notional", D("1000"))
    assert s.sizing.strength_scaling is None and s.stops.method == "none"
    e = s.exits
    assert not (e.take_profit_enabled or e.trailing.enabled or e.emergency_enabled or e.volume_exhaustion_enabled
                or e.time_limit_enabled)
    assert e.exit_on_reverse_signal and e.min_hold_seconds == 0


def test_plan_when_the_rules_cross_up_then_floor_of_1000_usdt_on_the_lot_with_stop_and_take_profit_out_of_reach():
    # Arrange: a rising series has no swing low, which would refuse a structure stop
    s = rules_settings()
    series = candles([f"{95000 + i}" for i in range(30)])

    # Act
    plan, sizing = planner(s).plan(signal(Side.LONG, "95029.7", series), series, context())

    # Assert: 1000 / 95029.7 = 0.010523…
    assert isinstance(plan, EntryPlan)
    assert plan.qty == D("0.010") and sizing.method == "fixed_notional" and sizing.notional == D("1000")
    assert plan.stop == D("95.0") and plan.take_profit == D("95029700.0")  # entry / 1000 and × 1000 on the tick


def test_plan_when_long_only_and_a_cross_down_while_flat_then_no_short_is_opened():
    s = rules_settings()
    series = candles([f"{95000 - i}" for i in range(30)])

    plan, sizing = planner(s).plan(signal(Side.SHORT, "94971", series), series, context())

    assert plan == Denial("side_not_allowed", f"{BTC} short: strategy.entry_sides is long, so this signal only closes an opposite trade")
    assert sizing is None


@pytest.mark.parametrize("sides, allowed", [("both", {Side.LONG, Side.SHORT}), ("long", {Side.LONG}), ("short", {Side.SHORT})])
def test_plan_when_entry_sides_set_then_only_those_sides_open(sides, allowed):
    s = rules_settings(TB_STRATEGY__ENTRY_SIDES=sides)
    series = candles(["95000"] * 30)

    opened = {side for side in Side if isinstance(planner(s).plan(signal(side, "95000", series), series, context())[0], EntryPlan)}

    assert opened == allowed


def test_plan_when_no_stop_on_a_coin_so_cheap_that_a_thousandth_rounds_to_zero_then_one_tick():
    s = load_settings(CONFIG, environ={"TB_BOT__SYMBOLS": "[DOGE/USDT:USDT]"})
    series = candles(["0.00500"] * 30, symbol="DOGE/USDT:USDT")
    doge = Signal("DOGE/USDT:USDT", Side.LONG, 1.0, D("0.005"), close_time_ms(series[-1]), "ema_cross", "a cross")

    plan, _ = planner(s).plan(doge, series, context())

    assert plan.stop == D("0.00001")  # 0.000005 would round to 0, which a venue refuses


def test_sizing_when_fixed_notional_then_the_amount_whatever_the_equity_and_the_stop():
    s = rules_settings()
    resolved = resolve_risk(s.sizing, s.strategy, s.stops)

    small = size_position(resolved, SizingInput(D("500"), D("2000"), D("2"), 1.0, 0))
    large = size_position(resolved, SizingInput(D("1000000"), D("2000"), D("1999"), 0.1, 5))

    assert (small.notional, small.qty) == (large.notional, large.qty) == (D("1000"), D("0.5"))


def test_settings_when_fixed_notional_without_an_amount_then_refused():
    with pytest.raises(ConfigError, match="sizing: method fixed_notional needs fixed_notional"):
        load_settings(environ={"TB_SIZING__METHOD": "fixed_notional"})


def test_settings_when_fixed_risk_with_no_stop_then_refused_naming_both():
    with pytest.raises(ConfigError, match="sizing.method fixed_risk sizes by the stop distance: it needs stops.method structure"):
        load_settings(CONFIG, environ={"TB_SIZING__METHOD": "fixed_risk"})


def test_exits_when_everything_but_the_reverse_signal_is_off_then_nothing_else_ever_closes():
    # Arrange: a long that loses 50 % in a volume drought, held for a year, far past any trigger
    s = rules_settings()
    rules = ExitRules(s.exits, s.venue.taker_fee_rate)
    trade = rules.open(BTC, Side.LONG, D("0.01"), D("100000"), T0, D("100"))
    crash = Candle(BTC, "1m", T0 + 365 * 24 * 60 * MINUTE, D("50000"), D("200000"), D("50000"), D("50000"), D("0.0001"))

    # Act
    moved = rules.update(trade, crash)
    kept = rules.condition_exit(moved, crash, volume_avg=D("1000"), reverse_signal=False, now_ms=crash.open_time_ms)
    reversed_ = rules.condition_exit(moved, crash, volume_avg=D("1000"), reverse_signal=True, now_ms=crash.open_time_ms)

    # Assert: a doubling does not reach the take-profit nor move the stop to breakeven
    assert trade.take_profit == D("100000") * OUT_OF_REACH and rules.price_exit(trade, crash) is None
    assert moved.stop == D("100") and not moved.breakeven_moved and not moved.trailing_active
    assert kept is None and reversed_.reason is ExitReason.REVERSE_SIGNAL and reversed_.price == D("50000")


def test_exits_when_switches_are_on_by_default_then_time_limit_and_emergency_still_close():
    rules = ExitRules(Settings().exits, D("0.0005"))
    trade = rules.open(BTC, Side.LONG, D("0.01"), D("100000"), T0, D("97000"))
    drought = Candle(BTC, "1m", T0 + 10 * MINUTE, D("97500"), D("97600"), D("97400"), D("97500"), D("0.0001"))
    late = Candle(BTC, "1m", T0 + 240 * MINUTE, D("100000"), D("100000"), D("100000"), D("100000"), D("10"))

    emergency = rules.condition_exit(trade, drought, D("1000"), False, drought.open_time_ms)
    timed_out = rules.condition_exit(trade, late, D("10"), False, late.open_time_ms)

    assert emergency.reason is ExitReason.EMERGENCY and timed_out.reason is ExitReason.TIME_LIMIT


# ------------------------------------------------------------------------------------ the engine


@pytest.mark.parametrize("mode", [Mode.GHOST, Mode.PAPER])
def test_engine_when_run_with_the_config_on_real_candles_then_it_trades_exactly_what_the_reference_trades(
    store: InMemoryStore, shared_klines: Path, mode: Mode
):
    # Arrange: the first 2000 BTC minutes (29 round trips); paper goes through the simulated venue, which
    # must take the out-of-reach stop and take-profit orders
    table = read_candles(shared_klines / KLINES[0])
    n = 2000
    series = [Candle(BTC, "1m", int(table.ts[i]), D(table.open[i]), D(table.high[i]), D(table.low[i]), D(table.close[i]),
                     D(table.volume[i])) for i in range(n)]
    parts = assemble(rules_settings(), store, mode, market_clock=SimulatedClock(0), wall_clock=SystemClock())

    # Act
    trades = [trade for candle in series for trade in parts.engine.on_candle(candle)]

    # Assert: the same fills to the last digit (the engine's prices carry the tick's trailing zeros)
    reference, _ = simulate([int(t) for t in table.ts[:n]], [D(c) for c in table.close[:n]])
    assert len(reference) == 29
    assert [(t.qty, t.entry_ms, t.entry_price, t.exit_ms, t.exit_price, t.fees, t.pnl) for t in trades] == [
        (r.qty, r.entry_ms, r.entry_price, r.exit_ms, r.exit_price, r.fees, r.pnl) for r in reference
    ]
    assert {t.exit_reason for t in trades} == {ExitReason.REVERSE_SIGNAL}
