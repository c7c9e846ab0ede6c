"""Replay: recorded candles at a chosen speed, merged across symbols, holes reported, bad files named."""

import time
from decimal import Decimal
from pathlib import Path

import pytest

from clock import SimulatedClock
from errors import MarketDataError
from marketdata.base import MarketDataSource
from marketdata.csvfile import HEADER_LINE, read_candles
from marketdata.replay import ReplaySource
from settings import Settings

T0 = 1_746_372_780_000  # first row of the real BTC file
MIN = 60_000
CLOCK_START = 1_800_000_000_000


def rows(start_ms, count, price=100, step=MIN, skip=()):
    out = []
    for i in range(count):
        if i in skip:
            continue
        p = price + i
        out.append(f"{start_ms + i * step},{p}.5,{p + 1}.25,{p - 1}.75,{p}.0,{i + 1}.125")
    return out


def write_csv(directory: Path, name: str, lines: list[str], header: str = HEADER_LINE) -> Path:
    path = directory / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def two_files(tmp_path):
    return {
        "AAA/USDT:USDT": write_csv(tmp_path, "a.csv", rows(T0, 1500)),
        "BBB/USDT:USDT": write_csv(tmp_path, "b.csv", rows(T0, 1500, price=50)),
    }


def test_source_when_built_then_keeps_the_protocol(two_files):
    source = ReplaySource(two_files, "1m", SimulatedClock(CLOCK_START))

    assert isinstance(source, MarketDataSource) and source.name == "replay"
    assert source.symbols == ("AAA/USDT:USDT", "BBB/USDT:USDT")


@pytest.mark.parametrize(
    "speed, advance_ms, per_symbol",
    [
        (1, 59_999, 0),
        (1, 60_000, 1),
        (1, 180_000, 3),
        (60, 999, 0),
        (60, 1_000, 1),
        (60, 10_000, 10),
        (600, 1_000, 10),
    ],
)
def test_poll_when_clock_advances_then_candles_follow_speed(two_files, speed, advance_ms, per_symbol):
    clock = SimulatedClock(CLOCK_START)
    source = ReplaySource(two_files, "1m", clock, speed=speed)
    warm = source.backfill(100)

    clock.advance(advance_ms)
    candles = source.poll()

    assert len(candles) == 2 * per_symbol
    expected = [T0 + (100 + i) * MIN for i in range(per_symbol)]
    assert [c.open_time_ms for c in candles if c.symbol == "AAA/USDT:USDT"] == expected
    assert warm["AAA/USDT:USDT"][-1].open_time_ms == T0 + 99 * MIN


def test_poll_when_several_symbols_then_merged_in_time_order_then_symbol_order(two_files):
    clock = SimulatedClock(CLOCK_START)
    source = ReplaySource(two_files, "1m", clock, speed=60)
    source.backfill(10)
    clock.advance(3_000)

    candles = source.poll()

    assert [(c.open_time_ms, c.symbol[:3]) for c in candles] == [
        (T0 + m * MIN, s) for m in (10, 11, 12) for s in ("AAA", "BBB")
    ]


def test_poll_when_speed_zero_then_each_poll_returns_the_next_batch(two_files):
    source = ReplaySource(two_files, "1m", SimulatedClock(CLOCK_START), speed=0, loop=False, batch_candles=1000)
    source.backfill(0)

    sizes = []
    while not source.exhausted():
        sizes.append(len(source.poll()))

    assert sizes == [1000, 1000, 1000]
    assert source.poll() == []


def test_poll_when_speed_zero_and_odd_batch_then_a_time_step_is_never_split(two_files):
    source = ReplaySource(two_files, "1m", SimulatedClock(CLOCK_START), speed=0, batch_candles=3)

    first, second = source.poll(), source.poll()

    assert len(first) == 4 and {c.open_time_ms for c in first} == {T0, T0 + MIN}
    assert {c.open_time_ms for c in second} == {T0 + 2 * MIN, T0 + 3 * MIN}


def test_candles_when_replayed_then_exact_decimals_from_the_file(tmp_path):
    path = write_csv(tmp_path, "x.csv", ["1000,0.00012340,0.0002,0.0001,0.00015,123456789.123456"])
    source = ReplaySource({"X/USDT:USDT": path}, "1m", SimulatedClock(CLOCK_START), speed=0)

    (candle,) = source.poll()

    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        Decimal("0.00012340"), Decimal("0.0002"), Decimal("0.0001"), Decimal("0.00015"), Decimal("123456789.123456"))


