"""Streaming strategies decide exactly as `generate` over the whole series: at every row the same side,
the same strength (within 1e-9) and the same reason, for any candle series and any settings.

Why 1e-9 and not "close enough": the streaming indicators repeat the vectorised arithmetic operation
for operation (engine/indicators.py), so the values are in fact bit-identical — asserted for the
indicators themselves below. Strength only ranks and filters signals (shown with two decimals), so
1e-9 is the contract; a side, decided by comparing an indicator against a threshold, must be equal
exactly, and the series and settings here are built to sit on those thresholds: flat runs (EMAs equal,
zero ranges), coarse ticks (ties), spikes and volume bursts, and thresholds set to the very values the
series reaches.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clock import SimulatedClock, SystemClock
from engine import indicators
from bot.assembly import assemble
from engine.strategies import STRATEGIES, Strategy, candles_to_frame
from engine.strategies.base import RecomputingStream, SignalRow, signal_from
from engine.strategies.ema_trend import EmaTrend
from engine.strategies.mean_reversion import MeanReversion
from marketdata.csvfile import read_candles
from models import Candle, Mode
from settings import EmaCrossSettings, EmaTrendSettings, MeanReversionSettings, MomentumSpikeSettings, load_settings
from state import StateStore

T0 = 1_746_000_000_000 - 1_746_000_000_000 % 60_000
MINUTE = 60_000
STRENGTH_TOLERANCE = 1e-9
# the factor the strategies apply to an inclusive threshold (their _EPS)
INCLUSIVE = 1 - 1e-9

KLINES = {
    "BTC/USDT:USDT": "binance_usdm_BTCUSDT_1m_2025-05-04_2025-06-03.csv",
    "ETH/USDT:USDT": "binance_usdm_ETHUSDT_1m_2025-05-04_2025-06-15.csv",
    "SOL/USDT:USDT": "binance_usdm_SOLUSDT_1m_2025-05-04_2025-06-03.csv",
}

# Settings besides the defaults: the shortest windows the settings allow (every candle matters, a
# two-candle Bollinger band), and long slow ones; Wilder periods among those (3, 6, 19, 20…) whose
# alpha pandas computes a bit away from 1 / period.
PARAMS = {
    "momentum_spike": [
        None,
        MomentumSpikeSettings(window=1, min_move_pct=Decimal("0.1"), volume_window=2, volume_multiple=Decimal("1.2")),
        MomentumSpikeSettings(window=30, min_move_pct=Decimal("2"), volume_window=100, volume_multiple=Decimal("5")),
    ],
    "ema_trend": [
        None,
        EmaTrendSettings(fast=2, slow=3, atr_period=3, min_atr_pct=Decimal("0")),
        EmaTrendSettings(fast=20, slow=100, atr_period=20, min_atr_pct=Decimal("0.2")),
    ],
    "ema_cross": [
        None,
        EmaCrossSettings(fast=2, slow=3),
        EmaCrossSettings(fast=50, slow=200),
    ],
    "mean_reversion": [
        None,
        MeanReversionSettings(rsi_period=3, oversold=Decimal("10"), overbought=Decimal("90"), bollinger_period=2,
                              bollinger_std=Decimal("0.5")),
        MeanReversionSettings(rsi_period=19, oversold=Decimal("40"), overbought=Decimal("60"), bollinger_period=50,
                              bollinger_std=Decimal("3")),
    ],
}


# ------------------------------------------------------------------------------------------ helpers


def candles_from(closes: np.ndarray, highs: np.ndarray, lows: np.ndarray, volumes: np.ndarray, decimals: int,
                 symbol: str = "X") -> list[Candle]:
    out, prev = [], None
    for i in range(len(closes)):
        close = Decimal(f"{closes[i]:.{decimals}f}")
        open_ = close if prev is None else prev
        high = max(open_, close, Decimal(f"{highs[i]:.{decimals}f}"))
        low = min(open_, close, Decimal(f"{lows[i]:.{decimals}f}"))
        out.append(Candle(symbol, "1m", T0 + i * MINUTE, open_, high, low, close, Decimal(f"{volumes[i]:.3f}")))
        prev = close
    return out


@st.composite
def candle_series(draw, max_size: int = 3000) -> list[Candle]:
    """Random walks with spikes, flat runs (flat volume too) and volume bursts, on a coarse or fine tick.

    Flat runs are long enough for the EMAs to reach the price exactly, where pandas stops updating them."""
    n = draw(st.integers(1, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    decimals = draw(st.sampled_from([0, 1, 2, 4]))
    start = draw(st.sampled_from([2.0, 97.3, 30_011.0]))
    returns = rng.normal(0, draw(st.sampled_from([0.0005, 0.003, 0.02])), n)
    volumes = np.round(rng.lognormal(2, draw(st.sampled_from([0.1, 0.8])), n), 3)
    for at, size in draw(st.lists(st.tuples(st.floats(0, 1), st.floats(-0.08, 0.08)), max_size=6)):
        returns[int(at * (n - 1))] += size
    for at, length in draw(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 400)), max_size=4)):
        i = int(at * (n - 1))
        returns[i : i + length] = 0.0
        volumes[i : i + length] = 10.0
    for at, multiple in draw(st.lists(st.tuples(st.floats(0, 1), st.sampled_from([2, 3, 5, 20])), max_size=6)):
        volumes[int(at * (n - 1))] *= multiple
    tick = 10.0**-decimals
    closes = np.maximum(start * np.exp(np.cumsum(returns)), tick)
    wick = np.abs(rng.normal(0, 0.002, n)) * closes * rng.integers(0, 2, n)  # half the candles have no wicks
    return candles_from(closes, closes + wick, np.maximum(closes - wick, tick), volumes, decimals)


def hunted_params(name: str, candles: list[Candle], pick: float):
    """Settings whose threshold is a value the series itself reaches, so that row sits on the threshold."""
    frame = candles_to_frame(candles)
    close = frame["close"]

    def at(values: pd.Series, where: np.ndarray) -> float | None:
        rows = np.flatnonzero(where & values.notna().to_numpy() & (values.to_numpy() != 0))
        return None if not len(rows) else float(values.iat[rows[int(pick * (len(rows) - 1))]])

    if name == "ema_cross":
        return None  # no threshold but zero, which the flat runs reach exactly
    if name == "ema_trend":
        atr_pct = indicators.atr(frame, 14) / close * 100.0
        diff = indicators.ema(close, 9) - indicators.ema(close, 21)
        crossing = ((diff > 0) & (diff.shift(1) <= 0) | (diff < 0) & (diff.shift(1) >= 0)).to_numpy()
        value = at(atr_pct, crossing)
        return None if value is None else EmaTrendSettings(min_atr_pct=Decimal(repr(value / INCLUSIVE)))
    if name == "mean_reversion":
        r = indicators.rsi(close, 14)
        low, high = at(r, ((r > 0) & (r < 50)).to_numpy()), at(r, ((r > 50) & (r < 100)).to_numpy())
        if low is None or high is None:
            return None
        return MeanReversionSettings(oversold=Decimal(repr(low)), overbought=Decimal(repr(high)))
    volume = frame["volume"]
    move = ((close / close.shift(5) - 1.0) * 100.0).abs()
    ratio = volume / indicators.rolling_mean(volume.shift(1), 20)
    move_at, ratio_at = at(move, np.ones(len(frame), bool)), at(ratio, np.isfinite(ratio.to_numpy()))
    if move_at is None or ratio_at is None:
        return None
    return MomentumSpikeSettings(min_move_pct=Decimal(repr(move_at / INCLUSIVE)),
                                 volume_multiple=Decimal(repr(ratio_at / INCLUSIVE)))


def streamed_rows(strategy: Strategy, candles: list[Candle]) -> list[SignalRow]:
    stream = strategy.stream("X", "1m")
    return [stream.step(c) for c in candles]


def assert_rows_equal(streamed: list[SignalRow], generated: pd.DataFrame, label: str) -> None:
    sides = np.array([r.side for r in streamed], dtype=np.int64)
    differ = np.flatnonzero(sides != generated["side"].to_numpy())
    assert not len(differ), f"{label}: sides differ at rows {differ[:10].tolist()}"
    strengths = np.array([r.strength for r in streamed])
    worst = np.max(np.abs(strengths - generated["strength"].to_numpy()), initial=0.0)
    assert worst <= STRENGTH_TOLERANCE, f"{label}: strength differs by {worst}"
    reasons = [r.reason for r in streamed]
    wrong = [i for i, (a, b) in enumerate(zip(reasons, generated["reason"])) if a != b]
    assert not wrong, f"{label}: reason at row {wrong[0]}: {reasons[wrong[0]]!r} != {generated['reason'].iat[wrong[0]]!r}"


# --------------------------------------------------------------------------------- the property


@pytest.mark.parametrize("name", list(PARAMS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(candles=candle_series(), pick=st.floats(0, 1))
def test_stream_when_fed_any_series_then_every_row_equals_generate_over_the_whole_series(name, candles, pick):
    # Arrange: defaults, two other settings, and thresholds placed on values this series reaches
    cls = STRATEGIES[name]
    strategies = [cls(p) for p in PARAMS[name]]
    hunted = hunted_params(name, candles, pick)
    if hunted is not None:
        strategies.append(cls(hunted))
    frame = candles_to_frame(candles)

    for strategy in strategies:
        # Act
        streamed = streamed_rows(strategy, candles)

        # Assert
        assert_rows_equal(streamed, strategy.generate(frame), repr(strategy))


@pytest.mark.parametrize("name", list(PARAMS))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(candles=candle_series(max_size=600))
def test_stream_update_when_fed_a_series_then_none_before_warmup_and_the_row_as_a_signal_after(name, candles):
    strategy = STRATEGIES[name]()
    generated = strategy.generate(candles_to_frame(candles))
    stream = strategy.stream("BTC/USDT:USDT", "1m")

    for i, candle in enumerate(candles):
        signal = stream.update(candle)

        row = SignalRow(int(generated["side"].iat[i]), float(generated["strength"].iat[i]), generated["reason"].iat[i])
        expected = None if i + 1 < strategy.warmup else signal_from(name, "BTC/USDT:USDT", "1m", candle, row)
        assert signal == expected, f"row {i}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(candles=candle_series(max_size=1500), period=st.sampled_from([2, 3, 6, 14, 19, 21, 50]))
def test_streaming_indicators_when_fed_any_series_then_bit_identical_to_the_vectorised_ones(candles, period):
    # Bit-identical, not close: a threshold compared against a value one ulp off can decide differently.
    frame = candles_to_frame(candles)
    close, high, low = (frame[c].tolist() for c in ("close", "high", "low"))
    ema, wilder_rsi, atr = indicators.Ema(period), indicators.Rsi(period), indicators.Atr(period)
    bands, window = indicators.Bollinger(period, 2.0), indicators.Window(period)
    streamed: dict[str, list] = {"ema": [], "rsi": [], "atr": [], "bollinger": [], "mean": []}
    for c, h, lo in zip(close, high, low):
        streamed["ema"].append(ema.update(c))
        streamed["rsi"].append(wilder_rsi.update(c))
        streamed["atr"].append(atr.update(h, lo, c))
        streamed["bollinger"].append(bands.update(c))
        window.push(c)
        streamed["mean"].append(window.mean())

    vectorised = {
        "ema": indicators.ema(frame["close"], period),
        "rsi": indicators.rsi(frame["close"], period),
        "atr": indicators.atr(frame, period),
        "bollinger": pd.concat(indicators.bollinger(frame["close"], period, 2.0), axis=1),
        "mean": indicators.rolling_mean(frame["close"], period),
    }
    for name, values in vectorised.items():
        assert np.array_equal(np.asarray(streamed[name], dtype=float), values.to_numpy(), equal_nan=True), name


def test_bollinger_when_the_window_is_flat_then_the_band_is_the_price_exactly():
    # Arrange: 0.1 is not a binary fraction, so a plain sum / n of a flat window misses it by an ulp
    closes = [0.3, 0.1, 0.1, 0.1, 0.1]
    bands = indicators.Bollinger(3, 2.0)

    # Act
    mid, upper, lower = indicators.bollinger(pd.Series(closes), 3, 2.0)
    streamed = [bands.update(c) for c in closes]

    # Assert
    assert (0.1 + 0.1 + 0.1) / 3 != 0.1
    assert mid.tolist()[3:] == upper.tolist()[3:] == lower.tolist()[3:] == [0.1, 0.1]
    assert streamed[3:] == [(0.1, 0.1, 0.1)] * 2


# ------------------------------------------------------------------------------ real candles


@pytest.fixture(scope="module", params=list(KLINES))
def real_candles(request, shared_klines: Path) -> list[Candle]:
    table = read_candles(shared_klines / KLINES[request.param])
    return [
        Candle(request.param, "1m", int(table.ts[i]), Decimal(table.open[i]), Decimal(table.high[i]),
               Decimal(table.low[i]), Decimal(table.close[i]), Decimal(table.volume[i]))
        for i in range(len(table))
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PARAMS))
def test_stream_when_replaying_a_whole_real_file_then_every_row_equals_generate_over_the_file(name, real_candles):
    strategy = STRATEGIES[name]()

    streamed = streamed_rows(strategy, real_candles)

    generated = strategy.generate(candles_to_frame(real_candles))
    assert_rows_equal(streamed, generated, f"{name} on {real_candles[0].symbol}")
    assert (generated["side"] != 0).sum() > 20  # the file exercises the strategy, not only its silence


# ------------------------------------------------------------------------------- repeated candles


def test_stream_when_a_candle_is_repeated_or_older_then_it_is_ignored_and_later_rows_are_unchanged():
    # Arrange
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, 400)))
    candles = candles_from(closes, closes * 1.001, closes * 0.999, rng.lognormal(2, 0.8, 400), 2)
    strategy = MeanReversion()
    stream = strategy.stream("X", "1m")

    # Act: every candle twice, and an old one in between
    rows = []
    for i, candle in enumerate(candles):
        rows.append(stream.step(candle))
        assert stream.step(candle) is None
        assert stream.update(candles[i // 2]) is None

    # Assert
    assert stream.fed == len(candles)
    assert_rows_equal(rows, strategy.generate(candles_to_frame(candles)), "mean_reversion")


# ------------------------------------------------------------------------- strategies without a stream


class CloseAboveMean(Strategy):
    """A plugin that only has `generate` (the registry's extension point, not a mock): long when the close
    crosses above its 10-candle mean."""

    name = "test_close_above_mean"

    @property
    def warmup(self) -> int:
        return 11

    def generate(self, frame: pd.DataFrame) -> pd.DataFrame:
        above = frame["close"] > frame["close"].rolling(10).mean()
        fire = above & ~above.shift(1, fill_value=False)
        return pd.DataFrame({"side": fire.astype(np.int64), "strength": 0.5,
                             "reason": np.where(fire, "crossed above its mean", "")}, index=frame.index)


def test_stream_when_the_strategy_has_no_streaming_form_then_it_recomputes_generate_over_its_window():
    # Arrange
    rng = np.random.default_rng(11)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, 120)))
    candles = candles_from(closes, closes, closes, np.full(120, 5.0), 2)
    strategy = CloseAboveMean()
    stream = strategy.stream("X", "1m", window=50)

    # Act
    signals = [stream.update(c) for c in candles]

    # Assert
    assert isinstance(stream, RecomputingStream)
    expected = [strategy.latest_signal("X", "1m", candles[max(0, i - 49) : i + 1]) for i in range(len(candles))]
    assert signals == expected and any(signals)


# ----------------------------------------------------------------------------------------- the engine


def test_engine_when_candles_arrive_after_the_backfill_then_each_decision_equals_generate_over_all_it_saw(
    store: StateStore, shared_klines: Path
):
    # Arrange: a slow EMA that remembers longer than the engine's window (80 × 4 + 1 = 321 of 331 candles)
    # and a fast one close to it, so a crossing decided on the window alone can fall on another candle
    symbol = "SOL/USDT:USDT"
    table = read_candles(shared_klines / KLINES[symbol])
    candles = [
        Candle(symbol, "1m", int(table.ts[i]), Decimal(table.open[i]), Decimal(table.high[i]), Decimal(table.low[i]),
               Decimal(table.close[i]), Decimal(table.volume[i]))
        for i in range(3000)
    ]
    settings_ = load_settings(environ={
        "TB_BOT__SYMBOLS": f"[{symbol}]", "TB_STRATEGY__ENABLED": "[ema_trend]", "TB_STRATEGY__EMA_TREND__FAST": "50",
        "TB_STRATEGY__EMA_TREND__SLOW": "80",
        "TB_STRATEGY__MIN_CONFIDENCE": "0",
    })
    parts = assemble(settings_, store, Mode.GHOST, market_clock=SimulatedClock(0), wall_clock=SystemClock())
    backfill, live = candles[:400], candles[400:]

    # Act: the backfill, then the live candles, each live one repeated once as a feed may do
    parts.engine.warm_up({symbol: backfill})
    for candle in live:
        parts.engine.on_candle(candle)
        parts.engine.on_candle(candle)

    # Assert: the engine's signals are generate's over backfill + live, at the live rows
    strategy = EmaTrend(settings_.strategy.ema_trend)
    generated = strategy.generate(candles_to_frame(candles))
    expected = [
        (c.open_time_ms + MINUTE, "long" if generated["side"].iat[i] > 0 else "short", generated["reason"].iat[i])
        for i, c in enumerate(candles)
        if i >= len(backfill) and generated["side"].iat[i] != 0
    ]
    recorded = [(int(r["ts_ms"]), r["side"], r["reason"]) for r in store.read_signals(10_000) if r["kind"] == "signal"]
    assert len(expected) > 20
    assert recorded == expected
