"""The dashboard's pure parts: number formats, column layouts, checklists, the decision log's query,
chart view state. No Streamlit, no Redis."""

from decimal import Decimal

import pytest

from models import AuditEvent, Candle, ExitReason, Mode, Position, Side, Trade, TradeState
from state import BotStatus
from ui import charts
from ui.checklists import ghost_checklist, paper_checklist
from ui.decision_log import ALL, LogQuery, select
from ui.status import format_pct, format_price, price_places, status_view
from ui.summaries import HorizonAccuracy, breakdown_table, ghost_summary, paper_summary, signal_accuracy, signals_table
from ui.tables import (
    KEY_WIDTH_PX, audit_table, key_value_table, orders_table, positions_table, sort_trades, trades_csv, trades_table,
)

NOW = 1_800_000_000_000
HOUR = 3_600_000


def _trade(trade_id, pnl, *, exit_ms=2_000_000, reason=ExitReason.TAKE_PROFIT, symbol="BTC/USDT:USDT",
           strategy="ema_trend", mode=Mode.PAPER):
    pnl = Decimal(pnl)
    return Trade(trade_id, symbol, Side.LONG, Decimal("0.01"), Decimal("95000"), Decimal("95500.5"), 1_000, exit_ms,
                 pnl + Decimal("0.5"), Decimal("0.5"), pnl, reason, mode, strategy=strategy)


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Decimal("95000.1"), 1, "95,000.1"),
        (Decimal("95000"), 1, "95,000.0"),
        (Decimal("1810.27"), 2, "1,810.27"),
        (Decimal("0.000123"), None, "0.000123"),
        (Decimal("64252.5123456789"), None, "64,252.51234568"),  # at most 8 decimals without a known tick
        (Decimal("126543.21987"), 1, "126,543.21987"),  # a price the venue set: every digit it has
        (Decimal("93100.1"), 0, "93,100.1"),  # candles that happened to be whole never hide the stop's .1
        (None, 2, "—"),
        ("garbage", 2, "—"),
        (Decimal("Infinity"), 2, "—"),
    ],
)
def test_format_price_when_places_known_or_not_then_thousands_and_fixed_decimals(value, places, text):
    assert format_price(value, places) == text


def test_format_price_when_computed_then_rounded_to_the_symbols_precision():
    assert format_price(Decimal("126543.21987"), 1, exact=False) == "126,543.2"


@pytest.mark.parametrize(
    ("prices", "places"),
    [(["95000.1", "95000.0", "94999.9"], 1), (["1800.00", "1810.27"], 2), (["145", "146"], 0), ([], None),
     (["x", "1.5"], 1)],
)
def test_price_places_when_candle_prices_given_then_the_most_decimals_any_needs(prices, places):
    assert price_places(prices) == places


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [(Decimal("1.234"), True, "+1.23 %"), (Decimal("-0.001"), True, "0.00 %"), (Decimal("0"), True, "0.00 %"),
     (Decimal("-2.5"), False, "-2.50 %"), (None, True, "—")],
)
def test_format_pct_when_signed_then_plus_on_gains_and_no_negative_zero(value, signed, text):
    assert format_pct(value, signed=signed) == text


# ------------------------------------------------------------------------------------- status strip


@pytest.mark.parametrize(
    ("state", "trading", "text", "colour"),
    [
        ({"running": "0", "heartbeat_ms": str(NOW)}, "ACTIVE", "last ACTIVE", "gray"),
        ({"running": "0", "heartbeat_ms": str(NOW)}, "REDUCING", "last REDUCING", "gray"),
        ({"running": "0", "heartbeat_ms": str(NOW)}, "HALTED", "HALTED", "red"),  # the durable flag is in force
        ({"running": "1", "heartbeat_ms": str(NOW)}, "ACTIVE", "ACTIVE", "green"),
        ({}, "ACTIVE", "last ACTIVE", "gray"),  # never beat: stopped
    ],
)
def test_status_view_when_bot_stopped_then_trading_state_is_named_as_the_last_one(state, trading, text, colour):
    view = status_view(state, trading, NOW, 10)
    assert (view.trading_state_text, view.trading_state_colour) == (text, colour)


# ------------------------------------------------------------------------------------------- tables


