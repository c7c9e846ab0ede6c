"""The equity chart's data for the uPlot frame (ui/line_chart.py, ui/charts.equity_figure): what a trader
reads off it — every peak and the drawdown's bottom kept when thinned, both panels on the same times, UTC
seconds, a gap as a gap — and that the frame ships what it loads."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ui import charts
from ui.line_chart import _FRAME, Line, LineChart, Panel, chart_json

T0 = 1_796_000_000_000


def _points(values, wallet: bool = False) -> list[dict[str, str]]:
    return [{"ts_ms": str(T0 + i * 1000), "equity": str(v), **({"wallet": "10000"} if wallet else {})}
            for i, v in enumerate(values)]


def test_equity_chart_when_two_points_then_the_equity_and_a_10_pct_drawdown_in_two_panels():
    chart = charts.equity_figure(_points([10000, 9000]))

    top, bottom = chart.panels
    assert [(line.label, list(line.values)) for line in top.lines] == [("Equity", [10000.0, 9000.0])]
    assert bottom.lines[0].label == "Drawdown" and list(bottom.lines[0].values) == pytest.approx([0.0, -10.0])
    assert (top.unit, bottom.unit) == ("USDT", "%")
    assert json.loads(chart.to_json())["x"] == [T0 / 1000, T0 / 1000 + 1]  # uPlot's seconds


@pytest.mark.parametrize("n", [0, 1, 1200, 1201, 5000, 50_000])
def test_equity_chart_when_a_long_curve_then_thinned_with_its_peak_trough_and_deepest_drawdown(n):
    rng = np.random.default_rng(n)
    values = 10_000 + np.cumsum(rng.normal(0, 5, n))
    chart = charts.equity_figure(_points(values.round(2)))

    equity, drawdown = chart.panels[0].lines[0].values, chart.panels[1].lines[0].values
    assert len(chart.times_ms) == len(equity) == len(drawdown) <= 2 * charts.MAX_POINTS
    assert list(chart.times_ms) == sorted(set(chart.times_ms))
    if n:
        shown = values.round(2)
        assert (equity.max(), equity.min()) == (shown.max(), shown.min())
        assert drawdown.min() == pytest.approx(charts.drawdown_pct(shown).min())
        assert (chart.times_ms[0], chart.times_ms[-1]) == (T0, T0 + (n - 1) * 1000)  # where the data starts and ends


def test_equity_chart_when_the_wallet_is_reported_then_a_dotted_wallet_line_beside_the_equity():
    chart = charts.equity_figure(_points([10000, 10010], wallet=True))

    assert [(line.label, line.dash) for line in chart.panels[0].lines] == [("Equity", False), ("Wallet", True)]


def test_chart_json_when_a_value_is_nan_then_a_gap_and_the_same_object_is_encoded_once():
    chart = LineChart("t", np.asarray([T0, T0 + 1000]), (Panel((Line("a", np.asarray([1.5, math.nan]), "#fff"),),
                                                               "USDT", 2, 100),))

    text = chart_json(chart, "k")
    assert json.loads(text)["panels"][0]["lines"][0]["y"] == [1.5, None]
    assert chart_json(chart, "k") is text


def test_frame_when_served_then_uplot_and_its_licence_are_beside_it():
    page = (_FRAME / "index.html").read_text()
    assert 'src="uPlot.iife.min.js"' in page and 'href="uPlot.min.css"' in page
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "LICENSE-uPlot.txt"):
        assert (_FRAME / name).stat().st_size > 0
