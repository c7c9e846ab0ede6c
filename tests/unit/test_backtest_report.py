"""The backtest report: one HTML file that opens offline and shows what a trader checks — equity and
drawdown, candles with entries, exits and stops, monthly returns, buy-and-hold, every trade."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import plotly.offline
import pytest

from analytics.metrics import breakdown, compute_metrics
from analytics.report import (
    MAX_POINTS, SECTION_TITLES, buy_and_hold, downsample_extremes, downsample_ohlc, monthly_returns,
    write_backtest_report,
)
from models import Candle, ExitReason, Mode, Side, Trade

D = Decimal
MINUTE = 60_000
T0 = 1_746_057_600_000  # 2025-05-01 00:00 UTC
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class Page(HTMLParser):
    """What the report's reader sees: section titles, scripts, links, and the trade table's rows."""

    def __init__(self):
        super().__init__()
        self.h2: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self.links: list[dict] = []
        self.trade_rows: dict[str, list[str]] = {}
        self._tag: str | None = None
        self._text: list[str] = []
        self._row: str | None = None
        self._attrs: dict = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link":
            self.links.append(attrs)
        if tag in ("h2", "script"):
            self._tag, self._text, self._attrs = tag, [], attrs
        if tag == "tr" and "data-trade-id" in attrs:
            self._row = attrs["data-trade-id"]
            self.trade_rows[self._row] = []
        if tag == "td" and self._row is not None:
            self._tag, self._text = "td", []

    def handle_data(self, data):
        if self._tag:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == self._tag == "h2":
            self.h2.append("".join(self._text))
        elif tag == self._tag == "script":
            self.scripts.append((self._attrs, "".join(self._text)))
        elif tag == self._tag == "td" and self._row is not None:
            self.trade_rows[self._row].append("".join(self._text))
        if tag == self._tag:
            self._tag = None
        if tag == "tr":
            self._row = None


def read_page(path: Path) -> tuple[Page, str]:
    text = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return page, text


def candles(symbol: str, closes: list[float], start: int = T0, step: int = MINUTE) -> list[Candle]:
    out, previous = [], D(str(closes[0]))
    for i, c in enumerate(closes):
        close = D(str(c))
        out.append(Candle(symbol, "1m", start + i * step, previous, max(previous, close) + 1, min(previous, close) - 1, close,
                          D("5")))
        previous = close
    return out


def trade(trade_id: str, symbol: str, entry_min: int, exit_min: int, entry: str, exit_: str, pnl: str,
          reason: ExitReason = ExitReason.REVERSE_SIGNAL) -> Trade:
    return Trade(trade_id, symbol, Side.LONG, D("0.010"), D(entry), D(exit_), T0 + entry_min * MINUTE, T0 + exit_min * MINUTE,
                 D(pnl) + D("0.8"), D("0.8"), D(pnl), reason, Mode.PAPER, "ema_cross")


@pytest.fixture
def small_backtest():
    btc = candles(BTC, [100 + (i % 50) - (i // 100) for i in range(600)])
    eth = candles(ETH, [50 + (i % 20) * 0.5 for i in range(600)])
    trades = [
        trade("BTC-1", BTC, 10, 40, "110", "139", "28.2"),
        trade("ETH-1", ETH, 30, 35, "57.5", "52.5", "-5.8", ExitReason.STOP_LOSS),
        trade("BTC-2", BTC, 300, 350, "147", "143", "-4.8"),
    ]
    equity = [(T0 + i * MINUTE, D("10000") + D(i) / 10) for i in range(600)]
    metrics = compute_metrics(trades, equity, starting_equity=D("10000"))
    metrics["per symbol"] = breakdown(trades, "symbol")
    return dict(trades=trades, equity_curve=equity, candles_by_symbol={BTC: btc, ETH: eth}, metrics=metrics,
                parameters={"strategy": "ema_cross", "fast": 12, "slow": 26, "fee": D("0.0004")},
                stops={"BTC-1": [(T0 + 10 * MINUTE, D("105")), (T0 + 20 * MINUTE, D("112"))], "ETH-1": [(T0 + 30 * MINUTE, D("52.5"))],
                       "BTC-2": [(T0 + 300 * MINUTE, D("0.147"))]})


# ---------------------------------------------------------------------------------------- the page


def test_write_when_given_trades_and_candles_then_one_self_contained_file_with_every_section_and_trade(tmp_path, small_backtest):
    # Act
    path = write_backtest_report(tmp_path / "out" / "report.html", **small_backtest)

    # Assert: plotly.js is inline, once; nothing is fetched from anywhere
    page, text = read_page(path)
    bundle = plotly.offline.get_plotlyjs()
    inline = [body for attrs, body in page.scripts if bundle[:200] in body]
    assert len(inline) == 1 and len(inline[0]) >= len(bundle) > 3_000_000
    assert not [attrs for attrs, _ in page.scripts if "src" in attrs] and not page.links

    # every section, a chart per symbol, and each trade as a row with its numbers
    assert page.h2 == list(SECTION_TITLES)
    assert text.count('class="plotly-graph-div"') == 4  # equity + drawdown, two symbols' candles, monthly returns
    assert page.trade_rows == {
        "BTC-1": [BTC, "long", "0.010", "2025-05-01 00:10", "110", "2025-05-01 00:40", "139", "0.8000", "0.0000", "28.20",
                  "reverse_signal", "ema_cross"],
        "ETH-1": [ETH, "long", "0.010", "2025-05-01 00:30", "57.5", "2025-05-01 00:35", "52.5", "0.8000", "0.0000", "-5.80",
                  "stop_loss", "ema_cross"],
        "BTC-2": [BTC, "long", "0.010", "2025-05-01 05:00", "147", "2025-05-01 05:50", "143", "0.8000", "0.0000", "-4.80",
                  "reverse_signal", "ema_cross"],
    }


def figures(text: str) -> list[list[dict]]:
    """The traces of every chart, from the JSON plotly embeds."""
    return [json.loads(m) for m in re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', text, flags=re.S)]


def test_write_when_trades_have_stops_then_entries_exits_and_stops_are_drawn_but_a_stop_out_of_reach_is_not(tmp_path, small_backtest):
    path = write_backtest_report(tmp_path / "report.html", **small_backtest)

    _, text = read_page(path)
    btc = next(f for f in figures(text) if f[0].get("name") == BTC)
    by_name = {trace["name"]: trace for trace in btc}
    assert by_name["entry long"]["y"] == [110.0, 147.0] and by_name["exit"]["y"] == [139.0, 143.0]
    # BTC-1's stop moved from 105 to 112 and rests there until the exit; BTC-2's, at a thousandth of its entry, is left out
    assert by_name["stop"]["y"] == [105.0, 105.0, None, 112.0, 112.0, None]
    assert "stops out of reach not drawn (1 trade)" in text


def test_write_when_the_series_are_long_then_every_chart_holds_at_most_max_points(tmp_path, small_backtest):
    # Arrange: 12,000 candles and equity points
    n = 12_000
    small_backtest["candles_by_symbol"] = {BTC: candles(BTC, [100 + np.sin(i / 50) * 10 for i in range(n)])}
    small_backtest["equity_curve"] = [(T0 + i * MINUTE, D("10000") + D(i % 777)) for i in range(n)]

    # Act
    path = write_backtest_report(tmp_path / "report.html", **small_backtest)

    # Assert
    _, text = read_page(path)
    charts = figures(text)
    assert max(len(trace.get("x") or []) for chart in charts for trace in chart) <= MAX_POINTS
    assert "each bar 3 minutes (3 candles merged)" in text


def test_write_when_nothing_traded_then_the_page_still_says_so(tmp_path, small_backtest):
    path = write_backtest_report(tmp_path / "empty.html", **{**small_backtest, "trades": [], "stops": {},
                                                              "metrics": compute_metrics([])})

    page, text = read_page(path)
    assert page.h2 == list(SECTION_TITLES) and page.trade_rows == {} and "no trades" in text


# ------------------------------------------------------------------------------------ the numbers


def test_downsample_ohlc_when_merging_then_open_first_high_highest_low_lowest_close_last():
    ohlc = {"t": np.arange(7) * MINUTE, "open": np.arange(7.0) + 10, "high": np.array([11, 19, 12, 13, 14, 15, 16.0]),
            "low": np.array([9, 8, 1, 9, 9, 9, 9.0]), "close": np.arange(7.0) + 10.5}

    merged, k = downsample_ohlc(ohlc, max_points=3)

    assert k == 3
    assert merged["t"].tolist() == [0, 3 * MINUTE, 6 * MINUTE]
    assert (merged["open"].tolist(), merged["high"].tolist()) == ([10, 13, 16], [19, 15, 16])
    assert (merged["low"].tolist(), merged["close"].tolist()) == ([1, 9, 9], [12.5, 15.5, 16.5])


@pytest.mark.parametrize("n", [10, MAX_POINTS, MAX_POINTS + 1, 123_457])
def test_downsample_extremes_when_a_line_is_thinned_then_its_lowest_highest_and_last_points_stay(n):
    rng = np.random.default_rng(n)
    v = np.cumsum(rng.normal(0, 1, n))
    t = np.arange(n)

    kept_t, kept_v = downsample_extremes(t, v)

    assert len(kept_v) <= MAX_POINTS and (np.diff(kept_t) > 0).all()
    assert kept_v.min() == v.min() and kept_v.max() == v.max() and kept_t[-1] == n - 1


def test_buy_and_hold_when_two_symbols_then_equal_shares_valued_at_each_finished_candle():
    # A doubles at its second close, B halves at its third; both bought at their first close
    a = {"t": np.array([0, 1, 2]) * MINUTE, "close": np.array([100.0, 200.0, 200.0])}
    b = {"t": np.array([0, 1, 2]) * MINUTE, "close": np.array([10.0, 10.0, 5.0])}
    times = np.array([1, 2, 3]) * MINUTE  # the close times of the three candles

    value, returns = buy_and_hold(times, 10_000.0, {"A": a, "B": b})

    assert value.tolist() == [10_000.0, 15_000.0, 12_500.0]
    assert returns == {"A": 100.0, "B": -50.0}


def test_monthly_returns_when_the_curve_spans_two_months_then_each_from_the_month_before():
    t = np.array([T0, T0 + 10 * 86_400_000, T0 + 31 * 86_400_000, T0 + 40 * 86_400_000])  # 1, 11 May, 1, 10 June
    v = np.array([10_000.0, 11_000.0, 9_900.0, 10_890.0])

    assert monthly_returns(t, v) == [("2025-05", pytest.approx(10.0)), ("2025-06", pytest.approx(-1.0))]
