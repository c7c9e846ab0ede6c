"""Which plotly.js a chart's frame loads (ui/live_chart.py): the small finance bundle when every trace of
the figure is in it, the installed plotly package's full bundle otherwise."""

from __future__ import annotations

import json
from decimal import Decimal

import plotly.graph_objects as go
import pytest

from models import Candle
from ui import charts
from ui.live_chart import _FRAME, FINANCE_SRC, FULL_SRC, figure_json, plotly_src
from ui.summaries import HorizonAccuracy

NOW = 1_796_000_000_000


def _candles(n: int) -> list[Candle]:
    p = Decimal("95000")
    return [Candle("BTC/USDT:USDT", "1m", NOW + i * 60_000, p, p + 5, p - 5, p + 1, Decimal("3")) for i in range(n)]


@pytest.mark.parametrize("figure", [
    charts.candles_figure("BTC/USDT:USDT", _candles(30)),
    charts.pnl_by_reason_figure({"take_profit": Decimal("12.5"), "stop_loss": Decimal("-3")}),
    charts.accuracy_figure([HorizonAccuracy("60m", 100, 56)]),
], ids=["candles", "pnl_by_reason", "accuracy"])
def test_plotly_src_when_a_dashboard_figure_then_the_finance_bundle(figure):
    assert plotly_src(figure) == FINANCE_SRC


def test_plotly_src_when_a_trace_type_outside_the_finance_bundle_then_the_full_bundle():
    assert plotly_src(go.Figure([go.Scatter(y=[1, 2]), go.Heatmap(z=[[1, 2], [3, 4]])])) == FULL_SRC


def test_finance_bundle_when_shipped_then_beside_the_frame_with_its_license():
    head = (_FRAME / FINANCE_SRC).read_text()[:200]
    assert "plotly.js (finance - minified) v4.1.0" in head
    assert "MIT License" in (_FRAME / "LICENSE-plotly.js.txt").read_text()


def test_figure_json_when_the_same_figure_again_then_not_serialised_again_and_no_light_template():
    figure = charts.candles_figure("BTC/USDT:USDT", _candles(5))
    first = figure_json(figure, "unit_candles")
    assert figure_json(figure, "unit_candles") is first
    layout = json.loads(first)["layout"]
    assert "template" not in layout and layout["uirevision"] == "candles:BTC/USDT:USDT"
