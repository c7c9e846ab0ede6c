"""A backtest as one self-contained HTML file: open it anywhere, offline, and see what happened.

One file, no network: plotly.js (about 4.8 MB) is embedded once, inline, and every chart is drawn by
it. The page holds, top to bottom: the parameters and the metrics; equity with buy-and-hold of the same
symbols beside it, and the drawdown under it; per symbol the candles with every entry, exit and stop
level; monthly returns; buy-and-hold per symbol; and every trade in a table.

Why downsampled, and how: a browser draws 5,000 candles briskly and 130,000 not at all, so a chart
holds at most `MAX_POINTS`. Candles are merged into longer ones (open of the first, highest high,
lowest low, close of the last), so every wick stays visible; the equity curve keeps each bucket's
lowest and highest point, so no peak and no trough of the drawdown is lost. Markers and the trade table
are never thinned.

Buy-and-hold: the starting equity (the equity curve's first point) split equally between the symbols,
each share bought at the close of the symbol's first candle that closes at or after the curve's start,
and valued at the close of the newest candle finished by then; before that candle its share is cash.

Stop levels are not in `models.Trade`: pass them as `stops` (per trade id, the stop's (time, price)
steps from entry to exit). A stop outside the symbol's price range by more than half (one that rests
out of reach, as `stops.method: none` places it) is left out, or the candles would be squashed flat.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from analytics.metrics import to_jsonable
from models import Trade

MAX_POINTS = 5_000
# a stop this far outside the candles' range (as a fraction of it) is one that rests out of reach
STOP_RANGE_MARGIN = 0.5
EquityPoint = tuple[int, Decimal]

SECTION_TITLES = (
    "Parameters", "Metrics", "Equity and drawdown", "Candles", "Monthly returns", "Buy and hold", "Trades",
)

_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 24px auto; max-width: 1320px;
       color: #1f2328; background: #fff; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: #59636e; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 18px; } .card span { color: #59636e; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #eaeef2; padding: 3px 10px; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; position: sticky; top: 0; } td.l, th.l { text-align: left; }
.pos { color: #1a7f37; } .neg { color: #cf222e; }
.scroll { max-height: 560px; overflow: auto; border: 1px solid #d0d7de; }
.grid { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
.note { color: #59636e; font-size: 12px; }
"""


# ------------------------------------------------------------------------------------------ inputs