def test_tables_when_laid_out_then_every_key_column_fits_a_1280_px_screen_beside_the_sidebar():
    level = TradeState("BTC/USDT:USDT", Side.LONG, Decimal("1"), Decimal("1"), 0, Decimal("1"), Decimal("1"),
                       Decimal("1"), Decimal("1"))
    tables = {
        "positions": positions_table([Position("BTC/USDT:USDT", Side.LONG, Decimal("1"), Decimal("1"))],
                                     {"BTC/USDT:USDT": level}),
        "orders": orders_table([]),
        "trades": trades_table([_trade("a", "1")]),
        "signals": signals_table([{"kind": "signal", "signal_id": "s", "ts_ms": "1"},
                                  {"kind": "outcome", "signal_id": "s", "ret_5m": "1", "ret_15m": "1", "ret_60m": "1"}]),
        "audit": audit_table([]),
        "risk": key_value_table({"a": 1}, name="Measure"),
        "breakdown": breakdown_table([], [_trade("a", "1")], "strategy"),
    }
    for name, table in tables.items():
        assert 0 < table.key_width_px() <= KEY_WIDTH_PX, name
        config = table.column_config()
        first = table.frame.columns[0]
        assert config[first].get("pinned") is True, name


@pytest.mark.parametrize(
    ("by", "descending", "order"),
    [("P&L", True, ["c", "a", "b"]), ("P&L", False, ["b", "a", "c"]), ("Exit time", True, ["b", "c", "a"])],
)
def test_sort_trades_when_by_money_then_by_amount_not_by_text(by, descending, order):
    trades = [_trade("a", "9", exit_ms=1), _trade("b", "-3", exit_ms=3), _trade("c", "10", exit_ms=2)]
    assert [t.trade_id for t in sort_trades(trades, by, descending)] == order


def test_sort_trades_when_unknown_column_then_one_clear_error():
    with pytest.raises(ValueError, match="cannot sort trades by 'Colour'"):
        sort_trades([], "Colour")


def test_trades_csv_when_written_then_exact_decimals_and_utc_times():
    csv = trades_csv([_trade("a", "-3.123456789")])
    header, row = csv.strip().splitlines()
    fields = dict(zip(header.split(","), row.split(",")))
    assert fields["pnl"] == "-3.123456789"
    assert fields["entry_price"] == "95000"
    assert fields["exit_time_utc"] == "1970-01-01 00:33:20"
    assert fields["held_s"] == "1999"


# --------------------------------------------------------------------------------------- summaries


def test_paper_summary_when_value_known_then_pnl_from_starting_capital():
    cards = {c.label: c.value for c in paper_summary(Decimal("10000"), Decimal("10250.456"),
                                                     [_trade("a", "5"), _trade("b", "-2"), _trade("c", "1")])}
    assert cards == {"Starting capital": "10,000.00 USDT", "Current value": "10,250.46 USDT", "P&L (USDT)": "+250.46",
                     "P&L %": "+2.50 %", "Win rate": "66.7 %", "Trades completed": "3"}


def test_ghost_summary_when_trades_then_profitable_share_and_usdt_averages():
    cards = {c.label: c.value for c in ghost_summary("12", [_trade("a", "6"), _trade("b", "-2"), _trade("c", "2")])}
    assert cards == {"Total signals": "12", "Profitable if executed": "2 of 3 (66.7 %)", "Average win (USDT)": "+4.00",
                     "Average loss (USDT)": "-2.00", "Expectancy (USDT/trade)": "+2.00"}


def test_breakdown_when_signals_and_trades_then_per_strategy_accuracy_and_results():
    records = [
        {"kind": "signal", "signal_id": "s1", "strategy": "ema_trend", "symbol": "BTC/USDT:USDT"},
        {"kind": "signal", "signal_id": "s2", "strategy": "ema_trend", "symbol": "ETH/USDT:USDT"},
        {"kind": "outcome", "signal_id": "s1", "symbol": "BTC/USDT:USDT", "ret_60m": "0.5"},
        {"kind": "outcome", "signal_id": "s2", "symbol": "ETH/USDT:USDT", "ret_60m": "-0.5"},
    ]
    frame = breakdown_table(records, [_trade("a", "3"), _trade("b", "-1", strategy="mean_reversion")], "strategy").frame
    rows = {r["Strategy"]: r for r in frame.to_dict("records")}
    assert (rows["ema_trend"]["Signals"], rows["ema_trend"]["Accuracy"], rows["ema_trend"]["Trades"]) == ("2", "50.0 %", "1")
    assert rows["mean_reversion"]["Net P&L (USDT)"] == "-1.00"
    with pytest.raises(ValueError, match="strategy or symbol"):
        breakdown_table(records, [], "month")


