"""Strategies on hand-built candle series: each must fire on its pattern and stay silent just short of it."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.indicators import rsi
from engine.strategies import STRATEGIES, Strategy, aggregate, build_strategies, candles_to_frame, register
from engine.strategies.base import STRENGTH_FLOOR, excess_score, timeframe_ms
from engine.strategies.ema_trend import EmaTrend
from engine.strategies.mean_reversion import MeanReversion
from engine.strategies.momentum_spike import MomentumSpike
from errors import ConfigError
from models import Candle, Side, Signal
from settings import EmaTrendSettings, MeanReversionSettings, MomentumSpikeSettings, StrategySettings

T0 = 1_700_000_000_000
MINUTE = 60_000


def make_candles(closes, volumes=None, symbol="BTC/USDT:USDT") -> list[Candle]:
    """Each candle opens at the previous close; high/low are the larger/smaller of open and close."""
    volumes = volumes if volumes is not None else [10] * len(closes)
    out, prev = [], Decimal(str(closes[0]))
    for i, (c, v) in enumerate(zip(closes, volumes)):
        close = Decimal(str(c))
        out.append(Candle(symbol, "1m", T0 + i * MINUTE, prev, max(prev, close), min(prev, close), close, Decimal(str(v))))
        prev = close
    return out


def last_row(strategy: Strategy, candles) -> pd.Series:
    return strategy.generate(candles_to_frame(candles)).iloc[-1]


# ------------------------------------------------------------------------------------ frame / base


def test_candles_to_frame_when_converted_then_columns_and_dtypes_are_fixed():
    frame = candles_to_frame(make_candles([100, 101]))

    assert list(frame.columns) == ["open_time_ms", "open", "high", "low", "close", "volume"]
    assert frame["open_time_ms"].dtype == np.int64
    assert all(frame[c].dtype == np.float64 for c in ["open", "high", "low", "close", "volume"])
    assert frame["close"].tolist() == [100.0, 101.0]


@pytest.mark.parametrize(("timeframe", "ms"), [("1m", 60_000), ("15m", 900_000), ("1h", 3_600_000), ("4h", 14_400_000)])
def test_timeframe_ms_when_known_then_milliseconds(timeframe, ms):
    assert timeframe_ms(timeframe) == ms


@pytest.mark.parametrize(("ratio", "score"), [(0.99, 0.0), (1.0, 0.0), (1.5, 0.5), (2.0, 1.0), (3.0, 1.0), (np.nan, 0.0)])
def test_excess_score_when_ratio_given_then_linear_from_threshold_to_double(ratio, score):
    assert excess_score(np.array([ratio]))[0] == pytest.approx(score)


# ---------------------------------------------------------------------------------- momentum spike
# Defaults: window 5, min_move_pct 0.6, volume_window 20, volume_multiple 2.0.


def spike(last_close, last_volume):
    return make_candles([100] * 25 + [last_close], [10] * 25 + [last_volume])


@pytest.mark.parametrize(
    ("last_close", "last_volume", "side"),
    [
        (100.6, 20, 1),  # +0.60 % exactly, volume exactly 2.0x: both thresholds are inclusive
        (100.59, 20, 0),  # +0.59 %: move just short
        (100.6, 19.9, 0),  # volume 1.99x: confirmation just short
        (101, 40, 1),
        (99.4, 20, -1),  # -0.60 %: the mirror
        (99.41, 20, 0),
    ],
)
def test_momentum_spike_when_move_and_volume_around_thresholds_then_fires_only_past_both(last_close, last_volume, side):
    row = last_row(MomentumSpike(), spike(last_close, last_volume))

    assert row["side"] == side


def test_momentum_spike_when_fired_then_reason_has_the_numbers_and_strength_maps_excess():
    # Arrange: move 1.2 % (2x the threshold) and volume 4x (2x the multiple) → full strength.
    strong = last_row(MomentumSpike(), spike(101.2, 40))
    bare = last_row(MomentumSpike(), spike(100.6, 20))

    assert strong["strength"] == pytest.approx(1.0)
    assert bare["strength"] == pytest.approx(STRENGTH_FLOOR)
    assert strong["reason"] == "price +1.20% in 5 candles (min 0.6%), volume 4.0x average (min 2x)"


def test_momentum_spike_when_no_signal_then_side_zero_strength_zero_reason_empty():
    frame = MomentumSpike().generate(candles_to_frame(spike(100, 10)))

    assert (frame["side"] == 0).all() and (frame["strength"] == 0).all() and (frame["reason"] == "").all()


# --------------------------------------------------------------------------------------- EMA trend
# Flat at 100 (fast == slow, ATR 0), then one candle jumps by `jump`: fast crosses above slow, and
# Wilder's ATR = jump / 14 (13 zero ranges + one of `jump`), so ATR% = jump / 14 / close × 100.
# jump 0.75 → 0.0532 % ≥ 0.05 (fires); jump 0.65 → 0.0461 % < 0.05 (dead market, silent).


@pytest.mark.parametrize(("jump", "side"), [(0.75, 1), (0.65, 0), (-0.75, -1), (-0.65, 0)])
def test_ema_trend_when_crossing_around_min_atr_then_fires_only_in_a_live_market(jump, side):
    candles = make_candles([100] * 100 + [100 + jump])

    row = last_row(EmaTrend(), candles)

    assert row["side"] == side


def test_ema_trend_when_already_crossed_then_no_new_signal():
    candles = make_candles([100] * 100 + [101, 101.5])

    frame = EmaTrend().generate(candles_to_frame(candles))

    assert frame["side"].tolist()[-2:] == [1, 0]


def test_ema_trend_when_min_atr_zero_then_any_crossing_fires():
    candles = make_candles([100] * 100 + [100.01])

    row = last_row(EmaTrend(EmaTrendSettings(min_atr_pct=Decimal("0"))), candles)

    assert row["side"] == 1


# ---------------------------------------------------------------------------------- mean reversion
# A calm zig-zag, then a sell-off of three -1.0 candles: RSI collapses and the close leaves the lower band.

CALM = [100 + (0.1 if i % 2 else 0) for i in range(80)]
SELL_OFF = CALM + [99, 98, 97]
RALLY = CALM + [101, 102, 103]


def rsi_last(closes) -> float:
    return float(rsi(pd.Series(closes, dtype=float), 14).iloc[-1])


def test_mean_reversion_when_rsi_below_oversold_and_close_below_band_then_long():
    row = last_row(MeanReversion(), make_candles(SELL_OFF))

    assert row["side"] == 1
    assert row["reason"].startswith("RSI ") and "below lower band" in row["reason"]


def test_mean_reversion_when_rsi_exactly_at_oversold_then_silent():
    # Arrange: move the threshold onto the candle's own RSI (a fraction above it fires, at it does not).
    r = rsi_last(SELL_OFF)
    at = MeanReversion(MeanReversionSettings(oversold=Decimal(str(r))))
    just_above = MeanReversion(MeanReversionSettings(oversold=Decimal(str(r)) + Decimal("0.001")))

    assert float(Decimal(str(r))) == r  # repr round-trips, so "at" is exactly the RSI
    assert last_row(at, make_candles(SELL_OFF))["side"] == 0
    assert last_row(just_above, make_candles(SELL_OFF))["side"] == 1


def test_mean_reversion_when_close_inside_band_then_silent_even_if_oversold():
    # Arrange: very wide bands (10 std) keep the close inside although RSI is extreme.
    strategy = MeanReversion(MeanReversionSettings(bollinger_std=Decimal("10")))

    row = last_row(strategy, make_candles(SELL_OFF))

    assert rsi_last(SELL_OFF) < 25
    assert row["side"] == 0


def test_mean_reversion_when_rsi_above_overbought_and_close_above_band_then_short():
    row = last_row(MeanReversion(), make_candles(RALLY))

    assert row["side"] == -1
    assert 0.25 <= row["strength"] <= 1.0


# ----------------------------------------------------------------------------------- latest_signal


def test_latest_signal_when_last_candle_fires_then_signal_at_close_time_with_decimal_price():
    candles = spike(Decimal("100.6"), 20)

    signal = MomentumSpike().latest_signal("BTC/USDT:USDT", "1m", candles)

    assert signal == Signal(
        symbol="BTC/USDT:USDT", side=Side.LONG, strength=pytest.approx(STRENGTH_FLOOR), price=Decimal("100.6"),
        ts_ms=candles[-1].open_time_ms + MINUTE, strategy="momentum_spike",
        reason="price +0.60% in 5 candles (min 0.6%), volume 2.0x average (min 2x)",
    )


def test_latest_signal_when_fewer_candles_than_warmup_then_none():
    strategy = MomentumSpike()
    candles = spike(101, 40)[-(strategy.warmup - 1) :]

    assert strategy.latest_signal("BTC/USDT:USDT", "1m", candles) is None


def test_latest_signal_when_last_candle_quiet_then_none():
    assert MomentumSpike().latest_signal("BTC/USDT:USDT", "1m", spike(100, 10)) is None


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_latest_signal_when_compared_to_full_history_then_agrees(seed):
    # Property: the live decision on the candles so far equals the vectorised one over the whole history.
    rng = np.random.default_rng(seed)
    closes = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.004, 260))), 2)
    volumes = np.round(rng.lognormal(2, 0.8, 260), 3)
    candles = make_candles(closes.tolist(), volumes.tolist())
    frame = candles_to_frame(candles)
    for strategy in (MomentumSpike(), EmaTrend(), MeanReversion()):
        full = strategy.generate(frame)
        for i in range(len(candles) - 15, len(candles)):
            signal = strategy.latest_signal("X", "1m", candles[: i + 1])
            assert (0 if signal is None else signal.side.sign) == full["side"].iat[i]


# ---------------------------------------------------------------------------------------- registry


@pytest.fixture
def user_strategy():
    @register
    class Always(Strategy):
        name = "test_always_long"

        @property
        def warmup(self) -> int:
            return 1

        def generate(self, frame):
            return pd.DataFrame({"side": 1, "strength": 1.0, "reason": "always"}, index=frame.index)

    yield Always
    STRATEGIES.pop("test_always_long", None)


def test_registry_when_package_imported_then_builtins_are_registered():
    assert {"momentum_spike", "ema_trend", "mean_reversion"} <= set(STRATEGIES)


def test_build_strategies_when_defaults_then_each_gets_its_settings_section():
    built = build_strategies(StrategySettings())

    assert [s.name for s in built] == ["momentum_spike", "ema_trend", "mean_reversion"]
    assert isinstance(built[0].params, MomentumSpikeSettings)


def test_build_strategies_when_user_strategy_without_section_then_params_none(user_strategy):
    built = build_strategies(StrategySettings(enabled=("test_always_long",)))

    assert len(built) == 1 and isinstance(built[0], user_strategy) and built[0].params is None
    assert built[0].latest_signal("X", "1m", make_candles([1, 2])).reason == "always"


def test_build_strategies_when_unknown_name_then_config_error_lists_known():
    with pytest.raises(ConfigError, match=r"strategy.enabled: unknown strategy 'nope' \(known: .*momentum_spike"):
        build_strategies(StrategySettings(enabled=("nope",)))


def test_register_when_name_missing_then_type_error():
    with pytest.raises(TypeError):
        @register
        class Nameless(Strategy):  # noqa: F841
            pass


# --------------------------------------------------------------------------------------- aggregate


def sig(symbol="BTC", side=Side.LONG, strength=0.6, strategy="a") -> Signal:
    return Signal(symbol, side, strength, Decimal("100"), T0, strategy, f"{strategy} says so")


@pytest.mark.parametrize(("strength", "kept"), [(0.49, False), (0.5, True), (0.51, True)])
def test_aggregate_when_strength_around_min_confidence_then_kept_at_or_above(strength, kept):
    signals, denials = aggregate([sig(strength=strength)], 0.5)

    assert bool(signals) is kept
    assert [d.reason_code for d in denials] == ([] if kept else ["low_confidence"])


def test_aggregate_when_min_confidence_zero_then_every_signal_kept():
    signals, denials = aggregate([sig(strength=0.0), sig(symbol="ETH", strength=0.01)], 0.0)

    assert len(signals) == 2 and denials == []


def test_aggregate_when_strategies_disagree_then_none_kept_and_denial_explains():
    signals, denials = aggregate([sig(strategy="a"), sig(side=Side.SHORT, strategy="b"), sig(symbol="ETH")], 0.5)

    assert [s.symbol for s in signals] == ["ETH"]
    assert denials[0].reason_code == "conflicting_signals"
    assert "BTC" in denials[0].detail and "a long (0.60)" in denials[0].detail and "b short (0.60)" in denials[0].detail


def test_aggregate_when_disagreeing_signal_is_weak_then_it_does_not_veto():
    signals, denials = aggregate([sig(strategy="a"), sig(side=Side.SHORT, strength=0.1, strategy="b")], 0.5)

    assert [s.strategy for s in signals] == ["a"]
    assert [d.reason_code for d in denials] == ["low_confidence"]


def test_aggregate_when_strategies_agree_then_strongest_kept_once_and_reason_names_the_others():
    signals, _ = aggregate([sig(strength=0.6, strategy="a"), sig(strength=0.9, strategy="b")], 0.5)

    assert len(signals) == 1 and signals[0].strategy == "b"
    assert signals[0].reason == "b says so; confirmed by a"
