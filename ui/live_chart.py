"""A Plotly chart that keeps the user's view while its data changes: a small Streamlit component.

`st.plotly_chart` names its element by a hash of the whole figure, so new data is a new element and the
browser builds a new plot: zoom, pan and legend clicks are lost. This component's frame is named by its
key alone and stays; each refresh sends the figure's JSON and the frame draws it with `Plotly.react`,
which keeps what the user did under the figure's unchanged `layout.uirevision` (ui/charts.py sets one
per chart). plotly.js is served by the dashboard's own server (no network): its finance bundle from the
frame's folder, or the full one the installed plotly package ships.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly
import plotly.graph_objects as go
import streamlit.components.v1 as components
from plotly.io.json import to_json_plotly

_FRAME = Path(__file__).resolve().with_name("live_chart_frame")
_PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"

_chart = components.declare_component("live_chart", path=str(_FRAME))
# Declared only so the dashboard serves plotly.min.js (at /component/<name>/plotly.min.js); never drawn.
_plotly_js = components.declare_component("plotly_js", path=str(_PLOTLY_DIR))
# plotly.js's finance bundle (npm plotly.js-finance-dist-min 4.1.0, MIT, in the frame's folder): the trace
# types below in 1.3 MB, which the browser evaluates in about a tenth of the time of the full 4.8 MB
# bundle (0.13 s against 1.1 s of a 2-core machine's main thread). A figure with any other trace type is
# drawn with the full plotly.min.js of the installed plotly package.
FINANCE_TRACES = frozenset({"bar", "candlestick", "funnel", "funnelarea", "histogram", "indicator", "ohlc", "pie",
                            "scatter", "waterfall"})
FINANCE_SRC = "plotly-finance.min.js"
# Relative to the frame's own address, /component/<chart name>/index.html, so it holds under a base path.
FULL_SRC = f"../{_plotly_js.name}/plotly.min.js"


def plotly_src(fig: go.Figure) -> str:
    return FINANCE_SRC if all(trace.type in FINANCE_TRACES for trace in fig.data) else FULL_SRC


_json_cache: dict[str, tuple[go.Figure, str]] = {}


def figure_json(fig: go.Figure, key: str) -> str:
    """The figure as JSON, made again only for a new figure object (the callers memoise unchanged figures,
    so a refresh without new data serialises nothing)."""
    hit = _json_cache.get(key)
    if hit is not None and hit[0] is fig:
        return hit[1]
    spec = fig.to_plotly_json()
    spec["layout"].pop("template", None)  # the frame themes the chart after Streamlit's; the default is light
    text = to_json_plotly(spec)
    _json_cache[key] = (fig, text)
    return text


def live_chart(fig: go.Figure, key: str, config: dict[str, Any] | None = None) -> None:
    """Draws `fig` in the frame named `key`; the next call with the same key updates it in place."""
    height = int(fig.layout.height or 450)
    _chart(figure=figure_json(fig, key), plotly_src=plotly_src(fig), config=config or {}, key=key, default=None,
           height=height)
