from decimal import Decimal

import pytest

from models import (
    AuditEvent, Candle, ExitReason, Mode, Order, OrderSide, OrderStatus, OrderType, Position, Side, Trade,
    TradeState,
)
from ui import charts
from ui.summaries import (
    accuracy_frame,
    horizons,
    metric_cards,
    pnl_by_exit_reason,
    pnl_since,
    signal_accuracy,
    signals_table,
    trades_in_mode,
)
from ui.tables import audit_frame, key_value_frame, orders_frame, positions_frame, positions_table, trades_frame


def _trade(trade_id, pnl, reason=ExitReason.TAKE_PROFIT, mode=Mode.PAPER, exit_ms=2_000, symbol="BTC/USDT:USDT"):
    return Trade(trade_id, symbol, Side.LONG, Decimal("0.01"), Decimal("95000"), Decimal("95500.5"), 1_000, exit_ms,
                 Decimal(pnl) + Decimal("0.5"), Decimal("0.5"), Decimal(pnl), reason, mode, strategy="ema_trend")


def test_positions_table_when_position_open_then_money_prices_and_levels_formatted():
    p = Position("BTC/USDT:USDT", Side.SHORT, Decimal("0.012"), Decimal("95000.10"), leverage=3,
                 mark_price=Decimal("94000"), unrealized_pnl=Decimal("13.2012"), isolated_margin=Decimal("380"),
                 liquidation_price=Decimal("126543.21987"))
    level = TradeState("BTC/USDT:USDT", Side.SHORT, Decimal("0.012"), Decimal("95000.1"), 0, Decimal("96900"),
                       Decimal("92150.3"), Decimal("96900"), Decimal("94000"))
    row = positions_table([p], {"BTC/USDT:USDT": level}, {"BTC/USDT:USDT": 1}).frame.iloc[0]
    assert row["Symbol"] == "BTC/USDT:USDT"
    assert row["Side"] == "short"
    assert row["Qty"] == "0.012"
    assert row["Entry"] == "95,000.1"
    assert row["Price"] == "94,000.0"
    assert row["Notional"] == "1,128.00"
    assert row["P&L (USDT)"] == "+13.20"
    assert row["P&L %"] == "+1.16 %"
    assert (row["Stop"], row["Take-profit"]) == ("96,900.0", "92,150.3")
    assert row["Liq. price"] == "126,543.2"  # at the symbol's precision, not the model's 5 decimals
    assert row["Leverage"] == "3x"
    assert all(isinstance(v, str) for v in row.values)


def test_positions_table_when_none_then_empty_with_columns():
    frame = positions_frame([])
    assert frame.empty and "P&L (USDT)" in frame.columns


def test_orders_frame_when_limit_order_then_price_and_flags_shown():
    o = Order("cid-1", "ETH/USDT:USDT", OrderSide.BUY, OrderType.LIMIT, Decimal("1.5"), OrderStatus.NEW,
              price=Decimal("1800.00"), reduce_only=True)
    row = orders_frame([o]).iloc[0]
    assert (row["Price"], row["Stop"], row["Reduce-only"], row["Client id"]) == ("1,800", "—", "yes", "cid-1")


def test_trades_frame_when_several_then_newest_first_with_signed_pnl():
    frame = trades_frame([_trade("a", "-3.25", exit_ms=1_000_000), _trade("b", "4.1", exit_ms=2_000_000)])
    assert list(frame["P&L (USDT)"]) == ["+4.10", "-3.25"]
    assert frame.iloc[0]["Exit reason"] == "take_profit"
    assert frame.iloc[0]["Exit"] == "95,500.5"
    assert frame.iloc[0]["Entry time (UTC)"] == "1970-01-01 00:00:01"
    assert frame.iloc[0]["Held"] == "33 min"


def test_audit_frame_when_events_then_newest_first():
    frame = audit_frame([AuditEvent("order", 1_000, "first", {"symbol": "BTC/USDT:USDT"}),
                         AuditEvent("exit", 5_000, "second")])
    assert list(frame["Message"]) == ["second", "first"]
    assert list(frame["Symbol"]) == ["—", "BTC/USDT:USDT"]
    assert list(frame.columns) == ["Logged (UTC, wall clock)", "Kind", "Symbol", "Message"]


