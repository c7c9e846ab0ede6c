"""Plotly figures. Charts may use floats (they are pictures); tables keep Decimal strings."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Mapping, Sequence

import plotly.graph_objects as go

from models import Candle, Side, Trade
from ui.summaries import HorizonAccuracy

GREEN = "#26a69a"
RED = "#ef5350"
BLUE = "#42a5f5"
_MARGIN = dict(l=10, r=10, t=40, b=10)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=_MARGIN, showlegend=False, hovermode="x unified")
    return fig


def equity_figure(points: Sequence[Mapping[str, str]]) -> go.Figure:
    """Equity (and wallet balance, dotted) over time from the `equity` stream."""
    rows = [p for p in points if p.get("ts_ms") and p.get("equity")]
    times = [_time(int(p["ts_ms"])) for p in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=[float(p["equity"]) for p in rows], name="Equity", mode="lines",
                             line=dict(color=BLUE, width=2)))
    if any(p.get("wallet") for p in rows):
        fig.add_trace(go.Scatter(x=times, y=[float(p.get("wallet") or p["equity"]) for p in rows], name="Wallet",
                                 mode="lines", line=dict(color="#9e9e9e", width=1, dash="dot")))
    fig.update_yaxes(title_text="USDT")
    return _layout(fig, "Equity curve")


def candles_figure(symbol: str, candles: Sequence[Candle], trades: Sequence[Trade] = ()) -> go.Figure:
    """Candlesticks with each trade's entry (triangle in its direction) and exit (x, green/red by P&L)."""
    fig = go.Figure(
        go.Candlestick(
            x=[_time(c.open_time_ms) for c in candles],
            open=[float(c.open) for c in candles],
            high=[float(c.high) for c in candles],
            low=[float(c.low) for c in candles],
            close=[float(c.close) for c in candles],
            name=symbol,
            increasing_line_color=GREEN,
            decreasing_line_color=RED,
        )
    )
    shown = _trades_in_window(candles, [t for t in trades if t.symbol == symbol])
    if shown:
        fig.add_trace(go.Scatter(
            x=[_time(t.entry_ms) for t in shown],
            y=[float(t.entry_price) for t in shown],
            mode="markers",
            name="Entry",
            marker=dict(
                symbol=["triangle-up" if t.side is Side.LONG else "triangle-down" for t in shown],
                size=12, color=BLUE, line=dict(color="white", width=1),
            ),
            text=[f"{t.side.value} entry {t.entry_price}" for t in shown],
            hoverinfo="text",
        ))
        fig.add_trace(go.Scatter(
            x=[_time(t.exit_ms) for t in shown],
            y=[float(t.exit_price) for t in shown],
            mode="markers",
            name="Exit",
            marker=dict(symbol="x", size=11, color=[GREEN if t.pnl >= 0 else RED for t in shown]),
            text=[f"exit {t.exit_price} ({t.exit_reason.value}) P&L {t.pnl:.2f}" for t in shown],
            hoverinfo="text",
        ))
    fig.update_layout(xaxis_rangeslider_visible=False)
    return _layout(fig, f"{symbol} candles with trades", height=420)


def _trades_in_window(candles: Sequence[Candle], trades: Sequence[Trade]) -> list[Trade]:
    if not candles:
        return list(trades)
    start = candles[0].open_time_ms
    return [t for t in trades if t.exit_ms >= start]


def pnl_by_reason_figure(totals: Mapping[str, Decimal]) -> go.Figure:
    reasons = list(totals)
    values = [float(v) for v in totals.values()]
    fig = go.Figure(go.Bar(
        x=reasons, y=values, marker_color=[GREEN if v >= 0 else RED for v in values],
        text=[f"{v:+,.2f}" for v in totals.values()], textposition="auto",
    ))
    fig.update_yaxes(title_text="net P&L (USDT)")
    return _layout(fig, "P&L by exit reason", height=300)


def accuracy_figure(rows: Sequence[HorizonAccuracy]) -> go.Figure:
    shown = [(r, accuracy) for r in rows if (accuracy := r.accuracy) is not None]
    fig = go.Figure(go.Bar(
        x=[r.horizon for r, _ in shown],
        y=[accuracy * 100 for _, accuracy in shown],
        marker_color=[GREEN if accuracy >= 0.5 else RED for _, accuracy in shown],
        text=[f"{accuracy * 100:.1f} % of {r.scored}" for r, accuracy in shown],
        textposition="auto",
    ))
    fig.add_hline(y=50, line_dash="dot", line_color="#9e9e9e")
    fig.update_yaxes(title_text="correct direction (%)", range=[0, 100])
    return _layout(fig, "Signal accuracy per horizon", height=300)