def _ohlc(candles: Any) -> dict[str, np.ndarray]:
    """open times (int64 ms) and float OHLC from Candles, a candle frame (engine.strategies.base
    FRAME_COLUMNS) or a marketdata.csvfile.CandleTable."""
    if hasattr(candles, "columns"):  # a DataFrame
        t = candles["open_time_ms"].to_numpy(dtype=np.int64)
        values = {k: candles[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close")}
    elif hasattr(candles, "ts"):  # a CandleTable: values are the file's strings
        t = np.asarray(candles.ts, dtype=np.int64)
        values = {k: np.asarray(getattr(candles, k)).astype(float) for k in ("open", "high", "low", "close")}
    else:
        t = np.fromiter((c.open_time_ms for c in candles), dtype=np.int64, count=len(candles))
        values = {k: np.fromiter((float(getattr(c, k)) for c in candles), dtype=float, count=len(candles))
                  for k in ("open", "high", "low", "close")}
    return {"t": t, **values}


def _timeframe_ms(t: np.ndarray) -> int:
    return int(np.diff(t).min()) if len(t) > 1 else 60_000


def _dates(ms: np.ndarray) -> np.ndarray:
    return np.asarray(ms, dtype="int64").astype("datetime64[ms]")


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")


# -------------------------------------------------------------------------------------- downsampling


def downsample_ohlc(ohlc: dict[str, np.ndarray], max_points: int = MAX_POINTS) -> tuple[dict[str, np.ndarray], int]:
    """At most `max_points` candles, each merging `k` consecutive ones; (candles, k)."""
    n = len(ohlc["t"])
    if n <= max_points:
        return ohlc, 1
    k = math.ceil(n / max_points)
    starts = np.arange(0, n, k)
    ends = np.r_[starts[1:], n]
    return {
        "t": ohlc["t"][starts], "open": ohlc["open"][starts],
        "high": np.maximum.reduceat(ohlc["high"], starts), "low": np.minimum.reduceat(ohlc["low"], starts),
        "close": ohlc["close"][ends - 1],
    }, k


def downsample_extremes(t: np.ndarray, v: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` points of a line: each bucket's lowest and highest, in time order (and the last)."""
    n = len(v)
    if n <= max_points:
        return t, v
    k = math.ceil(n / ((max_points - 1) // 2))
    padded = np.full(math.ceil(n / k) * k, np.nan)
    padded[:n] = v
    rows = padded.reshape(-1, k)
    base = np.arange(rows.shape[0]) * k
    keep = np.unique(np.r_[base + np.nanargmin(rows, axis=1), base + np.nanargmax(rows, axis=1), n - 1])
    return t[keep], v[keep]


# --------------------------------------------------------------------------------------- computations


def drawdown_pct(v: np.ndarray) -> np.ndarray:
    """Below the running peak, in % (0 at a new high, negative under water)."""
    if not len(v):
        return v
    peak = np.maximum.accumulate(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, (v / peak - 1.0) * 100.0, 0.0)


def monthly_returns(t: np.ndarray, v: np.ndarray) -> list[tuple[str, float]]:
    """(YYYY-MM, return %) per calendar month (UTC) of the equity curve, each from the month before's last
    point (the first from the curve's first point)."""
    if len(v) < 2:
        return []
    months = _dates(t).astype("datetime64[M]")
    last = np.r_[np.flatnonzero(months[1:] != months[:-1]), len(v) - 1]
    out, previous = [], v[0]
    for i in last:
        out.append((str(months[i]), (v[i] / previous - 1.0) * 100.0 if previous > 0 else float("nan")))
        previous = v[i]
    return out


def buy_and_hold(
    t: np.ndarray, start: float, ohlc_by_symbol: Mapping[str, dict[str, np.ndarray]]
) -> tuple[np.ndarray, dict[str, float]]:
    """The equal-weight buy-and-hold equity at each time of `t`, and each symbol's return % over the period."""
    if not ohlc_by_symbol or not len(t):
        return np.full(len(t), start), {}
    share = start / len(ohlc_by_symbol)
    total = np.zeros(len(t))
    returns = {}
    for symbol, ohlc in ohlc_by_symbol.items():
        # candles of the period only: bought at the close of the first one that closes at or after its start
        closes_at = ohlc["t"] + _timeframe_ms(ohlc["t"])
        first = int(np.searchsorted(closes_at, t[0], side="left"))
        closes_at, closes = closes_at[first:], ohlc["close"][first:]
        if not len(closes):
            total += share
            continue
        done = np.searchsorted(closes_at, t, side="right") - 1  # the newest candle finished by then
        price = np.where(done >= 0, closes[np.maximum(done, 0)], closes[0])
        total += share * price / closes[0]
        last = int(done[-1]) if done[-1] >= 0 else 0
        returns[symbol] = (closes[last] / closes[0] - 1.0) * 100.0
    return total, returns


# -------------------------------------------------------------------------------------------- figures


def _figure_html(fig: go.Figure) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=40, b=40), hovermode="x unified")
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _equity_figure(t, v, bh, downsample_note: str) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06,
                        subplot_titles=(f"Equity (USDT){downsample_note}", "Drawdown (%)"))
    et, ev = downsample_extremes(t, v)
    fig.add_trace(go.Scatter(x=_dates(et), y=ev, name="strategy", line=dict(color="#0969da", width=1.6)), row=1, col=1)
    bt, bv = downsample_extremes(t, bh)
    fig.add_trace(go.Scatter(x=_dates(bt), y=bv, name="buy and hold", line=dict(color="#8c959f", width=1.2, dash="dot")),
                  row=1, col=1)
    dd = drawdown_pct(v)
    dt, dv = downsample_extremes(t, dd)
    fig.add_trace(go.Scatter(x=_dates(dt), y=dv, name="drawdown", fill="tozeroy", line=dict(color="#cf222e", width=1)),
                  row=2, col=1)
    fig.update_layout(height=620, legend=dict(orientation="h", y=1.08))
    return fig


def _stop_segments(trades: Sequence[Trade], stops: Mapping[str, Sequence[tuple[int, Decimal]]], low: float,
                   high: float) -> tuple[list, list, int]:
    """x, y of the stop lines (steps from entry to exit, None between trades) and how many were left out."""
    span = max(high - low, abs(high) * 1e-9)
    lo, hi = low - STOP_RANGE_MARGIN * span, high + STOP_RANGE_MARGIN * span
    xs, ys, hidden = [], [], 0
    for trade in trades:
        steps = sorted(stops.get(trade.trade_id, ()))
        if not steps:
            continue
        if any(not lo <= float(p) <= hi for _, p in steps):
            hidden += 1
            continue
        for i, (ts, price) in enumerate(steps):
            end = steps[i + 1][0] if i + 1 < len(steps) else trade.exit_ms
            xs += [np.datetime64(max(int(ts), trade.entry_ms), "ms"), np.datetime64(int(end), "ms"), None]
            ys += [float(price), float(price), None]
    return xs, ys, hidden


def _candles_figure(symbol: str, ohlc: dict[str, np.ndarray], trades: Sequence[Trade],
                    stops: Mapping[str, Sequence[tuple[int, Decimal]]]) -> tuple[go.Figure, str]:
    shown, k = downsample_ohlc(ohlc)
    tf = _timeframe_ms(ohlc["t"])
    note = f" — each bar {k * tf // 60_000} minutes ({k} candles merged)" if k > 1 else ""
    fig = go.Figure(go.Candlestick(
        x=_dates(shown["t"]), open=shown["open"], high=shown["high"], low=shown["low"], close=shown["close"],
        name=symbol, increasing_line_color="#1a7f37", decreasing_line_color="#cf222e", line=dict(width=1),
    ))
    for side, symbol_ in (("long", "triangle-up"), ("short", "triangle-down")):
        mine = [tr for tr in trades if tr.side.value == side]
        if mine:
            fig.add_trace(go.Scatter(
                x=_dates(np.array([tr.entry_ms for tr in mine])), y=[float(tr.entry_price) for tr in mine],
                mode="markers", name=f"entry {side}",
                marker=dict(symbol=symbol_, size=9, color="#0969da" if side == "long" else "#8250df",
                            line=dict(width=0.5, color="#fff")),
                text=[f"{tr.trade_id}: {side} {tr.qty} @ {tr.entry_price}" for tr in mine], hoverinfo="text+x",
            ))
    if trades:
        fig.add_trace(go.Scatter(
            x=_dates(np.array([tr.exit_ms for tr in trades])), y=[float(tr.exit_price) for tr in trades],
            mode="markers", name="exit",
            marker=dict(symbol="x", size=8, color=["#1a7f37" if tr.pnl > 0 else "#cf222e" for tr in trades]),
            text=[f"{tr.trade_id}: exit @ {tr.exit_price} ({tr.exit_reason.value}), P&L {tr.pnl:.2f}" for tr in trades],
            hoverinfo="text+x",
        ))
    xs, ys, hidden = _stop_segments(trades, stops, float(ohlc["low"].min()), float(ohlc["high"].max()))
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="stop", line=dict(color="#bc4c00", width=1.2, dash="dash"),
                                 hoverinfo="y+name"))
    if hidden:
        note += f"; stops out of reach not drawn ({hidden} trade{'s' if hidden != 1 else ''})"
    fig.update_layout(height=520, title=dict(text=f"{symbol}{note}", font=dict(size=14)),
                      xaxis_rangeslider_visible=False, legend=dict(orientation="h", y=1.02, x=0.6))
    return fig, note


def _monthly_figure(months: list[tuple[str, float]]) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=[m for m, _ in months], y=[r for _, r in months], name="return %",
        marker_color=["#1a7f37" if r >= 0 else "#cf222e" for _, r in months],
        text=[f"{r:+.2f}%" for _, r in months], textposition="outside",
    ))
    fig.update_layout(height=320, yaxis_title="return %", xaxis_type="category", hovermode="closest")
    return fig


# ----------------------------------------------------------------------------------------------- html


def _e(value: Any) -> str:
    return html.escape(str(value))


def _show(key: str, value: Any) -> str:
    """A metric or parameter as a person reads it: money to the cent, ratios to 4 digits, ms as time."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        if key.endswith("_ms"):
            return _duration(value)
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and key.endswith("_ms") and not isinstance(value, bool):
        return _duration(value)
    return str(to_jsonable(value))


def _duration(ms: float) -> str:
    minutes = ms / 60_000
    if minutes < 120:
        return f"{minutes:.1f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 72 else f"{hours / 24:.1f} d"


def _kv_table(values: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><td class='l'>{_e(k)}</td><td>{_e(_show(k, v))}</td></tr>" for k, v in values.items())
    return f"<table><tbody>{rows}</tbody></table>"


def _metrics_html(metrics: Mapping[str, Any]) -> str:
    flat = list((k, v) for k, v in metrics.items() if not isinstance(v, Mapping))
    third = math.ceil(len(flat) / 3)
    columns = [dict(flat[i : i + third]) for i in range(0, len(flat), third)] if flat else []
    parts = [f"<div class='grid'>{''.join(_kv_table(c) for c in columns)}</div>"] if columns else []
    for name, group in metrics.items():
        if not isinstance(group, Mapping):
            continue
        rows = {k: v for k, v in group.items() if isinstance(v, Mapping)}
        if rows:  # a breakdown: {group: {metric: value}} as one table, a row per group
            fields = list(next(iter(rows.values())))
            head = "".join(f"<th>{_e(f)}</th>" for f in fields)
            body = "".join(
                f"<tr><td class='l'>{_e(g)}</td>" + "".join(f"<td>{_e(_show(f, vals.get(f)))}</td>" for f in fields) + "</tr>"
                for g, vals in rows.items()
            )
            parts.append(f"<h3>{_e(name)}</h3><div class='scroll'><table><thead><tr><th class='l'></th>{head}</tr></thead>"
                         f"<tbody>{body}</tbody></table></div>")
        else:
            parts.append(f"<h3>{_e(name)}</h3>{_kv_table(group)}")
    return "".join(parts) or "<p class='note'>no metrics</p>"


def _cards(metrics: Mapping[str, Any], final: float | None, bh_return: float | None) -> str:
    def card(label: str, text: str, sign: float | None = None) -> str:
        cls = "" if sign is None else (" class='pos'" if sign > 0 else " class='neg'" if sign < 0 else "")
        return f"<div class='card'><b{cls}>{_e(text)}</b><span>{_e(label)}</span></div>"

    ret = metrics.get("return_pct")
    out = [
        card("final equity", f"{final:,.2f}" if final is not None else "—"),
        card("return", f"{ret:+.2f}%" if isinstance(ret, (int, float)) else "—", ret if isinstance(ret, (int, float)) else None),
        card("buy and hold", f"{bh_return:+.2f}%" if bh_return is not None else "—", bh_return),
        card("trades", _show("trades", metrics.get("trades"))),
        card("win rate", f"{metrics['win_rate'] * 100:.1f}%" if isinstance(metrics.get("win_rate"), float) else "—"),
        card("max drawdown", f"{metrics['max_drawdown_pct']:.2f}%" if isinstance(metrics.get("max_drawdown_pct"), float) else "—"),
        card("profit factor", _show("profit_factor", metrics.get("profit_factor"))),
        card("sharpe", _show("sharpe", metrics.get("sharpe"))),
    ]
    return f"<div class='cards'>{''.join(out)}</div>"


TRADE_COLUMNS = ("symbol", "side", "qty", "entry time", "entry price", "exit time", "exit price", "fees", "funding",
                 "P&L", "exit reason", "strategy")
_TEXT_COLUMNS = {"symbol", "side", "exit reason", "strategy"}


def _trade_rows(trades: Sequence[Trade]) -> str:
    rows = []
    for t in trades:
        cls = "pos" if t.pnl > 0 else "neg" if t.pnl < 0 else ""
        cells = (
            f"<td class='l'>{_e(t.symbol)}</td><td class='l'>{_e(t.side.value)}</td><td>{_e(t.qty)}</td>"
            f"<td>{_utc(t.entry_ms)}</td><td>{_e(t.entry_price)}</td><td>{_utc(t.exit_ms)}</td><td>{_e(t.exit_price)}</td>"
            f"<td>{t.fees:,.4f}</td><td>{t.funding:,.4f}</td><td class='{cls}'>{t.pnl:,.2f}</td>"
            f"<td class='l'>{_e(t.exit_reason.value)}</td><td class='l'>{_e(t.strategy)}</td>"
        )
        rows.append(f"<tr data-trade-id='{_e(t.trade_id)}'>{cells}</tr>")
    return "".join(rows)


def _section(title: str, body: str, sub: str = "") -> str:
    note = f"<p class='note'>{_e(sub)}</p>" if sub else ""
    return f"<section><h2>{_e(title)}</h2>{note}{body}</section>"


def write_backtest_report(
    path: str | Path,
    *,
    trades: Sequence[Trade],
    equity_curve: Sequence[EquityPoint],
    candles_by_symbol: Mapping[str, Any],
    metrics: Mapping[str, Any],
    parameters: Mapping[str, Any],
    stops: Mapping[str, Sequence[tuple[int, Decimal]]] | None = None,
    title: str = "Backtest report",
) -> Path:
    """Write the report to `path` (parents created) and return it. `candles_by_symbol` values may be
    Candles, candle frames or CandleTables; `stops` maps a trade id to its stop's (time ms, price) steps."""
    path = Path(path)
    stops = stops or {}
    trades = sorted(trades, key=lambda tr: (tr.entry_ms, tr.symbol))
    curve = sorted(equity_curve, key=lambda p: p[0])
    t = np.array([p[0] for p in curve], dtype=np.int64)
    v = np.array([float(p[1]) for p in curve], dtype=float)
    ohlc_by_symbol = {s: _ohlc(c) for s, c in candles_by_symbol.items()}
    ohlc_by_symbol = {s: o for s, o in ohlc_by_symbol.items() if len(o["t"])}

    start = v[0] if len(v) else None
    bh, bh_returns = buy_and_hold(t, start, ohlc_by_symbol) if start is not None else (np.array([]), {})
    bh_total = (bh[-1] / start - 1.0) * 100.0 if start and len(bh) else None
    months = monthly_returns(t, v)
    period = f"{_utc(int(t[0]))} → {_utc(int(t[-1]))} UTC" if len(t) else "no equity points"

    sections = [
        _section("Parameters", _kv_table(parameters) if parameters else "<p class='note'>none given</p>"),
        _section("Metrics", _metrics_html(metrics)),
    ]
    if len(t):
        note = " — lowest and highest point kept per bucket" if len(t) > MAX_POINTS else ""
        sections.append(_section("Equity and drawdown", _figure_html(_equity_figure(t, v, bh, note)),
                                 "buy and hold: the starting equity split equally between the symbols, bought at the first close"))
    else:
        sections.append(_section("Equity and drawdown", "<p class='note'>no equity points</p>"))
    charts = []
    for symbol, ohlc in ohlc_by_symbol.items():
        mine = [tr for tr in trades if tr.symbol == symbol]
        fig, _ = _candles_figure(symbol, ohlc, mine, stops)
        charts.append(f"<h3>{_e(symbol)}</h3>{_figure_html(fig)}")
    sections.append(_section("Candles", "".join(charts) or "<p class='note'>no candles</p>",
                             "▲ entry, ✕ exit (green in profit, red at a loss), dashed: the stop"))
    if months:
        head = "".join(f"<th>{_e(m)}</th>" for m, _ in months)
        cells = "".join(f"<td class='{'pos' if r >= 0 else 'neg'}'>{r:+.2f}%</td>" for _, r in months)
        monthly = f"{_figure_html(_monthly_figure(months))}<table><thead><tr>{head}</tr></thead><tbody><tr>{cells}</tr></tbody></table>"
    else:
        monthly = "<p class='note'>fewer than two equity points</p>"
    sections.append(_section("Monthly returns", monthly, "of the equity curve, per calendar month (UTC)"))
    bh_rows = {s: (f"{r:+.2f}%" if r == r else "—") for s, r in bh_returns.items()}
    if bh_total is not None:
        bh_rows["equal weight, all symbols"] = f"{bh_total:+.2f}%"
        strategy_return = (v[-1] / start - 1.0) * 100.0
        bh_rows["the strategy"] = f"{strategy_return:+.2f}%"
    sections.append(_section("Buy and hold", _kv_table(bh_rows) if bh_rows else "<p class='note'>no candles</p>",
                             f"the same symbols over the same period ({period})"))
    head = "".join(f"<th class='l'>{_e(c)}</th>" if c in _TEXT_COLUMNS else f"<th>{_e(c)}</th>" for c in TRADE_COLUMNS)
    table = (f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
             f"<tbody>{_trade_rows(trades)}</tbody></table></div>")
    sections.append(_section("Trades", table if trades else "<p class='note'>no trades</p>", f"{len(trades)} trades, by entry time"))

    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{_e(title)}</h1><p class='sub'>{_e(', '.join(ohlc_by_symbol) or 'no symbols')} · {_e(period)}</p>"
        f"{_cards(metrics, float(v[-1]) if len(v) else None, bh_total)}{''.join(sections)}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
