"""config.yaml → frozen, validated settings.

Every section is a frozen pydantic model that forbids unknown keys, so a typo is an error at start-up,
not a silently ignored setting. A bad value is reported with its dotted path, the value and what is
allowed, as one line (`ConfigError`, exit code 2).

Environment variables override the file for deployment: `TB_BOT__MODE=paper` sets `bot.mode`
(double underscore separates levels; the value is read as YAML, so `TB_BOT__SYMBOLS='[BTC/USDT:USDT]'`
works). `REDIS_URL` selects an external Redis. Secrets (API keys) are never part of the settings:
exchange_client reads them from the environment at the moment it needs them.

Any file, and any TB_* value, either loads or fails as one short line (`ConfigError`): the file is read
only when it is a regular file under `MAX_CONFIG_BYTES`, YAML anchors and aliases are refused (an alias
bomb of a few hundred bytes expands to gigabytes when validated or printed), nesting and the number of
values are capped (`MAX_NESTING`, `MAX_NODES`), and every message is printable, one line and at most `MAX_MESSAGE_CHARS` long. Every
float setting is finite (`allow_inf_nan=False` on every section): `.inf` would switch a timeout off.
"""

from __future__ import annotations

import os
import reprlib
import stat
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from errors import ConfigError
from models import Mode

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.yaml"
ENV_PREFIX = "TB_"
MAX_CONFIG_BYTES = 256 * 1024  # config.yaml is about 10 kB; anything near this is not a config file
MAX_NESTING = 32  # config.yaml nests 3 deep; 100 000 `[` would otherwise exhaust the parser's recursion
MAX_NODES = 10_000  # values in a file or a TB_* value; config.yaml has about 150
MAX_MESSAGE_CHARS = 300

Pct = Decimal  # a percentage, 1 = 1 %


def _unique(values: tuple) -> tuple:
    seen: set = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
    return values


class Section(BaseModel):
    # allow_inf_nan=False: once for every float, so `.inf` / `.nan` can never switch a guard off
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------------------------- bot


