"""The synthetic source: reproducible, well-formed candles that move enough to make strategies fire."""

from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from clock import SimulatedClock
from marketdata.base import MarketDataSource, timeframe_ms
from marketdata.synthetic import SyntheticSource

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
START = {"BTC/USDT:USDT": Decimal("95000"), "ETH/USDT:USDT": Decimal("1800"), "SOL/USDT:USDT": Decimal("145")}
T0 = 1_750_000_000_000  # 2025-06-15 15:06:40 UTC, not aligned to the minute on purpose


def make(seed=42, clock=None, symbols=SYMBOLS, **kw):
    return SyntheticSource(symbols, "1m", clock or SimulatedClock(T0), seed=seed, start_prices=START, **kw)


def values(candles):
    return [(c.symbol, c.open, c.high, c.low, c.close, c.volume) for c in candles]


def test_source_when_built_then_keeps_the_protocol():
    assert isinstance(make(), MarketDataSource)
    assert make().name == "synthetic" and not make().exhausted()


def test_backfill_when_same_seed_at_different_wall_times_then_same_candles():
    early, late = make(seed=7, clock=SimulatedClock(T0)), make(seed=7, clock=SimulatedClock(T0 + 86_400_000 * 40))

    a, b = early.backfill(300), late.backfill(300)

    assert all(values(a[s]) == values(b[s]) for s in SYMBOLS)


def test_poll_when_same_seed_then_same_stream():
    clock_a, clock_b = SimulatedClock(T0), SimulatedClock(T0 + 12_345)
    a, b = make(seed=3, clock=clock_a), make(seed=3, clock=clock_b)
    a.backfill(50), b.backfill(50)

    clock_a.advance(20_000), clock_b.advance(20_000)

    assert values(a.poll()) == values(b.poll())


def test_backfill_when_different_seed_then_different_candles():
    assert values(make(seed=1).backfill(100)["BTC/USDT:USDT"]) != values(make(seed=2).backfill(100)["BTC/USDT:USDT"])


def test_backfill_when_larger_then_the_smaller_one_is_its_tail():
    small, large = make().backfill(200), make().backfill(700)

    assert all(values(large[s][-len(small[s]):]) == values(small[s]) for s in SYMBOLS)


def test_backfill_when_done_then_ends_at_the_last_closed_candle_and_starts_at_configured_prices():
    source = make(gap_probability=0)

    candles = source.backfill(300)

    last_closed_open = T0 - T0 % 60_000 - 60_000
    for symbol in SYMBOLS:
        assert len(candles[symbol]) == 300
        assert candles[symbol][-1].open_time_ms == last_closed_open
        assert candles[symbol][-1].close == START[symbol]


@given(seed=st.integers(min_value=-(2**40), max_value=2**63), start=st.decimals("0.0005", "500000", places=4))
@settings(max_examples=30, deadline=None)
def test_candles_when_any_seed_and_price_then_ohlc_invariants_hold(seed, start):
    source = SyntheticSource(("X/USDT:USDT",), "1m", SimulatedClock(T0), seed=seed, start_prices={"X/USDT:USDT": start},
                             gap_probability=0.01)
    tick = source.tick_size("X/USDT:USDT")

    candles = source.backfill(500)["X/USDT:USDT"]

    times = [c.open_time_ms for c in candles]
    assert times == sorted(set(times)) and all(t % 60_000 == 0 for t in times)
    for c in candles:
        assert c.high >= max(c.open, c.close) and c.low <= min(c.open, c.close)
        assert c.low > 0 and c.volume > 0
        assert all(p % tick == 0 for p in (c.open, c.high, c.low, c.close))


@pytest.mark.parametrize(
    "advance_ms, candle_seconds, per_symbol",
    [
        (0, 1.0, 0),
        (999, 1.0, 0),
        (1_000, 1.0, 1),
        (10_000, 1.0, 10),
        (4_999, 5.0, 0),
        (5_000, 5.0, 1),
    ],
)
def test_poll_when_clock_advances_then_one_candle_per_candle_seconds(advance_ms, candle_seconds, per_symbol):
    clock = SimulatedClock(T0)
    source = make(clock=clock, candle_seconds=candle_seconds, gap_probability=0)
    last = source.backfill(100)["BTC/USDT:USDT"][-1].open_time_ms

    clock.advance(advance_ms)
    candles = source.poll()

    btc = [c.open_time_ms for c in candles if c.symbol == "BTC/USDT:USDT"]
    assert len(candles) == per_symbol * len(SYMBOLS)
    assert btc == [last + 60_000 * (i + 1) for i in range(per_symbol)]
    assert [c.open_time_ms for c in candles] == sorted(c.open_time_ms for c in candles)


def test_poll_when_called_twice_without_time_passing_then_nothing_new():
    clock = SimulatedClock(T0)
    source = make(clock=clock)
    source.backfill(50)
    clock.advance(3_000)
    source.poll()

    assert source.poll() == []


def test_gaps_when_candles_are_missing_then_reported_and_not_invented():
    clock = SimulatedClock(T0)
    source = make(clock=clock, gap_probability=0.05)

    candles = source.backfill(1000)
    clock.advance(200_000)
    streamed = source.poll()

    gaps = source.gaps()
    assert gaps
    seen = {(c.symbol, c.open_time_ms) for c in [*streamed, *(c for cs in candles.values() for c in cs)]}
    for gap in gaps:
        missing = range(gap["from_ms"], gap["to_ms"] + 1, 60_000)
        assert len(missing) == gap["missing"]
        assert not any((gap["symbol"], t) in seen for t in missing)
        assert (gap["symbol"], gap["from_ms"] - 60_000) in seen and (gap["symbol"], gap["to_ms"] + 60_000) in seen


def test_candles_when_many_then_momentum_moves_on_volume_spikes_occur_for_every_symbol():
    candles = make(seed=42).backfill(1500)

    for symbol in SYMBOLS:
        series = candles[symbol]
        hits = 0
        for i in range(25, len(series)):
            move = abs(series[i].close / series[i - 5].close - 1)
            avg_volume = sum(c.volume for c in series[i - 25:i - 5]) / 20
            if move >= Decimal("0.006") and series[i].volume >= 2 * avg_volume:
                hits += 1
        assert 1 <= hits <= 150, (symbol, hits)


def test_tickers_when_polled_then_latest_close_stamped_with_clock_time():
    clock = SimulatedClock(T0)
    source = make(clock=clock, gap_probability=0)
    source.backfill(10)
    clock.advance(3_000)
    last = {c.symbol: c for c in source.poll()}

    tickers = source.tickers()

    assert set(tickers) == set(SYMBOLS)
    assert all(t.price == last[s].close and t.ts_ms == clock.now_ms() for s, t in tickers.items())


def test_timeframe_when_5m_then_candles_are_five_minutes_apart():
    source = SyntheticSource(SYMBOLS, "5m", SimulatedClock(T0), gap_probability=0)

    btc = source.backfill(20)["BTC/USDT:USDT"]

    assert {b.open_time_ms - a.open_time_ms for a, b in zip(btc, btc[1:])} == {timeframe_ms("5m")}