def test_gaps_when_file_has_a_hole_then_reported_and_never_filled(tmp_path):
    path = write_csv(tmp_path, "holey.csv", rows(T0, 20, skip={7, 8, 9}))
    clock = SimulatedClock(CLOCK_START)
    source = ReplaySource({"X/USDT:USDT": path}, "1m", clock, speed=60, loop=False)
    source.backfill(5)

    clock.advance(20_000)
    candles = source.poll()

    assert source.gaps() == [{"symbol": "X/USDT:USDT", "from_ms": T0 + 7 * MIN, "to_ms": T0 + 9 * MIN, "missing": 3}]
    assert [c.open_time_ms for c in candles] == [T0 + m * MIN for m in (5, 6, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)]
    assert source.exhausted()


@pytest.mark.parametrize(
    "lines, header, line_no, words",
    [
        (rows(T0, 3), "time,open,high,low,close,volume", 1, "bad header"),
        (rows(T0, 3), "timestamp_ms;open;high;low;close;volume", 1, "bad header"),
        (rows(T0, 2) + [f"{T0 + 2 * MIN},abc,1,1,1,1"], HEADER_LINE, 4, "open 'abc'"),
        (rows(T0, 2) + [f"{T0 + 2 * MIN},1,1,1,,1"], HEADER_LINE, 4, "close ''"),
        (rows(T0, 2) + [f"{T0 + 2 * MIN},1,1,1,1,-5"], HEADER_LINE, 4, "volume '-5'"),
        (rows(T0, 2) + [f"{T0 + 2 * MIN},0,1,1,1,5"], HEADER_LINE, 4, "open '0'"),
        (rows(T0, 3) + [f"{T0 + 1.5 * MIN},1,1,1,1,1"], HEADER_LINE, 5, "timestamp_ms"),
        (rows(T0, 3) + [f"{T0 + MIN},1,1,1,1,1"], HEADER_LINE, 5, "not sorted"),
        (rows(T0, 3) + [f"{T0 + 2 * MIN},1,1,1,1,1"], HEADER_LINE, 5, "not sorted"),
        (rows(T0, 3) + [f"{T0 + 3 * MIN},1,1,1,1,1,7"], HEADER_LINE, 5, "fields"),
        (rows(T0, 1) + ["", *rows(T0 + MIN, 1)], HEADER_LINE, 3, "timestamp_ms ''"),
    ],
)
def test_read_when_file_is_malformed_then_error_names_file_and_line(tmp_path, lines, header, line_no, words):
    path = write_csv(tmp_path, "broken.csv", lines, header=header)

    with pytest.raises(MarketDataError) as caught:
        ReplaySource({"X/USDT:USDT": path}, "1m", SimulatedClock(CLOCK_START))

    message = str(caught.value)
    assert "broken.csv" in message and f"line {line_no}:" in message and words in message


def test_open_when_file_is_missing_then_error_names_it(tmp_path):
    with pytest.raises(MarketDataError, match="nope.csv: candle file not found"):
        ReplaySource({"X/USDT:USDT": tmp_path / "nope.csv"}, "1m", SimulatedClock(CLOCK_START))


def test_open_when_file_has_no_rows_then_error(tmp_path):
    with pytest.raises(MarketDataError, match="no candles"):
        ReplaySource({"X/USDT:USDT": write_csv(tmp_path, "empty.csv", [])}, "1m", SimulatedClock(CLOCK_START))


def test_poll_when_loop_reaches_the_end_then_restarts_with_time_moving_forward(tmp_path):
    path = write_csv(tmp_path, "short.csv", rows(T0, 4))
    source = ReplaySource({"X/USDT:USDT": path}, "1m", SimulatedClock(CLOCK_START), speed=0, loop=True, batch_candles=3)

    candles = []
    while len(candles) < 12:
        candles += source.poll()

    times = [c.open_time_ms for c in candles]
    assert times == [T0 + m * MIN for m in range(12)]
    assert [c.close for c in candles[4:8]] == [c.close for c in candles[:4]]
    assert not source.exhausted() and source.gaps() == []


