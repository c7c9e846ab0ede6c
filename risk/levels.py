"""The risk level: one number, 1 (cautious) to 10 (aggressive), that sets four dials at once.

| level | position % of equity | risk % per trade | min confidence | max stop % |
|------:|---------------------:|-----------------:|---------------:|-----------:|
|     1 |                    2 |             0.25 |          0.800 |        1.5 |
|     2 |                    4 |             0.40 |          0.725 |        1.8 |
|     3 |                    6 |             0.60 |          0.650 |        2.2 |
|     4 |                    8 |             0.80 |          0.575 |        2.6 |
|     5 |                   10 |             1.00 |          0.500 |        3.0 |
|     6 |                   13 |             1.40 |          0.400 |        3.4 |
|     7 |                   16 |             1.80 |          0.300 |        3.8 |
|     8 |                   19 |             2.20 |          0.200 |        4.2 |
|     9 |                   22 |             2.60 |          0.100 |        4.6 |
|    10 |                   25 |             3.00 |          0.000 |        5.0 |

- position %: the notional of one position for `sizing.method: fixed_percent`;
- risk %: the equity lost if the stop is hit, for `sizing.method: fixed_risk`;
- min confidence: signals weaker than this are not traded (0 = every signal);
- max stop %: a structure stop further from entry than this means no trade.

Every column rises (or, for confidence, falls) monotonically, so a higher level is never safer in any
dial. An explicit setting (`sizing.fixed_percent`, `sizing.risk_percent`, `strategy.min_confidence`,
`stops.max_stop_pct`) overrides its column; `sizing.risk_level: null` means level 5 for anything not
set explicitly. In live mode the hard limits (risk/limits.py) still cap the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from errors import ConfigError
from settings import SizingSettings, StopSettings, StrategySettings, StrengthScaling

DEFAULT_RISK_LEVEL = 5


@dataclass(frozen=True, slots=True)
class RiskLevel:
    position_pct: Decimal
    risk_pct: Decimal
    min_confidence: float
    max_stop_pct: Decimal


def _level(position: str, risk: str, confidence: float, stop: str) -> RiskLevel:
    return RiskLevel(Decimal(position), Decimal(risk), confidence, Decimal(stop))


RISK_LEVELS: dict[int, RiskLevel] = {
    1: _level("2", "0.25", 0.800, "1.5"),
    2: _level("4", "0.40", 0.725, "1.8"),
    3: _level("6", "0.60", 0.650, "2.2"),
    4: _level("8", "0.80", 0.575, "2.6"),
    5: _level("10", "1.00", 0.500, "3.0"),
    6: _level("13", "1.40", 0.400, "3.4"),
    7: _level("16", "1.80", 0.300, "3.8"),
    8: _level("19", "2.20", 0.200, "4.2"),
    9: _level("22", "2.60", 0.100, "4.6"),
    10: _level("25", "3.00", 0.000, "5.0"),
}


@dataclass(frozen=True, slots=True)
class ResolvedRisk:
    """The dials sizing, stops and signal filtering actually use, after explicit overrides."""

    position_pct: Decimal
    risk_pct: Decimal
    min_confidence: float
    max_stop_pct: Decimal
    tiers: tuple[Decimal, ...]
    max_buys_per_24h: int
    method: str
    strength_scaling: StrengthScaling | None
    level: int = DEFAULT_RISK_LEVEL
    fixed_notional: Decimal | None = None  # USDT per entry, for method fixed_notional
    entry_sides: str = "both"  # the sides a signal may open: both, long or short


def risk_level(level: int | None) -> RiskLevel:
    """The table row for `level` (None → the default level)."""
    level = DEFAULT_RISK_LEVEL if level is None else level
    if level not in RISK_LEVELS:
        raise ValueError(f"risk level must be 1..10, got {level}")
    return RISK_LEVELS[level]


def resolve_risk(sizing: SizingSettings, strategy: StrategySettings, stops: StopSettings) -> ResolvedRisk:
    """The risk level's row with every explicitly set (non-None) setting taking precedence."""
    level_number = DEFAULT_RISK_LEVEL if sizing.risk_level is None else sizing.risk_level
    row = risk_level(level_number)
    max_stop_pct = row.max_stop_pct if stops.max_stop_pct is None else stops.max_stop_pct
    if stops.min_stop_pct >= max_stop_pct:
        # Every stop would be widened past the maximum: no trade could ever pass. Say so at start-up.
        raise ConfigError(
            f"stops.min_stop_pct = {stops.min_stop_pct} must be below the maximum stop distance "
            f"{max_stop_pct}% (from risk level {level_number}; set stops.max_stop_pct to override)"
        )
    return ResolvedRisk(
        position_pct=row.position_pct if sizing.fixed_percent is None else sizing.fixed_percent,
        risk_pct=row.risk_pct if sizing.risk_percent is None else sizing.risk_percent,
        min_confidence=row.min_confidence if strategy.min_confidence is None else strategy.min_confidence,
        max_stop_pct=max_stop_pct,
        tiers=tuple(sizing.tiers_percent),
        max_buys_per_24h=sizing.max_buys_per_24h,
        method=sizing.method,
        strength_scaling=sizing.strength_scaling,
        level=level_number,
        fixed_notional=sizing.fixed_notional,
        entry_sides=strategy.entry_sides,
    )