class BotSettings(Section):
    id: str = Field("main", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    mode: Mode = Mode.GHOST
    symbols: Annotated[tuple[str, ...], AfterValidator(_unique)] = Field(
        ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"), min_length=1
    )
    timeframe: Literal["1m", "3m", "5m", "15m", "1h"] = "1m"
    tick_seconds: float = Field(1.0, gt=0, le=60)
    heartbeat_seconds: float = Field(1.0, gt=0, le=10)
    equity_snapshot_seconds: float = Field(10.0, gt=0)
    metrics_seconds: float = Field(30.0, gt=0)
    slow_tick_seconds: float = Field(0.0, ge=0, le=60)  # fault injection: a deliberately busy loop (tests)
    stall_file: str = ""  # fault injection: while this file exists the loop hangs in a candle, holding the engine lock


# ------------------------------------------------------------------------------------- market data


class ReplaySettings(Section):
    # symbol -> CSV path (relative paths are relative to the project root)
    files: dict[str, str] = Field(default_factory=dict)
    speed: float = Field(60.0, ge=0)  # 1 = real time, 60 = a minute a second, 0 = as fast as possible
    loop: bool = True  # start again from the first candle at the end of the file


class SyntheticSettings(Section):
    seed: int = 42
    start_prices: dict[str, Annotated[Decimal, Field(gt=0, le=Decimal("1e9"))]] = Field(
        default_factory=lambda: {
            "BTC/USDT:USDT": Decimal("95000"),
            "ETH/USDT:USDT": Decimal("1800"),
            "SOL/USDT:USDT": Decimal("145"),
        }
    )
    # wall-clock seconds per synthetic candle; the floor keeps one poll from generating millions of candles
    candle_seconds: float = Field(1.0, ge=0.01)
    gap_probability: float = Field(0.0005, ge=0, le=0.1)


class MarketDataSettings(Section):
    source: Literal["auto", "binance", "replay", "synthetic"] = "auto"
    auto_probe_seconds: float = Field(3.0, gt=0, le=30)
    stale_after_seconds: float = Field(120.0, gt=0)
    backfill_candles: int = Field(300, ge=50, le=1500)
    # "" = the real Binance; else a base URL (http://127.0.0.1:PORT) that replaces Binance's hosts, for a
    # local Binance stand-in in tests and demos
    binance_url: str = Field("", pattern=r"^(|https?://[^/\s]+/?)$")
    replay: ReplaySettings = ReplaySettings()
    synthetic: SyntheticSettings = SyntheticSettings()


# ------------------------------------------------------------------------------------------- venue


class SlippageSettings(Section):
    model: Literal["fixed_bps", "volume"] = "fixed_bps"
    fixed_bps: Decimal = Field(Decimal("2"), ge=0, le=500)
    # volume model: slippage_bps = volume_impact_bps * (order qty / candle volume)
    volume_impact_bps: Decimal = Field(Decimal("100"), ge=0)


class FaultSettings(Section):
    """Fault injection for tests: probabilities per order call."""

    seed: int = 0
    timeout_before_rate: float = Field(0.0, ge=0, le=1)  # times out, order never arrived
    timeout_after_rate: float = Field(0.0, ge=0, le=1)  # times out, but the order was accepted
    rate_limit_rate: float = Field(0.0, ge=0, le=1)
    reject_rate: float = Field(0.0, ge=0, le=1)
    candle_error_rate: float = Field(0.0, ge=0, le=1)  # the venue fails while a candle is fed to it


class VenueSettings(Section):
    # binance-live is the USDⓈ-M mainnet adapter: paper mode may point it at a stand-in (binance_url);
    # live mode stays refused by exchange_client until the go-live gate exists
    paper_venue: Literal["sim", "binance-demo", "binance-spot-testnet", "binance-live"] = "sim"
    # "" = the venue's own hosts; else a base URL (http://127.0.0.1:PORT) that replaces every API host of a
    # Binance venue (a local stand-in), paths kept
    binance_url: str = Field("", pattern=r"^(|https?://[^/\s]+/?)$")
    # Binance's recvWindow: how far a signed request's timestamp may lag the venue's clock (5000 default,
    # 60000 its maximum); the bot refuses to trade while its clock is further off than this
    recv_window_ms: int = Field(5000, ge=1000, le=60000)
    rules_refresh_seconds: float = Field(3600.0, ge=10, le=86400)  # exchangeInfo limits change without notice
    request_timeout_seconds: float = Field(10.0, gt=0, le=60)
    # The dead-man switch (Binance countdownCancelAll, re-armed every third of it): when the bot stops
    # re-arming, the venue cancels the symbol's open orders. 0 = off. Armed only when the venue is stated
    # to leave algo (protective) orders alone: Binance does not document whether the countdown reaches the
    # Algo Service, and a countdown that cancelled the stops would leave a dead bot's positions naked.
    dead_man_seconds: float = Field(0.0, ge=0, le=3600)
    countdown_keeps_algo_orders: bool = False
    # the ledger books to 8 decimals with 28 significant digits: far above this, quantising fails
    starting_balance: Decimal = Field(Decimal("10000"), gt=0, le=Decimal("1e12"))
    leverage: int = Field(3, ge=1, le=125)
    margin_mode: Literal["isolated", "cross"] = "isolated"
    maker_fee_rate: Decimal = Field(Decimal("0.0002"), ge=0, le=Decimal("0.01"))  # Binance USDⓈ-M default
    taker_fee_rate: Decimal = Field(Decimal("0.0005"), ge=0, le=Decimal("0.01"))
    slippage: SlippageSettings = SlippageSettings()
    max_participation: Decimal = Field(Decimal("0.1"), gt=0, le=1)  # of a candle's volume, per candle
    funding_rate: Decimal = Field(Decimal("0.0001"), ge=Decimal("-0.03"), le=Decimal("0.03"))
    funding_interval_hours: int = Field(8, ge=1, le=24)
    exchange_info_path: str = (
        "../shared/data/binance_api/nautilus/tests/integration_tests/adapters/binance/resources/"
        "http_responses/http_futures_market_exchange_info.json"
    )
    faults: FaultSettings = FaultSettings()


# ---------------------------------------------------------------------------------------- strategy


class MomentumSpikeSettings(Section):
    window: int = Field(5, ge=1, le=200)  # candles over which the jump is measured
    min_move_pct: Pct = Field(Decimal("0.6"), gt=0)
    volume_window: int = Field(20, ge=2, le=500)
    volume_multiple: Decimal = Field(Decimal("2.0"), gt=0)


class EmaTrendSettings(Section):
    fast: int = Field(9, ge=2, le=500)
    slow: int = Field(21, ge=3, le=1000)
    atr_period: int = Field(14, ge=2, le=500)
    min_atr_pct: Pct = Field(Decimal("0.05"), ge=0)  # skip crossovers in a dead market

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "EmaTrendSettings":
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class EmaCrossSettings(Section):
    fast: int = Field(12, ge=2, le=500)
    slow: int = Field(26, ge=3, le=1000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "EmaCrossSettings":
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class MeanReversionSettings(Section):
    rsi_period: int = Field(14, ge=2, le=500)
    oversold: Decimal = Field(Decimal("25"), gt=0, lt=50)
    overbought: Decimal = Field(Decimal("75"), gt=50, lt=100)
    bollinger_period: int = Field(20, ge=2, le=500)
    bollinger_std: Decimal = Field(Decimal("2"), gt=0)


class StrategySettings(Section):
    enabled: Annotated[tuple[str, ...], AfterValidator(_unique)] = ("momentum_spike", "ema_trend", "mean_reversion")
    min_confidence: float | None = Field(None, ge=0, le=1)  # None: taken from risk_level; 0 = every signal
    # the sides a signal may open; a signal of the other side still closes a trade (exits.exit_on_reverse_signal)
    entry_sides: Literal["both", "long", "short"] = "both"
    momentum_spike: MomentumSpikeSettings = MomentumSpikeSettings()
    ema_trend: EmaTrendSettings = EmaTrendSettings()
    ema_cross: EmaCrossSettings = EmaCrossSettings()
    mean_reversion: MeanReversionSettings = MeanReversionSettings()


# ------------------------------------------------------------------------------------------ sizing


class StrengthScaling(Section):
    high: Decimal = Field(Decimal("1.0"), ge=0, le=1)  # strength >= 0.7
    medium: Decimal = Field(Decimal("0.7"), ge=0, le=1)  # 0.4 <= strength < 0.7
    low: Decimal = Field(Decimal("0.3"), ge=0, le=1)  # strength < 0.4 (0: such signals are not traded)


class SizingSettings(Section):
    method: Literal["fixed_percent", "tiered", "fixed_risk", "fixed_notional"] = "fixed_risk"
    risk_level: int | None = Field(5, ge=1, le=10)  # 1 cautious .. 10 aggressive; see README's table
    fixed_percent: Pct | None = Field(None, gt=0, le=100)  # None: from risk_level
    # indexed by the entry's number (the last one repeats): never empty, every tier a real size
    tiers_percent: tuple[Annotated[Pct, Field(gt=0, le=100)], ...] = Field(
        (Decimal("10"), Decimal("7"), Decimal("5")), min_length=1
    )
    max_buys_per_24h: int = Field(3, ge=1, le=100)
    risk_percent: Pct | None = Field(None, gt=0, le=10)  # None: from risk_level
    fixed_notional: Decimal | None = Field(None, gt=0, le=Decimal("1e12"))  # fixed_notional: USDT per entry
    strength_scaling: StrengthScaling | None = StrengthScaling()

    @model_validator(mode="after")
    def _notional_for_its_method(self) -> "SizingSettings":
        if self.method == "fixed_notional" and self.fixed_notional is None:
            raise ValueError("method fixed_notional needs fixed_notional (USDT per entry)")
        return self


class StopSettings(Section):
    # structure: behind the last swing (risk/stops.py); none: the rules set no stop, and the stop every
    # position keeps resting on the venue sits out of reach (risk/exits.py OUT_OF_REACH)
    method: Literal["structure", "none"] = "structure"
    swing_lookback: int = Field(20, ge=3, le=500)
    higher_timeframe: Literal["5m", "15m", "1h", "4h"] = "15m"
    buffer_below_low_pct: Pct = Field(Decimal("0.2"), ge=0, le=5)
    buffer_above_high_pct: Pct = Field(Decimal("0.3"), ge=0, le=5)
    # below 100 %: a long's stop 100 % below the entry is at or below zero
    min_stop_pct: Pct = Field(Decimal("0.5"), gt=0, lt=100)
    max_stop_pct: Pct | None = Field(None, gt=0, lt=100)  # None: from risk_level (3 % at level 5)

    @model_validator(mode="after")
    def _min_below_max(self) -> "StopSettings":
        if self.max_stop_pct is not None and self.min_stop_pct >= self.max_stop_pct:
            raise ValueError(f"min_stop_pct ({self.min_stop_pct}) must be below max_stop_pct ({self.max_stop_pct})")
        return self


# ------------------------------------------------------------------------------------------- exits


class TrailingSettings(Section):
    enabled: bool = True
    activation_pct: Pct = Field(Decimal("1.0"), gt=0)
    trail_pct: Pct = Field(Decimal("0.5"), gt=0, lt=100)  # a trail of 100 % puts a long's stop at zero


class ExitSettings(Section):
    # false: no take-profit (its order rests out of reach), and so no breakeven move, measured towards it
    take_profit_enabled: bool = True
    take_profit_pct: Pct = Field(Decimal("1.5"), gt=0)  # minimum profit target, after fees
    reward_risk: Decimal = Field(Decimal("2"), gt=0)  # take-profit at this multiple of the stop distance
    trailing: TrailingSettings = TrailingSettings()
    breakeven_at_fraction: Decimal = Field(Decimal("0.8"), gt=0, le=1)
    min_hold_seconds: int = Field(120, ge=0)
    emergency_enabled: bool = True
    emergency_loss_pct: Pct = Field(Decimal("2.0"), gt=0)
    emergency_volume_ratio: Decimal = Field(Decimal("0.3"), gt=0, le=1)
    volume_exhaustion_enabled: bool = True
    volume_exhaustion_ratio: Decimal = Field(Decimal("0.4"), gt=0, le=1)
    volume_exhaustion_min_hold_seconds: int = Field(600, ge=0)
    volume_window: int = Field(20, ge=2, le=500)
    time_limit_enabled: bool = True
    time_limit_minutes: int = Field(240, ge=1)
    exit_on_reverse_signal: bool = True


class GhostSettings(Section):
    # a signal is scored once every horizon is reached: none would score it at once, a repeated one never
    horizons_minutes: Annotated[tuple[Annotated[int, Field(gt=0, le=10080)], ...], AfterValidator(_unique)] = Field(
        (5, 15, 60), min_length=1
    )


# -------------------------------------------------------------------------------------------- risk


class RiskSettings(Section):
    """Per-bot risk limits. In live mode the hard limits in risk/limits.py cap every one of these."""

    max_open_positions: int = Field(5, ge=1, le=50)
    max_position_pct: Pct = Field(Decimal("25"), gt=0, le=100)  # notional / equity
    max_total_exposure_pct: Pct = Field(Decimal("150"), gt=0, le=1000)
    max_margin_use_pct: Pct = Field(Decimal("60"), gt=0, le=100)
    daily_loss_limit_pct: Pct = Field(Decimal("5"), gt=0, le=100)
    weekly_loss_limit_pct: Pct = Field(Decimal("10"), gt=0, le=100)
    min_liquidation_distance_pct: Pct = Field(Decimal("5"), ge=0, le=100)
    circuit_breaker_failures: int = Field(5, ge=1, le=100)  # consecutive order failures that halt the bot
    # The pre-trade gate's USDT checks in ghost and paper (live takes the `live:` section): None, 0 or an
    # empty list switches one off.
    max_position_usdt: Decimal | None = Field(None, gt=0, le=Decimal("1e12"))
    max_loss_per_trade_usdt: Decimal | None = Field(None, gt=0, le=Decimal("1e12"))
    max_daily_loss_usdt: Decimal | None = Field(None, gt=0, le=Decimal("1e12"))
    max_weekly_loss_usdt: Decimal | None = Field(None, gt=0, le=Decimal("1e12"))
    min_entry_spacing_seconds: Decimal = Field(Decimal(0), ge=0, le=86400)
    blackout_hours_utc: Annotated[tuple[Annotated[int, Field(ge=0, le=23)], ...], AfterValidator(_unique)] = ()
    max_orders_per_minute: int | None = Field(None, ge=1, le=10_000)
    price_band_pct: Pct | None = Field(None, gt=0, le=100)
    max_trades_per_day: int | None = Field(None, ge=1, le=100_000)
    min_balance_usdt: Decimal = Field(Decimal(0), ge=0, le=Decimal("1e12"))


class LiveSettings(Section):
    """Live trading's limits: the hard limits of risk/live_limits.py, or tighter. A looser value is refused."""

    max_position_usdt: Decimal = Field(Decimal("50"), gt=0)
    max_leverage: int = Field(1, ge=1)
    max_loss_per_trade_usdt: Decimal = Field(Decimal("5"), gt=0)
    max_daily_loss_usdt: Decimal = Field(Decimal("25"), gt=0)
    max_weekly_loss_usdt: Decimal = Field(Decimal("100"), gt=0)
    max_margin_use_pct: Pct = Field(Decimal("50"), gt=0)
    liquidation_alert_pct: Pct = Field(Decimal("80"), gt=0)
    liquidation_close_pct: Pct = Field(Decimal("90"), gt=0)
    max_positions: int = Field(2, ge=1)
    min_entry_spacing_seconds: Decimal = Field(Decimal("60"), ge=0, le=86400)
    symbols: Annotated[tuple[str, ...], AfterValidator(_unique)] = ("BTC/USDT:USDT", "ETH/USDT:USDT")
    blackout_hours_utc: Annotated[tuple[Annotated[int, Field(ge=0, le=23)], ...], AfterValidator(_unique)] = (22, 23, 0, 1)
    max_orders_per_minute: int = Field(6, ge=1)
    price_band_pct: Pct = Field(Decimal("1"), gt=0)
    max_price_age_seconds: Decimal = Field(Decimal("5"), gt=0)
    max_trades_per_day: int = Field(20, ge=1)
    min_balance_usdt: Decimal = Field(Decimal("50"), ge=0, le=Decimal("1e12"))
    # the go-live gate's evidence (control/go_live.py): config may only ask for more
    min_paper_trades: int = Field(5, ge=0, le=100_000)
    min_ghost_signals: int = Field(100, ge=0, le=10_000_000)
    min_ghost_accuracy_pct: Pct = Field(Decimal("55"), ge=0, le=100)

    @model_validator(mode="after")
    def _only_tightens(self) -> "LiveSettings":
        from control.go_live import looser_than_seed  # both modules are pure; imported here to keep settings first
        from risk.live_limits import looser_than_hard

        problems = looser_than_hard(self.model_dump()) + looser_than_seed(self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self


# ----------------------------------------------------------------------------------------- control


class ControlSettings(Section):
    stale_command_seconds: float = Field(30.0, gt=0)
    heartbeat_timeout_seconds: float = Field(5.0, gt=0)
    stop_grace_seconds: float = Field(10.0, gt=0)
    takeover_wait_seconds: float = Field(1.5, ge=0)  # how long the supervisor waits for a live bot's close-all
    # the n-th restart waits the n-th value (the last repeats): never empty, never zero (a busy crash loop)
    restart_backoff_seconds: tuple[Annotated[float, Field(gt=0)], ...] = Field((1.0, 2.0, 5.0, 10.0, 30.0), min_length=1)
    crash_loop_max_restarts: int = Field(5, ge=1)
    crash_loop_window_seconds: float = Field(300.0, gt=0)
    max_command_bytes: int = Field(8192, ge=256, le=1_048_576)  # read into memory before it is parsed
    # the kill switch: how long the bot retries before it hands over to the supervisor, and how long the
    # supervisor then keeps at it before it reports failure
    kill_switch_seconds: float = Field(5.0, gt=0, le=120)
    flatten_seconds: float = Field(30.0, gt=0, le=600)


class RedisSettings(Section):
    embedded_port: int = Field(6390, ge=1024, le=65535)
    data_dir: str = Field("var/redis", min_length=1)  # "" would put Redis's files in the project root
    run_marker_dir: str = Field("var/run", min_length=1)
    # Redis takes a 64-bit MAXLEN; far above this the streams would not be capped in practice anyway
    stream_maxlen: int = Field(10000, ge=100, le=100_000_000)
    audit_maxlen: int = Field(20000, ge=100, le=100_000_000)


class JournalSettings(Section):
    enabled: bool = True
    dir: str = Field("var/journal", min_length=1)  # one SQLite file per bot id
    poll_seconds: float = Field(1.0, gt=0, le=60)


AlertDelivery = Literal["on", "off", "silent"]


class AlertSettings(Section):
    # apprise notification URLs. They are secrets (tokens, passwords): better in the environment as
    # TB_ALERT_URLS (space- or comma-separated), which is added to these. Never logged, stored or shown.
    urls: tuple[str, ...] = ()
    # per event (alerts.events.AlertKind): on (sent), silent (recorded in the journal only) or off
    events: dict[str, AlertDelivery] = {}
    dedupe_seconds: float = Field(300.0, ge=0, le=86_400)  # the same alert again within this is not sent
    max_age_seconds: float = Field(600.0, gt=0)  # a catch-up over older records raises no alerts
    retry_seconds: tuple[Annotated[float, Field(gt=0)], ...] = Field((2.0, 5.0, 15.0, 60.0), min_length=1)
    daily_summary: bool = True

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: dict[str, str]) -> dict[str, str]:
        from alerts.events import AlertKind

        unknown = sorted(set(value) - set(AlertKind._value2member_map_))
        if unknown:
            raise ValueError(f"unknown alert event(s) {', '.join(unknown)}; known: {', '.join(k.value for k in AlertKind)}")
        return value


class DashboardSettings(Section):
    port: int = Field(8502, ge=1024, le=65535)
    refresh_seconds: float = Field(2.0, ge=0.5, le=60)


class Settings(Section):
    bot: BotSettings = BotSettings()
    market_data: MarketDataSettings = MarketDataSettings()
    venue: VenueSettings = VenueSettings()
    strategy: StrategySettings = StrategySettings()
    sizing: SizingSettings = SizingSettings()
    stops: StopSettings = StopSettings()
    exits: ExitSettings = ExitSettings()
    ghost: GhostSettings = GhostSettings()
    risk: RiskSettings = RiskSettings()
    live: LiveSettings = LiveSettings()
    control: ControlSettings = ControlSettings()
    redis: RedisSettings = RedisSettings()
    dashboard: DashboardSettings = DashboardSettings()
    journal: JournalSettings = JournalSettings()
    alerts: AlertSettings = AlertSettings()

    @model_validator(mode="after")
    def _heartbeat_timeout_above_heartbeats(self) -> "Settings":
        timeout, beat = self.control.heartbeat_timeout_seconds, self.bot.heartbeat_seconds
        if timeout < 2 * beat:
            # one late heartbeat would mark a healthy bot unresponsive and hand its kill switch over
            raise ValueError(
                f"control.heartbeat_timeout_seconds ({timeout:g}) must be at least twice "
                f"bot.heartbeat_seconds ({beat:g})"
            )
        return self

    @model_validator(mode="after")
    def _a_stop_to_risk_against(self) -> "Settings":
        if self.sizing.method == "fixed_risk" and self.stops.method == "none":
            # fixed_risk sizes by the distance to the stop: an out-of-reach stop would size almost nothing
            raise ValueError("sizing.method fixed_risk sizes by the stop distance: it needs stops.method structure")
        return self

    def resolve_path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else PROJECT_ROOT / p


# ---------------------------------------------------------------------------------------- loading


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a 250 kB file in milliseconds, not seconds
_OPENS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSES = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_NODES = (yaml.ScalarEvent, *_OPENS)


class _YamlProblem(Exception):
    """Text that is not YAML a config may hold: `where` (" at line L, column C" or "") and what."""

    def __init__(self, where: str, problem: str):
        super().__init__(where, problem)
        self.where, self.problem = where, problem


def _at(mark) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _check_shape(text: str) -> None:
    """One pass over the parser's events, before anything is built: no anchors or aliases, at most
    MAX_NESTING deep, at most MAX_NODES values.

    Aliases are refused, not counted: config.yaml has no use for them, and refusing costs nothing, while
    nine nested aliases of nine items (a few hundred bytes) are a list of 387 million strings to validate
    or print. The depth cap stops 100 000 `[` long before the composer's recursion would; the node cap
    bounds the work (and the error list) of validating whatever is left."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _YamlProblem(_at(event.start_mark), "YAML anchors and aliases (&name, *name) are not allowed in a config")
        if isinstance(event, _NODES):
            nodes += 1
            if nodes > MAX_NODES:
                raise _YamlProblem(_at(event.start_mark), f"more than {MAX_NODES} values (config.yaml has about 150)")
        if isinstance(event, _OPENS):
            depth += 1
            if depth > MAX_NESTING:
                raise _YamlProblem(_at(event.start_mark), f"nested more than {MAX_NESTING} levels deep")
        elif isinstance(event, _CLOSES):
            depth -= 1


def _parse_yaml(text: str) -> Any:
    """The YAML value of `text`; `_YamlProblem` (with a position when known) for anything else."""
    try:
        _check_shape(text)
        return yaml.load(text, Loader=_LOADER)
    except _YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        what = ": ".join(filter(None, [exc.context, exc.problem])) or "unreadable"
        raise _YamlProblem(_at(exc.problem_mark or exc.context_mark), what) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, most control characters)
        line = text.count("\n", 0, exc.position) + 1
        raise _YamlProblem(f" at line {line}", f"character U+{exc.character:04X} is not allowed") from None
    except RecursionError:
        raise _YamlProblem("", "nested too deeply") from None
    except Exception as exc:  # the constructors' own errors: an int of 5000 digits, 2025-13-45, a bad !!binary
        raise _YamlProblem("", f"{type(exc).__name__}: {exc}") from None


def one_line(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`message` as one printable line of at most `limit` characters (control characters, newlines and
    undecodable bytes of a file name escaped), so an error is one line on any terminal or log."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clash(name: str, path: tuple[str, ...], sources: Mapping[tuple[str, ...], str]) -> ConfigError:
    """Two variables for one key (TB_BOT__MODE and TB_BOT__MODE__X, or TB_BOT__MODE and TB_bot__mode)."""
    other = next((n for p, n in sources.items() if p[: len(path)] == path or path[: len(p)] == p), "another variable")
    return ConfigError(one_line(f"environment {name}: {other} already sets {'.'.join(path)}"))


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The TB_* overrides as a tree, and which variable set each path (for error messages)."""
    tree: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):  # sorted: the same environment always gives the same message
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        raw = environ[name]
        path = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        if "" in path:
            raise ConfigError(one_line(f"environment {name}: empty key in the name (TB_SECTION__KEY, one '__' between levels)"))
        try:
            value = _parse_yaml(raw) if raw != "" else ""
        except _YamlProblem:
            value = raw  # not YAML: the text itself, which validation then judges like any other value
        node = tree
        for depth, part in enumerate(path[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _clash(name, path[: depth + 1], sources)
        if path[-1] in node:
            raise _clash(name, path, sources)
        node[path[-1]] = value
        sources[path] = name
    return tree, sources


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _short_repr() -> reprlib.Repr:
    """Short, flat reprs: a bad value is shown as far as it helps, never as a megabyte of nested lists."""
    r = reprlib.Repr()
    r.maxlevel, r.maxtuple, r.maxlist, r.maxdict, r.maxset = 2, 4, 4, 4, 4
    r.maxstring = r.maxother = 60
    r.maxlong = 40
    return r


_SHOW = _short_repr()


def _describe(error: Mapping[str, Any], source: str) -> str:
    path = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{source}: unknown setting '{path}' (check the spelling; see config.yaml for every key)"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, Mapping):  # a section's own check (fast < slow): its message names the keys
        return f"{source}: {path}: {message}" if error["loc"] else f"{source}: {message}"
    return f"{source}: {path} = {_SHOW.repr(value)}: {message}"


def _source_of(error: Mapping[str, Any], file_source: str, env_sources: Mapping[tuple[str, ...], str]) -> str:
    """The environment variable behind the failing key (or one inside the failing section, or one a
    cross-section check names), else the file."""
    loc = tuple(str(p) for p in error["loc"])
    for path, name in env_sources.items():
        n = min(len(path), len(loc))
        if (n and path[:n] == loc[:n]) or (not loc and ".".join(path) in error["msg"]):
            return f"environment {name}"
    return file_source


def _read_config_text(path: Path, shown: str) -> str:
    """The file's text, or ConfigError: missing, not a regular file, too large, unreadable, not UTF-8."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(one_line(f"config file not found: {shown}")) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(one_line(f"{shown}: cannot be read ({getattr(exc, 'strerror', None) or exc})")) from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(one_line(f"{shown}: is a directory, not a config file"))
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block and /dev/zero never end
        raise ConfigError(one_line(f"{shown}: not a regular file"))
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(one_line(f"{shown}: {info.st_size} bytes; a config file is at most {MAX_CONFIG_BYTES} bytes"))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # bounded even if the file grows after the stat
    except OSError as exc:
        raise ConfigError(one_line(f"{shown}: cannot be read ({exc.strerror or exc})")) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(one_line(f"{shown}: more than {MAX_CONFIG_BYTES} bytes; a config file is at most that"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(one_line(f"{shown}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, offset {exc.start})")) from None


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read config.yaml (or `path`), apply TB_* environment overrides, validate, freeze.

    Whatever the file holds, the result is Settings or a ConfigError with one short line."""
    shown = str(path) if path else DEFAULT_CONFIG_PATH.name
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    environ = os.environ if environ is None else environ
    text = _read_config_text(path, shown)
    try:
        data = _parse_yaml(text)
    except _YamlProblem as exc:
        raise ConfigError(one_line(f"{shown}: not valid YAML{exc.where}: {exc.problem}")) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(one_line(f"{shown}: the top level must be a mapping of sections, not {type(data).__name__}"))
    overrides, env_sources = _env_overrides(environ)
    merged = _merge(data, overrides)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        more = len(errors) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        source = _source_of(first, path.name, env_sources)
        # the suffix survives the cap: "and 3 more" matters more than the end of a long value
        raise ConfigError(one_line(_describe(first, source), MAX_MESSAGE_CHARS - len(suffix)) + suffix) from None


def redis_url(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """REDIS_URL when set, else the embedded Redis on its fixed loopback port; with TB_REDIS_PASSWORD
    (and TB_REDIS_USERNAME) in it when set. Show it only through state.redact_url. Raises ConfigError."""
    from redis_auth import auth_from_env, with_auth

    environ = os.environ if environ is None else environ
    url = environ.get("REDIS_URL") or f"redis://127.0.0.1:{settings.redis.embedded_port}/0"
    return with_auth(url, auth_from_env(environ))
