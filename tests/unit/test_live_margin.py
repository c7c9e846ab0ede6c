"""Rule 3: margin utilisation and liquidation danger — the alert at 80 %, the reduce-only close at 90 %."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from models import Account, ExitReason, Position, Side
from risk.margin import liquidation_danger, liquidation_price, liquidation_risk_pct, margin_utilisation_pct

from test_loss_halts import BTC, EVENING, MINUTE, candle, paper_engine

D = Decimal


def long_at(mark: str, liq: str | None = "90", entry: str = "100") -> Position:
    return Position(BTC, Side.LONG, D("0.4"), D(entry), leverage=1, mark_price=D(mark),
                    liquidation_price=None if liq is None else D(liq))


@pytest.mark.parametrize(
    ("mark", "alerts", "closes"),
    # entry 100, liquidation 90: the mark at 92.001 / 92 has travelled 79.99 / 80 %, at 91.001 / 91 89.99 / 90 %
    [("92.001", [], []), ("92", [BTC], []), ("91.001", [BTC], []), ("91", [], [BTC]), ("89", [], [BTC])],
)
def test_liquidation_danger_when_the_mark_travels_around_80_and_90_pct_to_liquidation_then_alert_then_close(mark, alerts, closes):
    danger = liquidation_danger([long_at(mark)], D("80"), D("90"))

    assert [s for s, _ in danger.alerts] == alerts and [s for s, _ in danger.closes] == closes


@pytest.mark.parametrize(("mark", "risk"), [("100", "0"), ("105", "0"), ("95", "50"), ("90", "100")])
def test_liquidation_risk_pct_when_the_mark_moves_then_the_share_of_the_way_to_liquidation(mark, risk):
    assert liquidation_risk_pct(long_at(mark)) == D(risk)


def test_liquidation_risk_pct_when_a_short_rises_towards_its_liquidation_then_counted_upwards():
    short = Position(BTC, Side.SHORT, D("1"), D("100"), leverage=1, mark_price=D("108"), liquidation_price=D("110"))

    assert liquidation_risk_pct(short) == D("80")


def test_liquidation_price_when_the_venue_gave_none_then_estimated_from_leverage():
    assert liquidation_price(long_at("100", liq=None)) == D("0.500")  # 1x: 100 × (1 − 1 + 0.005)


@pytest.mark.parametrize(("margin", "pct"), [("499.9", "49.99"), ("500", "50"), ("500.1", "50.01")])
def test_margin_utilisation_pct_when_margin_around_half_the_equity_then_that_share(margin, pct):
    account = Account(D("900"), D("100"), D(margin), D("0"))

    assert margin_utilisation_pct(account) == D(pct)


def test_publish_when_a_position_reaches_90_pct_liquidation_risk_then_alerted_and_closed_reduce_only(store):
    engine = paper_engine(store, TB_VENUE__LEVERAGE="5")
    engine.limits = dataclasses.replace(engine.limits, usdt=dataclasses.replace(
        engine.limits.usdt, liquidation_alert_pct=D("80"), liquidation_close_pct=D("90")))
    engine.process([candle(EVENING + i * MINUTE, "60000") for i in range(3)])
    assert engine.try_entry(engine.manual_signal(BTC, Side.LONG, D("1000")), engine.windows[BTC].candles()) is None
    [position] = engine.executor.portfolio().positions
    liq = liquidation_price(position)
    at_85 = position.entry_price - (position.entry_price - liq) * D("0.85")

    engine.process([candle(EVENING + 3 * MINUTE, f"{at_85:.1f}")])
    engine.publish()
    assert [e.message for e in store.read_audit(200) if e.kind == "alert"][-1].startswith(f"ALERT: {BTC} liquidation risk 8")
    assert engine.executor.portfolio().positions

    at_91 = position.entry_price - (position.entry_price - liq) * D("0.91")
    engine.process([candle(EVENING + 4 * MINUTE, f"{at_91:.1f}")])
    engine.publish()

    assert engine.executor.portfolio().positions == ()
    [trade] = store.read_trades()
    assert trade.exit_reason is ExitReason.EMERGENCY
    alerts = [e.data["alert"] for e in store.read_audit(200) if e.kind == "alert"]
    assert alerts == ["liquidation_risk", "liquidation_close"]  # what alerts/events.py sends
