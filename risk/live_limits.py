"""The hard limits of live trading, in USDT: constants compiled into the bot.

Configuration (the `live:` section) may only tighten them. A looser value stops start-up with one line
naming the constant it exceeds (`looser_than_hard`, called by settings.LiveSettings), so no file,
environment variable or dashboard click can raise what real money may risk.

| constant                       | value            | rule |
|--------------------------------|-----------------:|------|
| LIVE_MAX_POSITION_USDT         |               50 | 1: one position's notional, at the mark |
| LIVE_MAX_LEVERAGE              |               1x | 1 |
| LIVE_MAX_LOSS_PER_TRADE_USDT   |                5 | 2: a stop-out with fees and expected slippage loses at most this |
| LIVE_MAX_DAILY_LOSS_USDT       |               25 | 2: HALTED until the next UTC day |
| LIVE_MAX_WEEKLY_LOSS_USDT      |              100 | 2: HALTED until a review is recorded |
| LIVE_MAX_MARGIN_USE_PCT        |               50 | 3: initial margin in use / equity |
| LIVE_LIQUIDATION_ALERT_PCT     |               80 | 3: liquidation risk that raises the alert |
| LIVE_LIQUIDATION_CLOSE_PCT     |               90 | 3: liquidation risk that closes the position reduce-only |
| LIVE_MAX_POSITIONS             |                2 | 4 |
| LIVE_MIN_ENTRY_SPACING_S       |               60 | 4: between two entries, any symbols |
| LIVE_SYMBOLS                   | BTC, ETH         | 5: the whitelist |
| LIVE_SYMBOLS_ALLOWED_EXTRA     | ADA, SOL, XRP    | 5: what config may add to it |
| LIVE_BLACKOUT_HOURS_UTC        | 22, 23, 0, 1     | 5: no entries (exits always allowed) |
| LIVE_MAX_ORDERS_PER_MINUTE     |                6 | the order-rate throttle |
| LIVE_MAX_PRICE_BAND_PCT        |                1 | a limit price at most this far from the mark |
| LIVE_MAX_PRICE_AGE_S           |                5 | no order without a mark at most this old |
| LIVE_MAX_TRADES_PER_DAY        |               20 | circuit breaker: entries per UTC day |
| LIVE_MIN_BALANCE_USDT          |               50 | circuit breaker: no entry below this wallet balance |

Liquidation risk (rule 3) measures how far the mark has travelled from the entry price towards the
liquidation price: 0 % at entry, 100 % at liquidation. Pure: no settings, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

LIVE_MAX_POSITION_USDT = Decimal("50")
LIVE_MAX_LEVERAGE = 1
LIVE_MAX_LOSS_PER_TRADE_USDT = Decimal("5")
LIVE_MAX_DAILY_LOSS_USDT = Decimal("25")
LIVE_MAX_WEEKLY_LOSS_USDT = Decimal("100")
LIVE_MAX_MARGIN_USE_PCT = Decimal("50")
LIVE_LIQUIDATION_ALERT_PCT = Decimal("80")
LIVE_LIQUIDATION_CLOSE_PCT = Decimal("90")
LIVE_MAX_POSITIONS = 2
LIVE_MIN_ENTRY_SPACING_S = Decimal("60")
LIVE_SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
LIVE_SYMBOLS_ALLOWED_EXTRA = ("ADA/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT")
LIVE_BLACKOUT_HOURS_UTC = (22, 23, 0, 1)
LIVE_MAX_ORDERS_PER_MINUTE = 6
LIVE_MAX_PRICE_BAND_PCT = Decimal("1")
LIVE_MAX_PRICE_AGE_S = Decimal("5")
LIVE_MAX_TRADES_PER_DAY = 20
LIVE_MIN_BALANCE_USDT = Decimal("50")

# field of the `live:` section → (constant's name, its value, "max" when config may only lower it,
# "min" when config may only raise it)
_BOUNDS: dict[str, tuple[str, Any, str]] = {
    "max_position_usdt": ("LIVE_MAX_POSITION_USDT", LIVE_MAX_POSITION_USDT, "max"),
    "max_leverage": ("LIVE_MAX_LEVERAGE", LIVE_MAX_LEVERAGE, "max"),
    "max_loss_per_trade_usdt": ("LIVE_MAX_LOSS_PER_TRADE_USDT", LIVE_MAX_LOSS_PER_TRADE_USDT, "max"),
    "max_daily_loss_usdt": ("LIVE_MAX_DAILY_LOSS_USDT", LIVE_MAX_DAILY_LOSS_USDT, "max"),
    "max_weekly_loss_usdt": ("LIVE_MAX_WEEKLY_LOSS_USDT", LIVE_MAX_WEEKLY_LOSS_USDT, "max"),
    "max_margin_use_pct": ("LIVE_MAX_MARGIN_USE_PCT", LIVE_MAX_MARGIN_USE_PCT, "max"),
    "liquidation_alert_pct": ("LIVE_LIQUIDATION_ALERT_PCT", LIVE_LIQUIDATION_ALERT_PCT, "max"),
    "liquidation_close_pct": ("LIVE_LIQUIDATION_CLOSE_PCT", LIVE_LIQUIDATION_CLOSE_PCT, "max"),
    "max_positions": ("LIVE_MAX_POSITIONS", LIVE_MAX_POSITIONS, "max"),
    "min_entry_spacing_seconds": ("LIVE_MIN_ENTRY_SPACING_S", LIVE_MIN_ENTRY_SPACING_S, "min"),
    "max_orders_per_minute": ("LIVE_MAX_ORDERS_PER_MINUTE", LIVE_MAX_ORDERS_PER_MINUTE, "max"),
    "price_band_pct": ("LIVE_MAX_PRICE_BAND_PCT", LIVE_MAX_PRICE_BAND_PCT, "max"),
    "max_price_age_seconds": ("LIVE_MAX_PRICE_AGE_S", LIVE_MAX_PRICE_AGE_S, "max"),
    "max_trades_per_day": ("LIVE_MAX_TRADES_PER_DAY", LIVE_MAX_TRADES_PER_DAY, "max"),
    "min_balance_usdt": ("LIVE_MIN_BALANCE_USDT", LIVE_MIN_BALANCE_USDT, "min"),
}


def looser_than_hard(values: Mapping[str, Any]) -> list[str]:
    """Every value of the `live:` section that is looser than its hard limit, as `field = value: why`.

    Unknown fields are not this function's business (settings rejects them); a field left out is
    the hard limit itself."""
    problems: list[str] = []
    for name, (constant, hard, direction) in _BOUNDS.items():
        if name not in values:
            continue
        value = values[name]
        if direction == "max" and value > hard:
            problems.append(f"live.{name} = {value} exceeds the hard limit {constant} = {hard}; config may only lower it")
        elif direction == "min" and value < hard:
            problems.append(f"live.{name} = {value} is below the hard limit {constant} = {hard}; config may only raise it")
    if values.get("liquidation_close_pct", LIVE_LIQUIDATION_CLOSE_PCT) < values.get("liquidation_alert_pct", LIVE_LIQUIDATION_ALERT_PCT):
        problems.append("live.liquidation_close_pct is below live.liquidation_alert_pct: the alert must come first")
    allowed = set(LIVE_SYMBOLS) | set(LIVE_SYMBOLS_ALLOWED_EXTRA)
    for symbol in values.get("symbols", ()):
        if symbol not in allowed:
            problems.append(
                f"live.symbols lists {symbol}, outside LIVE_SYMBOLS and LIVE_SYMBOLS_ALLOWED_EXTRA "
                f"({', '.join(sorted(allowed))})"
            )
    hours = set(values.get("blackout_hours_utc", LIVE_BLACKOUT_HOURS_UTC))
    missing = [h for h in LIVE_BLACKOUT_HOURS_UTC if h not in hours]
    if missing:
        problems.append(
            f"live.blackout_hours_utc leaves out {', '.join(map(str, missing))} of LIVE_BLACKOUT_HOURS_UTC "
            f"{list(LIVE_BLACKOUT_HOURS_UTC)}; config may only add hours"
        )
    return problems


@dataclass(frozen=True, slots=True)
class LiveLimits:
    """The USDT limits the pre-trade gate enforces on top of the percentage ones (risk.limits.RiskLimits).

    In live every field is a hard limit or tighter; in ghost and paper they come from `risk:` and a None
    (or an empty set) switches that check off."""

    max_position_usdt: Decimal | None = None
    max_loss_per_trade_usdt: Decimal | None = None
    max_daily_loss_usdt: Decimal | None = None
    max_weekly_loss_usdt: Decimal | None = None
    min_entry_spacing_s: Decimal = Decimal(0)
    symbols: frozenset[str] | None = None  # None: any symbol the bot trades
    blackout_hours_utc: frozenset[int] = field(default_factory=frozenset)
    max_orders_per_minute: int | None = None
    price_band_pct: Decimal | None = None
    max_trades_per_day: int | None = None
    min_balance_usdt: Decimal = Decimal(0)
    liquidation_alert_pct: Decimal | None = None
    liquidation_close_pct: Decimal | None = None


HARD_LIVE_LIMITS = LiveLimits(
    max_position_usdt=LIVE_MAX_POSITION_USDT,
    max_loss_per_trade_usdt=LIVE_MAX_LOSS_PER_TRADE_USDT,
    max_daily_loss_usdt=LIVE_MAX_DAILY_LOSS_USDT,
    max_weekly_loss_usdt=LIVE_MAX_WEEKLY_LOSS_USDT,
    min_entry_spacing_s=LIVE_MIN_ENTRY_SPACING_S,
    symbols=frozenset(LIVE_SYMBOLS),
    blackout_hours_utc=frozenset(LIVE_BLACKOUT_HOURS_UTC),
    max_orders_per_minute=LIVE_MAX_ORDERS_PER_MINUTE,
    price_band_pct=LIVE_MAX_PRICE_BAND_PCT,
    max_trades_per_day=LIVE_MAX_TRADES_PER_DAY,
    min_balance_usdt=LIVE_MIN_BALANCE_USDT,
    liquidation_alert_pct=LIVE_LIQUIDATION_ALERT_PCT,
    liquidation_close_pct=LIVE_LIQUIDATION_CLOSE_PCT,
)


def tradable_symbols(
    venue_minimums: Mapping[str, tuple[Decimal, Decimal, Decimal]], cap_usdt: Decimal
) -> tuple[list[str], list[str]]:
    """The symbols whose smallest order fits under the position cap, and a line for each one dropped.

    `venue_minimums` maps a symbol to (min qty, MIN_NOTIONAL, price now): the smallest order is the larger
    of min qty × price and MIN_NOTIONAL. An order is never rounded up past a limit, so a symbol whose
    smallest order is above the cap could never trade: better said once at start-up than denied forever."""
    kept: list[str] = []
    dropped: list[str] = []
    for symbol, (min_qty, min_notional, price) in venue_minimums.items():
        smallest = max(min_qty * price, min_notional)
        if smallest > cap_usdt:
            dropped.append(
                f"{symbol}: dropped: the venue minimum order {min_qty} × {price} = {min_qty * price:.2f} USDT "
                f"(MIN_NOTIONAL {min_notional}) is above the {cap_usdt} USDT position cap"
            )
        else:
            kept.append(symbol)
    return kept, dropped
