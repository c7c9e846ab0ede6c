"""Downloading candles into the klines CSV format, through the real ccxt client and the stand-in."""

import argparse

import pandas as pd
import pytest

from errors import MarketDataError
from marketdata.csvfile import HEADER_LINE, read_candles
from marketdata.download import download, download_candles, run_download_cli
from tests.standin.binance_standin import KLINES_DIR
from tests.standin.fixtures import make_ccxt_client

MIN = 60_000
HOUR = 60 * MIN


def recorded(market_id: str) -> pd.DataFrame:
    return pd.read_csv(next(KLINES_DIR.glob(f"binance_usdm_{market_id}_1m_*.csv")), dtype=str)


def fetch(standin, out_dir, days=1.0):
    return download("BTC/USDT:USDT", "1m", days, out_dir, exchange=make_ccxt_client(standin.url),
                    clock=standin.clock, progress=False)


def test_download_when_no_file_then_writes_the_recorded_rows(binance_standin, tmp_path):
    now = binance_standin.clock.now_ms()

    path = download_candles("BTC/USDT:USDT", "1m", 1, tmp_path, exchange=make_ccxt_client(binance_standin.url),
                            clock=binance_standin.clock, progress=False)

    assert path.name == "binance_usdm_BTCUSDT_1m.csv"
    assert path.read_text().splitlines()[0] == HEADER_LINE
    got = pd.read_csv(path, dtype=str)
    expected = recorded("BTCUSDT")
    expected = expected[(expected.timestamp_ms.astype(int) >= now - 24 * HOUR) & (expected.timestamp_ms.astype(int) < now)]
    assert len(got) == 1440
    assert got.timestamp_ms.tolist() == expected.timestamp_ms.tolist()
    for column in ("open", "high", "low", "close", "volume"):
        assert got[column].astype(float).tolist() == expected[column].astype(float).tolist()
    assert binance_standin.request_counts["/fapi/v1/klines"] == 2


def test_download_when_a_previous_run_stopped_then_only_missing_rows_appended(binance_standin, tmp_path):
    first = fetch(binance_standin, tmp_path)
    binance_standin.reset_counts()
    binance_standin.clock.advance(6 * HOUR)

    second = fetch(binance_standin, tmp_path)

    table = read_candles(second.path)  # validates: sorted, no duplicates
    assert (first.rows_written, second.rows_written) == (1440, 360)
    assert second.first_ms == first.last_ms + MIN
    assert len(table) == 1800
    assert binance_standin.request_counts["/fapi/v1/klines"] == 1


def test_download_when_up_to_date_then_nothing_written(binance_standin, tmp_path):
    fetch(binance_standin, tmp_path)
    before = (tmp_path / "binance_usdm_BTCUSDT_1m.csv").read_bytes()

    result = fetch(binance_standin, tmp_path)

    assert result.rows_written == 0 and result.path.read_bytes() == before


def test_download_when_last_row_was_cut_in_half_then_it_is_fetched_again(binance_standin, tmp_path):
    path = fetch(binance_standin, tmp_path).path
    complete = path.read_bytes()
    path.write_bytes(complete[:-20])  # killed mid-row

    result = fetch(binance_standin, tmp_path)

    assert result.rows_written == 1 and path.read_bytes() == complete


def test_download_when_existing_file_is_not_a_candle_file_then_refused_untouched(binance_standin, tmp_path):
    path = tmp_path / "binance_usdm_BTCUSDT_1m.csv"
    path.write_text("name,age\nbob,4\n")

    with pytest.raises(MarketDataError, match="line 1: bad header"):
        fetch(binance_standin, tmp_path)
    assert path.read_text() == "name,age\nbob,4\n"


def test_run_download_cli_when_pointed_at_the_standin_then_prints_one_line_summary(binance_standin, tmp_path, capsys):
    args = argparse.Namespace(symbol="ETH/USDT:USDT", timeframe="1m", days=0.5, out=str(tmp_path),
                              exchange_url=binance_standin.url, no_progress=True)

    code = run_download_cli(args, clock=binance_standin.clock)

    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    assert "binance_usdm_ETHUSDT_1m.csv: 720 rows written, 2025-05-19 12:00 → 2025-05-19 23:59 UTC" in out[0]


def test_download_when_symbol_unknown_then_market_data_error(binance_standin, tmp_path):
    with pytest.raises(MarketDataError, match="DOGE"):
        download_candles("DOGE/USDT:USDT", "1m", 1, tmp_path, exchange=make_ccxt_client(binance_standin.url),
                         clock=binance_standin.clock, progress=False)


@pytest.mark.parametrize("corrupt_row, problem", [
    ("{ts},10,9,11,10,1", "high '9' is below low '11'"),
    ("{ts},abc,10,10,10,1", "open 'abc' is not a positive number"),
    ("{earlier},10,10,10,10,1", "not sorted"),
])
def test_download_when_the_file_to_append_to_is_corrupt_then_refused_and_the_file_unchanged(
        binance_standin, tmp_path, corrupt_row, problem):
    first = fetch(binance_standin, tmp_path)
    rows = first.path.read_text().splitlines()
    last = int(rows[-1].split(",")[0])
    rows.append(corrupt_row.format(ts=last + MIN, earlier=last - HOUR))
    first.path.write_text("\n".join(rows) + "\n")
    before = first.path.read_bytes()
    binance_standin.clock.advance(HOUR)

    with pytest.raises(MarketDataError, match=f"line {len(rows)}: {problem}.*nothing appended"):
        fetch(binance_standin, tmp_path)

    assert first.path.read_bytes() == before
