"""Plotly figures. Charts may use floats (they are pictures); tables keep Decimal strings.

Every figure carries a fixed `uirevision` (its name, and the symbol for candles): on a refresh Plotly
gets new data under the same uirevision and keeps what the user did — zoom, pan, legend clicks — as
long as the chart's Streamlit key stays the same too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from models import Candle, Side, Trade, TradeState
from ui.line_chart import Line, LineChart, Panel
from ui.summaries import HorizonAccuracy

GREEN = "#26a69a"
RED = "#ef5350"
BLUE = "#42a5f5"
AMBER = "#ffa726"
GREY = "#9e9e9e"
_MARGIN = dict(l=10, r=10, t=40, b=10)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _times(ms: Sequence[int]) -> np.ndarray:
    """UTC times as numpy datetimes: Plotly copies an array at once, a list element by element."""
    return np.asarray(ms, dtype="int64").astype("datetime64[ms]")


def _floats(values: Sequence[object]) -> np.ndarray:
    return np.asarray([float(v) for v in values], dtype="float64")  # type: ignore[arg-type]


def _layout(fig: go.Figure, title: str, revision: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=_MARGIN, showlegend=False, hovermode="x unified",
                      uirevision=revision)
    return fig


MAX_POINTS = 1200  # per line: more than a chart's width in pixels shows nothing more, and costs the browser


def thin(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """The indices of the points to draw: all of them up to `max_points`, else each bucket's lowest and
    highest (in time order), so every peak and every trough — the drawdown's bottom — stays on the line.
    Vectorised: a refresh with a new equity point thins 5,000 points again (a loop over the buckets was a
    third of the Account tab's run)."""
    values = np.asarray(values, dtype="float64")
    n = values.size
    if n <= max_points:
        return np.arange(n)
    buckets = (max_points - 2) // 2  # two points a bucket, and the two ends
    sizes = np.full(buckets, n // buckets)
    sizes[: n % buckets] += 1  # as np.array_split cuts them
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    bucket = np.repeat(np.arange(buckets), sizes)
    keep = []
    for reduce in (np.fmin, np.fmax):
        extreme = reduce.reduceat(values, starts)
        hits = np.flatnonzero(values == extreme[bucket])
        _, first = np.unique(bucket[hits], return_index=True)  # the first hit in each bucket, as argmin/argmax
        keep.append(hits[first])
    return np.unique(np.concatenate([*keep, [0, n - 1]]))  # the line starts and ends where the data does


def drawdown_pct(equity: Sequence[float] | np.ndarray) -> np.ndarray:
    """Each point's fall from the highest equity before it, in percent (0 at a new high, negative below)."""
    values = np.asarray(equity, dtype="float64")
    if values.size == 0:
        return values
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(peaks > 0, (values / peaks - 1) * 100, 0.0)
    return out


def equity_figure(points: Sequence[Mapping[str, str]]) -> LineChart:
    """Equity (and wallet balance, dotted) over time from the `equity` stream, the drawdown below it, for
    ui/line_chart.py's frame (uPlot: no plotly.js in the tab's first view). It is made again at every new
    equity point; each line thinned to its extremes (`thin`), both panels on the union of those times."""
    rows = [p for p in points if p.get("ts_ms") and p.get("equity")]
    ms = np.asarray([int(p["ts_ms"]) for p in rows], dtype="int64")
    values = _floats([p["equity"] for p in rows])
    drawdown = drawdown_pct(values)
    shown = np.union1d(thin(values), thin(drawdown)) if len(rows) else np.arange(0)
    lines = [Line("Equity", values[shown], BLUE, 2.0)]
    if any(p.get("wallet") for p in rows):
        wallet = _floats([p.get("wallet") or p["equity"] for p in rows])
        lines.append(Line("Wallet", wallet[shown], GREY, 1.0, dash=True))
    return LineChart("Equity and drawdown", ms[shown], (
        Panel(tuple(lines), "USDT", 2, 240),
        Panel((Line("Drawdown", drawdown[shown], RED, 1.0, fill=True),), "%", 2, 90),
    ))


def candles_figure(symbol: str, candles: Sequence[Candle], trades: Sequence[Trade] = (),
                   open_trade: TradeState | None = None) -> go.Figure:
    """Candlesticks and volume; each trade's entry (triangle in its direction) and exit (x, green/red by
    P&L); an open position's entry (diamond) with its stop and take-profit as lines. Laid out in one go
    (`_two_panels`, the lines as shapes, not add_hline): it is made again at every new candle, and the
    step-by-step build was 180 ms of a 400 ms Paper refresh."""
    times = _times([c.open_time_ms for c in candles])
    rising = np.asarray([c.close >= c.open for c in candles], dtype=bool)
    traces = [
        go.Candlestick(x=times, open=_floats([c.open for c in candles]), high=_floats([c.high for c in candles]),
                       low=_floats([c.low for c in candles]), close=_floats([c.close for c in candles]), name=symbol,
                       increasing_line_color=GREEN, decreasing_line_color=RED, xaxis="x", yaxis="y"),
        # green on a rising candle, red on a falling one: as numbers on a two-colour scale, which plotly
        # takes as one array (1,500 colour strings were validated one by one)
        go.Bar(x=times, y=_floats([c.volume for c in candles]), name="Volume",
               marker=dict(color=rising.astype("float64"), colorscale=[[0.0, RED], [1.0, GREEN]], cmin=0.0, cmax=1.0),
               opacity=0.6, xaxis="x2", yaxis="y2"),
    ]
    shown = _trades_in_window(candles, [t for t in trades if t.symbol == symbol])
    if shown:
        traces.append(go.Scatter(
            x=[_time(t.entry_ms) for t in shown], y=[float(t.entry_price) for t in shown], mode="markers",
            name="Entry",
            marker=dict(symbol=["triangle-up" if t.side is Side.LONG else "triangle-down" for t in shown],
                        size=12, color=BLUE, line=dict(color="white", width=1)),
            text=[f"{t.side.value} entry {t.entry_price:,}" for t in shown], hoverinfo="text", xaxis="x", yaxis="y",
        ))
        traces.append(go.Scatter(
            x=[_time(t.exit_ms) for t in shown], y=[float(t.exit_price) for t in shown], mode="markers",
            name="Exit", marker=dict(symbol="x", size=11, color=[GREEN if t.pnl >= 0 else RED for t in shown]),
            text=[f"exit {t.exit_price:,} ({t.exit_reason.value}) P&L {t.pnl:+,.2f} USDT" for t in shown],
            hoverinfo="text", xaxis="x", yaxis="y",
        ))
    shapes: list[dict] = []
    annotations: list[dict] = []
    if open_trade is not None and open_trade.symbol == symbol:
        traces.append(_open_position(open_trade, shapes, annotations))
    layout = _two_panels(f"{symbol} candles with trades", f"candles:{symbol}", height=480, top_share=0.78,
                         spacing=0.03, top_x=dict(rangeslider=dict(visible=False)), top_y=dict(tickformat=","),
                         bottom_y=dict(title=dict(text="volume")))
    layout.update(shapes=shapes, annotations=annotations)
    return go.Figure(data=traces, layout=layout)


def _two_panels(title: str, revision: str, *, height: int, top_share: float, spacing: float,
                top_x: dict | None = None, top_y: dict | None = None, bottom_y: dict | None = None) -> dict:
    """make_subplots(rows=2, shared_xaxes=True, row_heights=[top_share, 1 - top_share],
    vertical_spacing=spacing), written out as one layout: make_subplots and the update calls validated the
    figure again at every step, and these figures are made again at every new point or candle."""
    low = (1 - spacing) * (1 - top_share)  # the lower panel's height; the upper one starts a gap above it
    return dict(
        xaxis=dict(anchor="y", domain=[0.0, 1.0], matches="x2", showticklabels=False, **(top_x or {})),
        xaxis2=dict(anchor="y2", domain=[0.0, 1.0]),
        yaxis=dict(anchor="x", domain=[low + spacing, 1.0], **(top_y or {})),
        yaxis2=dict(anchor="x2", domain=[0.0, low], **(bottom_y or {})),
        title=dict(text=title), height=height, margin=_MARGIN, showlegend=False, hovermode="x unified",
        uirevision=revision,
    )


def _open_position(trade: TradeState, shapes: list[dict], annotations: list[dict]) -> go.Scatter:
    """The open position's entry marker; its stop and take-profit as lines across the candles (what
    add_hline(row=1) makes), added to `shapes` and `annotations`."""
    for price, label, colour in ((trade.stop, "stop", RED), (trade.take_profit, "take-profit", GREEN)):
        if price and price > 0:
            shapes.append(dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=float(price), y1=float(price),
                               line=dict(color=colour, dash="dash", width=1)))
            annotations.append(dict(text=f"{label} {price:,}", showarrow=False, xref="x domain", x=0, xanchor="left",
                                    yref="y", y=float(price), yanchor="bottom"))
    return go.Scatter(
        x=[_time(trade.entry_ms)], y=[float(trade.entry_price)], mode="markers", name="Open position",
        marker=dict(symbol="diamond", size=13, color=AMBER, line=dict(color="white", width=1)),
        text=[f"open {trade.side.value} {trade.qty} @ {trade.entry_price:,}"], hoverinfo="text", xaxis="x", yaxis="y",
    )


def _trades_in_window(candles: Sequence[Candle], trades: Sequence[Trade]) -> list[Trade]:
    """Trades that began within the candles shown (older ones would stretch the time axis)."""
    if not candles:
        return list(trades)
    start = candles[0].open_time_ms
    return [t for t in trades if t.entry_ms >= start]


def pnl_by_reason_figure(totals: Mapping[str, Decimal], revision: str = "pnl_by_reason") -> go.Figure:
    reasons = list(totals)
    values = [float(v) for v in totals.values()]
    fig = go.Figure(go.Bar(
        x=reasons, y=values, marker_color=[GREEN if v >= 0 else RED for v in values],
        text=[f"{v:+,.2f}" for v in totals.values()], textposition="auto",
    ))
    fig.update_yaxes(title_text="net P&L (USDT)", tickformat=",.2f")
    return _layout(fig, "P&L by exit reason", revision, height=300)


def accuracy_figure(rows: Sequence[HorizonAccuracy], revision: str = "accuracy") -> go.Figure:
    shown = [(r, accuracy) for r in rows if (accuracy := r.accuracy) is not None]
    fig = go.Figure(go.Bar(
        x=[r.horizon for r, _ in shown],
        y=[accuracy * 100 for _, accuracy in shown],
        marker_color=[GREEN if accuracy >= 0.5 else RED for _, accuracy in shown],
        text=[f"{accuracy * 100:.1f} % of {r.scored}" for r, accuracy in shown],
        textposition="auto",
    ))
    # add_hline(y=50), written out: add_hline validates the whole figure again
    fig.update_layout(shapes=[dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=50, y1=50,
                                   line=dict(color=GREY, dash="dot"))],
                      yaxis=dict(title=dict(text="correct direction (%)"), range=[0, 100]))
    return _layout(fig, "Signal accuracy per horizon", revision, height=300)
