"""The risk-level table and how explicit settings override it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from errors import ConfigError
from risk.levels import RISK_LEVELS, resolve_risk
from settings import SizingSettings, StopSettings, StrategySettings

D = Decimal


@pytest.mark.parametrize(
    ("level", "position", "risk", "confidence", "max_stop"),
    [
        (1, D("2"), D("0.25"), 0.8, D("1.5")),
        (5, D("10"), D("1"), 0.5, D("3")),
        (10, D("25"), D("3"), 0.0, D("5")),
    ],
)
def test_resolve_risk_when_only_level_set_then_table_row(level, position, risk, confidence, max_stop):
    r = resolve_risk(SizingSettings(risk_level=level), StrategySettings(), StopSettings())

    assert (r.position_pct, r.risk_pct, r.min_confidence, r.max_stop_pct, r.level) == (position, risk, confidence, max_stop, level)


def test_risk_levels_when_level_rises_then_every_dial_is_at_least_as_aggressive():
    rows = [RISK_LEVELS[n] for n in range(1, 11)]

    for lower, higher in zip(rows, rows[1:]):
        assert higher.position_pct > lower.position_pct
        assert higher.risk_pct > lower.risk_pct
        assert higher.min_confidence < lower.min_confidence
        assert higher.max_stop_pct > lower.max_stop_pct


def test_resolve_risk_when_settings_explicit_then_they_override_the_level():
    r = resolve_risk(
        SizingSettings(risk_level=1, fixed_percent=D("7"), risk_percent=D("0.5"), method="tiered", max_buys_per_24h=2),
        StrategySettings(min_confidence=0.0),
        StopSettings(max_stop_pct=D("4")),
    )

    assert (r.position_pct, r.risk_pct, r.min_confidence, r.max_stop_pct) == (D("7"), D("0.5"), 0.0, D("4"))
    assert (r.method, r.max_buys_per_24h, r.tiers) == ("tiered", 2, (D("10"), D("7"), D("5")))


def test_resolve_risk_when_level_null_then_level_5_fills_the_gaps():
    r = resolve_risk(SizingSettings(risk_level=None), StrategySettings(), StopSettings())

    assert (r.level, r.position_pct) == (5, D("10"))


def test_resolve_risk_when_min_stop_not_below_level_max_stop_then_config_error():
    with pytest.raises(ConfigError, match=r"stops.min_stop_pct = 1.5 must be below the maximum stop distance 1.5%"):
        resolve_risk(SizingSettings(risk_level=1), StrategySettings(), StopSettings(min_stop_pct=D("1.5")))
