"""A restarted bot continues the synthetic market where the last run left it."""

from clock import SimulatedClock
from marketdata.synthetic import SyntheticSource

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")


def test_resume_when_restarted_later_then_market_time_and_prices_continue():
    # Arrange: a first run that emits 30 candles in 30 s of clock time (1m candles, one per second)
    clock = SimulatedClock(1_700_000_000_000)
    first = SyntheticSource(SYMBOLS, "1m", clock, seed=7, candle_seconds=1.0, gap_probability=0)
    first.backfill(50)
    clock.advance(30_000)
    emitted = first.poll()
    last_open = max(c.open_time_ms for c in emitted)
    clock.advance(10_000)  # the bot was down for ten seconds
    reference = SyntheticSource(SYMBOLS, "1m", SimulatedClock(1_700_000_000_000), seed=7, candle_seconds=1.0, gap_probability=0)
    reference.backfill(50)

    # Act: a new source resumes from the persisted anchor and last candle
    second = SyntheticSource(SYMBOLS, "1m", clock, seed=7, candle_seconds=1.0, gap_probability=0)
    second.resume(first.anchor_open_ms, last_open)
    backfill = second.backfill(5)
    clock.advance(3_000)
    fresh = second.poll()

    # Assert: no step back in market time, and the same path as an uninterrupted run
    assert max(c.open_time_ms for c in backfill["BTC/USDT:USDT"]) == last_open
    assert min(c.open_time_ms for c in fresh) == last_open + 60_000
    assert len(fresh) == 3 * len(SYMBOLS)
    reference._clock.advance(33_000)
    expected = {(c.symbol, c.open_time_ms): c for c in reference.poll()}
    for candle in fresh:
        assert expected[(candle.symbol, candle.open_time_ms)] == candle