def test_key_value_frame_when_risk_report_then_readable_names_and_values():
    frame = key_value_frame({"margin_use_pct": "12.5000", "recommendation": "ACTIVE", "reason": ""}, name="Measure")
    rows = dict(zip(frame["Measure"], frame["Value"]))
    assert rows == {"Margin use (%)": "12.50 %", "Recommendation": "ACTIVE", "Reason": "—"}


def test_pnl_by_exit_reason_when_trades_then_net_sums_largest_first():
    trades = [_trade("a", "5", ExitReason.TAKE_PROFIT), _trade("b", "-8", ExitReason.STOP_LOSS),
              _trade("c", "1.5", ExitReason.TAKE_PROFIT)]
    assert pnl_by_exit_reason(trades) == {"stop_loss": Decimal("-8"), "take_profit": Decimal("6.5")}


def test_pnl_since_when_trades_before_and_after_then_only_later_counted():
    trades = [_trade("a", "5", exit_ms=999), _trade("b", "-2", exit_ms=1_000), _trade("c", "3", exit_ms=1_001)]
    assert pnl_since(trades, 1_000) == Decimal("1")


def test_trades_in_mode_when_mixed_then_only_that_mode():
    trades = [_trade("a", "1", mode=Mode.PAPER), _trade("b", "1", mode=Mode.GHOST)]
    assert [t.trade_id for t in trades_in_mode(trades, Mode.GHOST)] == ["b"]


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (None, []),
        ({}, []),
        ({"trades": 12, "win_rate": 0.5833, "profit_factor": 1.734, "sharpe": "1.2"},
         [("Trades", "12"), ("Win rate", "58.3 %"), ("Profit factor", "1.73"), ("Sharpe", "1.20")]),
        ({"win_rate_pct": "58.33", "max_drawdown_pct": 4.2, "expectancy": "1.5"},
         [("Win rate", "58.3 %"), ("Expectancy", "+1.50"), ("Max drawdown", "4.2 %")]),
        ({"profit_factor": "Infinity"}, [("Profit factor", "∞")]),
        ({"unknown_metric": 3}, []),
    ],
)
def test_metric_cards_when_metrics_given_then_known_ones_in_fixed_order(metrics, expected):
    assert [(c.label, c.value) for c in metric_cards(metrics)] == expected


SIGNALS = [
    {"kind": "signal", "signal_id": "s1", "symbol": "BTC/USDT:USDT", "side": "long", "strength": "0.800",
     "strategy": "ema_trend", "reason": "cross up", "price": "95000", "ts_ms": "1000", "taken": "1", "why_not": ""},
    {"kind": "signal", "signal_id": "s2", "symbol": "ETH/USDT:USDT", "side": "short", "strength": "0.400",
     "strategy": "mean_reversion", "reason": "rsi 80", "price": "1800", "ts_ms": "2000", "taken": "0",
     "why_not": "max_positions: 5 open"},
    {"kind": "outcome", "signal_id": "s1", "symbol": "BTC/USDT:USDT", "side": "long", "ts_ms": "1000",
     "ret_5m": "0.2500", "correct_5m": "1", "ret_15m": "-0.1000", "correct_15m": "0"},
    {"kind": "outcome", "signal_id": "s2", "symbol": "ETH/USDT:USDT", "side": "short", "ts_ms": "2000",
     "ret_5m": "0.1000", "correct_5m": "1", "ret_15m": "0.3000"},  # no flag at 15m: sign of the return decides
]


def test_horizons_when_outcomes_then_shortest_first():
    assert horizons(SIGNALS) == ["5m", "15m"]


def test_signal_accuracy_when_outcomes_then_correct_share_per_horizon():
    rows = signal_accuracy(SIGNALS)
    assert [(r.horizon, r.scored, r.correct) for r in rows] == [("5m", 2, 2), ("15m", 2, 1)]
    assert rows[1].accuracy == 0.5
    assert list(accuracy_frame(rows)["Accuracy"]) == ["100.0 %", "50.0 %"]


