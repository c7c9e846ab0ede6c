"""Hard limits for live trading, and the limits actually in force for a mode.

The constants below are compiled into the bot on purpose: no config file, environment variable or
dashboard click can loosen them in live mode. Config can only tighten (in live, every effective value
is the stricter of config and hard limit); ghost and paper use the config as written, so strategies can
be explored at sizes that would never be allowed with real money. The USDT limits of live trading (50 USDT
a position, 5 a trade, 25 a day, 100 a week…) are in risk/live_limits.py; they apply on top of these.

| constant                          | value | why |
|-----------------------------------|------:|-----|
| HARD_MAX_LEVERAGE                 |     1 | rule 1 of live trading (risk/live_limits.py) |
| HARD_MAX_POSITION_PCT             |    10 | one position's notional, % of equity |
| HARD_MAX_TOTAL_EXPOSURE_PCT       |    50 | all positions' notional, % of equity |
| HARD_MAX_MARGIN_USE_PCT           |    50 | margin in use, % of equity: half stays free for adverse moves |
| HARD_DAILY_LOSS_LIMIT_PCT         |     3 | loss since the UTC day started, % of that day's starting equity |
| HARD_WEEKLY_LOSS_LIMIT_PCT        |     6 | the same over the UTC week (from Monday 00:00) |
| HARD_MAX_OPEN_POSITIONS           |     2 | positions open at once (rule 4) |
| HARD_MAX_ORDER_NOTIONAL_USDT      |  1000 | one order's notional: a fat-finger cap (live: 50, rule 1) |
| HARD_MIN_LIQUIDATION_DISTANCE_PCT |    10 | estimated distance from entry to liquidation |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models import Mode
from settings import RiskSettings

from .live_limits import LIVE_MAX_LEVERAGE, LIVE_MAX_POSITIONS, LiveLimits

HARD_MAX_LEVERAGE = LIVE_MAX_LEVERAGE
HARD_MAX_POSITION_PCT = Decimal("10")
HARD_MAX_TOTAL_EXPOSURE_PCT = Decimal("50")
HARD_MAX_MARGIN_USE_PCT = Decimal("50")
HARD_DAILY_LOSS_LIMIT_PCT = Decimal("3")
HARD_WEEKLY_LOSS_LIMIT_PCT = Decimal("6")
HARD_MAX_OPEN_POSITIONS = LIVE_MAX_POSITIONS
HARD_MAX_ORDER_NOTIONAL_USDT = Decimal("1000")
HARD_MIN_LIQUIDATION_DISTANCE_PCT = Decimal("10")

# Maintenance margin assumed when liquidation distance is estimated from leverage alone (Binance's
# lowest USDⓈ-M bracket is 0.4 %; 0.5 % keeps the estimate on the safe side).
MAINTENANCE_MARGIN_PCT = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits the pre-trade gate and the risk monitor enforce. Percentages: 1 = 1 %."""

    max_open_positions: int
    max_position_pct: Decimal
    max_total_exposure_pct: Decimal
    max_margin_use_pct: Decimal
    daily_loss_limit_pct: Decimal
    weekly_loss_limit_pct: Decimal
    min_liquidation_distance_pct: Decimal
    max_leverage: int
    max_order_notional: Decimal | None  # None: no per-order cap (ghost / paper)
    leverage: int  # the leverage to trade at: the configured one, capped at max_leverage
    usdt: LiveLimits = field(default_factory=LiveLimits)  # the USDT limits (live: hard or tighter)
    max_price_age_s: float | None = None  # live: a mark older than this is no price (None: stale_after_s)


def estimated_liquidation_distance_pct(leverage: int) -> Decimal:
    """How far price can move against an isolated position before liquidation, roughly: 1/leverage
    of the entry price, less the maintenance margin."""
    return Decimal(100) / Decimal(max(leverage, 1)) - MAINTENANCE_MARGIN_PCT


def _usdt_fields(section: Any) -> dict[str, Any]:
    """The USDT limits that `risk:` and `live:` both carry, under the same names."""
    return dict(
        max_position_usdt=section.max_position_usdt,
        max_loss_per_trade_usdt=section.max_loss_per_trade_usdt,
        max_daily_loss_usdt=section.max_daily_loss_usdt,
        max_weekly_loss_usdt=section.max_weekly_loss_usdt,
        min_entry_spacing_s=section.min_entry_spacing_seconds,
        blackout_hours_utc=frozenset(section.blackout_hours_utc),
        max_orders_per_minute=section.max_orders_per_minute,
        price_band_pct=section.price_band_pct,
        max_trades_per_day=section.max_trades_per_day,
        min_balance_usdt=section.min_balance_usdt,
    )


def _paper_usdt(risk: RiskSettings) -> LiveLimits:
    return LiveLimits(**_usdt_fields(risk))


def live_usdt(live: Any) -> LiveLimits:
    """The `live:` section (settings.LiveSettings, already checked to be no looser than the constants)."""
    return LiveLimits(
        **_usdt_fields(live),
        symbols=frozenset(live.symbols),
        liquidation_alert_pct=live.liquidation_alert_pct,
        liquidation_close_pct=live.liquidation_close_pct,
    )


def effective_limits(risk: RiskSettings, leverage: int, mode: Mode, live: Any = None) -> RiskLimits:
    """The limits in force: the config as written in ghost/paper; in live, never looser than the hard limits.

    `live` is the `live:` section (settings.LiveSettings); without it live takes its defaults, which are
    the hard limits themselves."""
    if mode is not Mode.LIVE:
        return RiskLimits(
            max_open_positions=risk.max_open_positions,
            max_position_pct=risk.max_position_pct,
            max_total_exposure_pct=risk.max_total_exposure_pct,
            max_margin_use_pct=risk.max_margin_use_pct,
            daily_loss_limit_pct=risk.daily_loss_limit_pct,
            weekly_loss_limit_pct=risk.weekly_loss_limit_pct,
            min_liquidation_distance_pct=risk.min_liquidation_distance_pct,
            max_leverage=leverage,
            max_order_notional=None,
            leverage=leverage,
            usdt=_paper_usdt(risk),
        )
    if live is None:
        from settings import LiveSettings  # the defaults are the hard limits

        live = LiveSettings()
    max_leverage = min(HARD_MAX_LEVERAGE, live.max_leverage)
    usdt = live_usdt(live)
    return RiskLimits(
        max_open_positions=min(risk.max_open_positions, HARD_MAX_OPEN_POSITIONS, live.max_positions),
        max_position_pct=min(risk.max_position_pct, HARD_MAX_POSITION_PCT),
        max_total_exposure_pct=min(risk.max_total_exposure_pct, HARD_MAX_TOTAL_EXPOSURE_PCT),
        max_margin_use_pct=min(risk.max_margin_use_pct, HARD_MAX_MARGIN_USE_PCT, live.max_margin_use_pct),
        daily_loss_limit_pct=min(risk.daily_loss_limit_pct, HARD_DAILY_LOSS_LIMIT_PCT),
        weekly_loss_limit_pct=min(risk.weekly_loss_limit_pct, HARD_WEEKLY_LOSS_LIMIT_PCT),
        # A minimum distance is tightened by raising it.
        min_liquidation_distance_pct=max(risk.min_liquidation_distance_pct, HARD_MIN_LIQUIDATION_DISTANCE_PCT),
        max_leverage=max_leverage,
        max_order_notional=min(HARD_MAX_ORDER_NOTIONAL_USDT, live.max_position_usdt),
        leverage=min(leverage, max_leverage),
        usdt=usdt,
        max_price_age_s=float(live.max_price_age_seconds),
    )
