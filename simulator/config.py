"""The simulator's knobs, as plain values: the simulator does not import settings (pydantic, YAML), so a
backtest or a test can build one directly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models import MarginMode


@dataclass(frozen=True, slots=True)
class SimConfig:
    starting_balance: Decimal = Decimal("10000")
    leverage: int = 3
    margin_mode: MarginMode = MarginMode.ISOLATED
    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0005")
    slippage_model: str = "fixed_bps"  # fixed_bps | volume
    slippage_bps: Decimal = Decimal("2")
    volume_impact_bps: Decimal = Decimal("100")
    max_participation: Decimal = Decimal("0.1")
    funding_rate: Decimal = Decimal("0.0001")
    funding_interval_hours: int = 8
    recent_orders_kept: int = 2000  # closed orders remembered for idempotent client order ids

    @classmethod
    def from_settings(cls, venue: Any) -> "SimConfig":
        """From `settings.VenueSettings` (duck-typed, so this module needs no settings import)."""
        return cls(
            starting_balance=Decimal(venue.starting_balance),
            leverage=int(venue.leverage),
            margin_mode=MarginMode(venue.margin_mode),
            maker_fee_rate=Decimal(venue.maker_fee_rate),
            taker_fee_rate=Decimal(venue.taker_fee_rate),
            slippage_model=str(venue.slippage.model),
            slippage_bps=Decimal(venue.slippage.fixed_bps),
            volume_impact_bps=Decimal(venue.slippage.volume_impact_bps),
            max_participation=Decimal(venue.max_participation),
            funding_rate=Decimal(venue.funding_rate),
            funding_interval_hours=int(venue.funding_interval_hours),
        )