def test_signals_table_when_outcome_arrived_then_returns_and_usdt_made_joined_newest_first():
    frame = signals_table(SIGNALS, notional=Decimal("1000")).frame
    assert list(frame["Symbol"]) == ["ETH/USDT:USDT", "BTC/USDT:USDT"]
    assert frame.iloc[1]["5m return"] == "+0.25 %"
    assert frame.iloc[1]["15m return"] == "-0.10 %"
    assert frame.iloc[1]["Made (USDT)"] == "-1.00"  # 1000 USDT × -0.1 % at the longest horizon
    assert frame.iloc[0]["Made (USDT)"] == "+3.00"
    assert frame.iloc[0]["Taken"] == "no: max_positions: 5 open"
    assert frame.iloc[1]["Taken"] == "yes"
    assert list(frame.columns)[:6] == ["Symbol", "Side", "Taken", "5m return", "15m return", "Made (USDT)"]


def test_signals_table_when_no_outcome_yet_then_no_return_columns_and_nothing_made():
    frame = signals_table(SIGNALS[:1], notional=Decimal("1000")).frame
    assert "5m return" not in frame.columns and len(frame) == 1
    assert frame.iloc[0]["Made (USDT)"] == "—"


def test_charts_when_records_given_then_figures_have_their_traces():
    candles = [Candle("BTC/USDT:USDT", "1m", i * 60_000, Decimal("100"), Decimal("101"), Decimal("99"),
                      Decimal("100.5"), Decimal("3")) for i in range(1, 30)]
    trade = _trade("a", "2", exit_ms=20 * 60_000)
    trade = Trade("a", "BTC/USDT:USDT", Side.LONG, Decimal("0.01"), Decimal("100"), Decimal("101"), 5 * 60_000,
                  20 * 60_000, Decimal("1"), Decimal("0"), Decimal("1"), ExitReason.TAKE_PROFIT, Mode.PAPER)
    # candles, volume, entries, exits
    assert [d.type for d in charts.candles_figure("BTC/USDT:USDT", candles, [trade]).data] == [
        "candlestick", "bar", "scatter", "scatter"]
    assert len(charts.candles_figure("BTC/USDT:USDT", candles, []).data) == 2
    # equity, wallet, drawdown
    equity = charts.equity_figure([{"ts_ms": "1000", "equity": "10000", "wallet": "10000"}])
    assert [[line.label for line in panel.lines] for panel in equity.panels] == [["Equity", "Wallet"], ["Drawdown"]]
    assert charts.pnl_by_reason_figure({"stop_loss": Decimal("-8")}).data[0].y == (-8.0,)
    assert len(charts.accuracy_figure(signal_accuracy(SIGNALS)).data[0].x) == 2


@pytest.mark.parametrize(
    ("key", "value", "label", "shown"),
    [
        ("ts_ms", "1700000000000", "Updated", "2023-11-14 22:13:20 UTC"),
        ("stopped_at_ms", "1700000000000", "Stopped", "2023-11-14 22:13:20 UTC"),
        ("loop_ms", "12.5", "Loop (ms)", "12.5"),
        ("daily_pnl", "-16.3279118", "Daily P&L", "-16.33"),
        ("equity", "9863.99519200", "Equity", "9,864.00"),
        ("weekly_loss_pct", "0.12", "Weekly loss (%)", "0.12 %"),
        ("leverage", "3", "Leverage", "3"),
    ],
)
def test_key_value_frame_when_times_and_pnl_then_readable(key, value, label, shown):
    frame = key_value_frame({key: value})
    assert (frame.iloc[0]["Item"], frame.iloc[0]["Value"]) == (label, shown)


def test_metric_cards_when_analytics_metrics_given_then_shown_without_floats_leaking():
    from analytics.metrics import compute_metrics, to_jsonable

    trades = [_trade("a", "5", exit_ms=10_000), _trade("b", "-2.5", exit_ms=20_000), _trade("c", "1", exit_ms=30_000)]
    metrics = to_jsonable(compute_metrics(trades, [], starting_equity=Decimal("10000")))
    cards = {c.label: c.value for c in metric_cards(metrics)}
    assert cards["Trades"] == "3"
    assert cards["Win rate"] == "66.7 %"
    assert cards["Profit factor"] == "2.40"
    assert cards["Net P&L"] == "+3.50"
    assert cards["Expectancy"] == "+1.17"
    assert "Max drawdown" in cards and "Return" in cards