def test_poll_when_loop_is_off_then_exhausted_at_the_end(tmp_path):
    path = write_csv(tmp_path, "short.csv", rows(T0, 4))
    clock = SimulatedClock(CLOCK_START)
    source = ReplaySource({"X/USDT:USDT": path}, "1m", clock, speed=60, loop=False)
    clock.advance(3_000)
    assert len(source.poll()) == 0 and not source.exhausted()  # the first poll starts the replay

    clock.advance(10_000)

    assert len(source.poll()) == 4 and source.exhausted() and source.poll() == []


def test_tickers_when_candles_released_then_last_close_stamped_with_clock_time(two_files):
    clock = SimulatedClock(CLOCK_START)
    source = ReplaySource(two_files, "1m", clock, speed=60)
    source.backfill(10)
    clock.advance(2_000)
    last = {c.symbol: c for c in source.poll()}

    tickers = source.tickers()

    assert {s: (t.price, t.ts_ms) for s, t in tickers.items()} == {
        s: (c.close, CLOCK_START + 2_000) for s, c in last.items()}


def test_timeframe_when_5m_from_1m_file_then_candles_are_aggregated_exactly(tmp_path):
    start = T0 - T0 % (5 * MIN)  # aligned, so the first bucket is complete
    path = write_csv(tmp_path, "m1.csv", rows(start, 12))
    source = ReplaySource({"X/USDT:USDT": path}, "5m", SimulatedClock(CLOCK_START), speed=0)

    candles = source.poll()

    assert [c.open_time_ms for c in candles] == [start, start + 5 * MIN]  # the partial third bucket is dropped
    first = candles[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("100.5"), Decimal("105.25"), Decimal("99.75"), Decimal("104.0"), Decimal("15.625"))


def test_timeframe_when_finer_than_the_file_then_error(tmp_path):
    path = write_csv(tmp_path, "m5.csv", rows(T0, 5, step=5 * MIN))

    with pytest.raises(MarketDataError, match="5m candles, which cannot make 1m"):
        ReplaySource({"X/USDT:USDT": path}, "1m", SimulatedClock(CLOCK_START))


def test_from_settings_when_a_symbol_has_no_file_then_error_says_which():
    settings = Settings.model_validate({
        "bot": {"symbols": ["BTC/USDT:USDT", "DOGE/USDT:USDT"]},
        "market_data": {"replay": {"files": {"BTC/USDT:USDT": "btc.csv"}}},
    })

    with pytest.raises(MarketDataError, match="no replay file for DOGE/USDT:USDT: add it"):
        ReplaySource.from_settings(settings, SimulatedClock(CLOCK_START))


# ------------------------------------------------------------------------------ the real recorded files


def test_read_when_real_60k_row_file_then_fast(shared_klines):
    path = next(shared_klines.glob("binance_usdm_ETHUSDT_1m_*.csv"))

    started = time.perf_counter()
    table = read_candles(path)
    elapsed = time.perf_counter() - started

    assert len(table) == 60_191 and elapsed < 1.5


def test_replay_when_real_files_from_config_then_candles_match_the_csv_and_no_gaps(shared_klines):
    settings = Settings.model_validate({"market_data": {"source": "replay", "replay": {
        "files": {s: str(next(shared_klines.glob(f"binance_usdm_{s[:3]}USDT_1m_*.csv")))
                  for s in ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")},
        "speed": 0}}})
    source = ReplaySource.from_settings(settings, SimulatedClock(CLOCK_START))

    warm = source.backfill(300)
    batch = source.poll()

    btc = warm["BTC/USDT:USDT"]
    assert [len(warm[s]) for s in settings.bot.symbols] == [300, 300, 300]
    assert (btc[0].open_time_ms, btc[0].open, btc[0].high, btc[0].low, btc[0].close, btc[0].volume) == (
        1746372780000, Decimal("95505.4"), Decimal("95505.5"), Decimal("95502.7"), Decimal("95502.7"), Decimal("16.536"))
    assert len(batch) == 1002 and batch[0].open_time_ms == btc[-1].open_time_ms + MIN
    assert source.gaps() == []


def test_read_when_file_ends_with_blank_lines_then_accepted(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("\n".join([HEADER_LINE, *rows(T0, 3)]) + "\n\n\n", encoding="utf-8")

    assert len(read_candles(path)) == 3