# -------------------------------------------------------------------------------------- checklists


@pytest.mark.parametrize(("n", "passed"), [(4, False), (5, True)])
def test_paper_checklist_when_trades_at_the_boundary_then_the_count_check_follows(n, passed):
    trades = [_trade(str(i), "2" if i % 2 else "-1", exit_ms=NOW - HOUR + i) for i in range(n)]
    checks = paper_checklist(trades, {"started_at_ms": str(NOW - 2 * HOUR)}, BotStatus.RUNNING, NOW)
    assert checks[0].passed is passed and checks[0].detail == f"{n} completed"


def test_paper_checklist_when_liquidated_or_crashed_then_those_checks_fail_with_why():
    trades = [_trade("a", "5"), _trade("b", "-9", reason=ExitReason.LIQUIDATION)]
    state = {"started_at_ms": str(NOW - HOUR), "last_crash_ms": str(NOW - HOUR // 2)}
    checks = {c.label: c for c in paper_checklist(trades, state, BotStatus.RUNNING, NOW)}
    assert not checks["All closed cleanly"].passed and "liquidation" in checks["All closed cleanly"].detail
    assert not checks["Running without a crash"].passed and "crashed" in checks["Running without a crash"].detail
    assert not checks["Average win above average loss"].passed  # 5 against 9
    assert checks["Win rate at least 50 %"].passed  # one of two


def test_paper_checklist_when_bot_stopped_then_uptime_fails():
    checks = {c.label: c for c in paper_checklist([], {}, BotStatus.STOPPED, NOW)}
    assert not checks["Running without a crash"].passed and checks["Running without a crash"].detail == "the bot is stopped"


@pytest.mark.parametrize(("count", "passed"), [(99, False), (100, True)])
def test_ghost_checklist_when_signals_in_24h_at_the_boundary_then_counted_on_market_time(count, passed):
    newest = NOW
    records = [{"kind": "signal", "ts_ms": str(newest - i * 60_000)} for i in range(count)]
    records.append({"kind": "signal", "ts_ms": str(newest - 24 * HOUR)})  # exactly 24 h before: outside
    assert ghost_checklist(records, [], [])[0].passed is passed


@pytest.mark.parametrize(("correct", "passed"), [(55, False), (56, True)])
def test_ghost_checklist_when_accuracy_at_55_percent_then_only_above_passes(correct, passed):
    accuracy = [HorizonAccuracy("5m", 100, 90), HorizonAccuracy("60m", 100, correct)]  # the longest decides
    check = ghost_checklist([], accuracy, [])[1]
    assert check.passed is passed and "at 60m" in check.detail


# ------------------------------------------------------------------------------------- decision log


def _events():
    """In the order the store logged them (its read order, oldest first), whatever each writer stamped."""
    return [
        AuditEvent("skip", 1_000, "max_positions on ETH", {"symbol": "ETH/USDT:USDT"}),
        AuditEvent("order", 2_000, "entry ETH short", {"symbol": "ETH/USDT:USDT"}),
        AuditEvent("command", 9_000_000, "halt by dashboard"),  # wall clock, ahead of the market's
        AuditEvent("order", 3_000, "entry BTC long", {"symbol": "BTC/USDT:USDT"}),
    ]


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        (LogQuery(), ["entry BTC long", "halt by dashboard", "entry ETH short", "max_positions on ETH"]),
        (LogQuery(newest_first=False), ["max_positions on ETH", "entry ETH short", "halt by dashboard", "entry BTC long"]),
        (LogQuery(kinds=("order",)), ["entry BTC long", "entry ETH short"]),
        (LogQuery(symbol="ETH/USDT:USDT"), ["entry ETH short", "max_positions on ETH"]),
        (LogQuery(text="ENTRY", symbol=ALL), ["entry BTC long", "entry ETH short"]),
        (LogQuery(text="nothing like it"), []),
    ],
)
def test_decision_log_when_filtered_then_matching_entries_in_time_order(query, messages):
    shown, matched, pages = select(_events(), query, 1)
    assert [e.message for e in shown] == messages and matched == len(messages) and pages == 1


