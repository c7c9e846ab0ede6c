"""Time-series lines in panels over one time axis (equity and drawdown), drawn with uPlot in a frame that
keeps the user's view while the data changes.

The equity charts were Plotly figures in ui/live_chart.py's frame: every such frame evaluates plotly.js
(1.3 MB) in a document of its own, about half a second of a first visit's main thread on this 2-core
machine, and the Account tab's equity chart was the last thing of the page's first view to appear.
uPlot (51 kB, MIT, ui/line_chart_frame/) draws the same lines in a few milliseconds. The frame is named
by its key alone and stays; each refresh sends the new data and the frame draws it into the same plots:
a zoom (drag across a panel, double-click resets) and the hovered point survive, as in the Plotly frame.
Values are floats (a chart is a picture); tables keep Decimal strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit.components.v1 as components

_FRAME = Path(__file__).resolve().with_name("line_chart_frame")
_chart = components.declare_component("line_chart", path=str(_FRAME))


@dataclass(frozen=True)
class Line:
    label: str
    values: np.ndarray  # one a time of the chart's `times_ms`
    color: str
    width: float = 2.0
    dash: bool = False
    fill: bool = False  # shaded down to the axis (the drawdown)


@dataclass(frozen=True)
class Panel:
    lines: tuple[Line, ...]
    unit: str  # on the axis and after every hovered value ("USDT", "%")
    decimals: int
    height: int  # pixels


@dataclass(frozen=True)
class LineChart:
    title: str
    times_ms: np.ndarray  # UTC, rising
    panels: tuple[Panel, ...]

    @property
    def height(self) -> int:
        return sum(p.height for p in self.panels) + 20 * len(self.panels) + 60  # legends, time axis and title

    def to_json(self) -> str:
        """What the frame draws: times in seconds (uPlot's), a NaN as a gap (null)."""
        def values(a: np.ndarray) -> list[float | None]:
            return [None if v != v else round(float(v), 6) for v in a.tolist()]

        return json.dumps({
            "title": self.title,
            "x": [t / 1000 for t in np.asarray(self.times_ms, dtype="int64").tolist()],
            "panels": [{"unit": p.unit, "decimals": p.decimals, "height": p.height,
                        "lines": [{"label": line.label, "y": values(line.values), "color": line.color,
                                   "width": line.width, "dash": line.dash, "fill": line.fill} for line in p.lines]}
                       for p in self.panels],
        }, separators=(",", ":"))


_json_cache: dict[str, tuple[LineChart, str]] = {}


def chart_json(chart: LineChart, key: str) -> str:
    """The chart's JSON, made again only for a new chart object (the callers memoise unchanged charts)."""
    hit = _json_cache.get(key)
    if hit is not None and hit[0] is chart:
        return hit[1]
    text = chart.to_json()
    _json_cache[key] = (chart, text)
    return text


def line_chart(chart: LineChart, key: str) -> None:
    """Draws `chart` in the frame named `key`; the next call with the same key updates it in place."""
    _chart(spec=chart_json(chart, key), key=key, default=None, height=chart.height)