@pytest.mark.parametrize(("page", "shown", "expected_page_first"), [(0, 2, 4), (1, 2, 4), (2, 2, 2), (3, 1, 0), (9, 1, 0)])
def test_decision_log_when_paged_then_pages_clamped_and_none_lost(page, shown, expected_page_first):
    events = [AuditEvent("order", ts, f"e{ts}") for ts in range(5)]
    rows, matched, pages = select(events, LogQuery(), page, per_page=2)
    assert (len(rows), matched, pages) == (shown, 5, 3)
    assert rows[0].message == f"e{expected_page_first}"


def test_decision_log_when_page_size_not_positive_then_one_clear_error():
    with pytest.raises(ValueError, match="per_page must be positive"):
        select([], LogQuery(), 1, per_page=0)


# ------------------------------------------------------------------------------------------- charts


def test_candles_figure_when_position_open_then_stop_and_take_profit_lines_and_a_marker():
    candles = [Candle("BTC/USDT:USDT", "1m", i * 60_000, Decimal("100"), Decimal("101"), Decimal("99"),
                      Decimal("100.5"), Decimal("3")) for i in range(1, 30)]
    level = TradeState("BTC/USDT:USDT", Side.LONG, Decimal("1"), Decimal("100"), 10 * 60_000, Decimal("98.5"),
                       Decimal("104"), Decimal("98.5"), Decimal("101"))
    fig = charts.candles_figure("BTC/USDT:USDT", candles, [], level)
    lines = sorted(shape.y0 for shape in fig.layout.shapes)
    assert lines == [98.5, 104.0]
    assert [d.name for d in fig.data] == ["BTC/USDT:USDT", "Volume", "Open position"]
    assert fig.layout.uirevision == "candles:BTC/USDT:USDT"  # the user's zoom survives new data


def test_figures_when_rebuilt_with_new_data_then_their_uirevision_stays():
    accuracy = signal_accuracy([{"kind": "outcome", "signal_id": "s", "ret_5m": "1"}])
    assert charts.accuracy_figure(accuracy, "ghost_accuracy").layout.uirevision == "ghost_accuracy"


@pytest.mark.parametrize("n", [1, 10, 1200, 1201, 5000, 100_000])
def test_thin_when_a_long_curve_then_at_most_max_points_and_every_extreme_kept(n):
    import numpy as np

    values = np.sin(np.arange(n) / 37.0) * np.arange(n)
    keep = charts.thin(values)
    assert len(keep) <= charts.MAX_POINTS
    assert keep[0] == 0 and keep[-1] == n - 1 and list(keep) == sorted(set(keep))
    assert values[keep].min() == values.min() and values[keep].max() == values.max()


@pytest.mark.parametrize("build, heights, spacing", [
    (lambda: charts.candles_figure("BTC/USDT:USDT", [Candle("BTC/USDT:USDT", "1m", 60_000, Decimal("1"), Decimal("2"),
                                                            Decimal("0.5"), Decimal("1.5"), Decimal("3"))]),
     [0.78, 0.22], 0.03),
])
def test_two_panel_figures_when_laid_out_by_hand_then_the_axes_of_make_subplots(build, heights, spacing):
    from plotly.subplots import make_subplots

    grid = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=heights, vertical_spacing=spacing).layout
    fig = build()

    for axis in ("xaxis", "xaxis2", "yaxis", "yaxis2"):
        mine, theirs = fig.layout[axis], grid[axis]
        assert (mine.anchor, mine.matches, mine.showticklabels) == (theirs.anchor, theirs.matches, theirs.showticklabels)
        assert mine.domain == pytest.approx(theirs.domain, abs=1e-4), axis
    assert [(t.xaxis, t.yaxis) for t in fig.data] == [("x", "y"), ("x2", "y2")]  # the line or candles, then below
