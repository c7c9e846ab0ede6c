"""config.yaml → frozen, validated settings.

Every section is a frozen pydantic model that forbids unknown keys, so a typo is an error at start-up,
not a silently ignored setting. A bad value is reported with its dotted path, the value and what is
allowed, as one line (`ConfigError`, exit code 2).

Environment variables override the file for deployment: `TB_BOT__MODE=paper` sets `bot.mode`
(double underscore separates levels; the value is read as YAML, so `TB_BOT__SYMBOLS='[BTC/USDT:USDT]'`
works). `REDIS_URL` selects an external Redis. Secrets (API keys) are never part of the settings:
exchange_client reads them from the environment at the moment it needs them.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from errors import ConfigError
from models import Mode

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.yaml"
ENV_PREFIX = "TB_"

Pct = Decimal  # a percentage, 1 = 1 %


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# ---------------------------------------------------------------------------------------------- bot


class BotSettings(Section):
    id: str = Field("main", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    mode: Mode = Mode.GHOST
    symbols: tuple[str, ...] = Field(("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"), min_length=1)
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
    start_prices: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "BTC/USDT:USDT": Decimal("95000"),
            "ETH/USDT:USDT": Decimal("1800"),
            "SOL/USDT:USDT": Decimal("145"),
        }
    )
    candle_seconds: float = Field(1.0, gt=0)  # wall-clock seconds per synthetic candle
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
    paper_venue: Literal["sim", "binance-demo", "binance-spot-testnet"] = "sim"
    starting_balance: Decimal = Field(Decimal("10000"), gt=0)
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


class MeanReversionSettings(Section):
    rsi_period: int = Field(14, ge=2, le=500)
    oversold: Decimal = Field(Decimal("25"), gt=0, lt=50)
    overbought: Decimal = Field(Decimal("75"), gt=50, lt=100)
    bollinger_period: int = Field(20, ge=2, le=500)
    bollinger_std: Decimal = Field(Decimal("2"), gt=0)


class StrategySettings(Section):
    enabled: tuple[str, ...] = ("momentum_spike", "ema_trend", "mean_reversion")
    min_confidence: float | None = Field(None, ge=0, le=1)  # None: taken from risk_level; 0 = every signal
    momentum_spike: MomentumSpikeSettings = MomentumSpikeSettings()
    ema_trend: EmaTrendSettings = EmaTrendSettings()
    mean_reversion: MeanReversionSettings = MeanReversionSettings()


# ------------------------------------------------------------------------------------------ sizing


class StrengthScaling(Section):
    high: Decimal = Field(Decimal("1.0"), ge=0, le=1)  # strength >= 0.7
    medium: Decimal = Field(Decimal("0.7"), ge=0, le=1)  # 0.4 <= strength < 0.7
    low: Decimal = Field(Decimal("0.3"), ge=0, le=1)  # strength < 0.4


class SizingSettings(Section):
    method: Literal["fixed_percent", "tiered", "fixed_risk"] = "fixed_risk"
    risk_level: int | None = Field(5, ge=1, le=10)  # 1 cautious .. 10 aggressive; see README's table
    fixed_percent: Pct | None = Field(None, gt=0, le=100)  # None: from risk_level
    tiers_percent: tuple[Pct, ...] = (Decimal("10"), Decimal("7"), Decimal("5"))
    max_buys_per_24h: int = Field(3, ge=1, le=100)
    risk_percent: Pct | None = Field(None, gt=0, le=10)  # None: from risk_level
    strength_scaling: StrengthScaling | None = StrengthScaling()


class StopSettings(Section):
    swing_lookback: int = Field(20, ge=3, le=500)
    higher_timeframe: Literal["5m", "15m", "1h", "4h"] = "15m"
    buffer_below_low_pct: Pct = Field(Decimal("0.2"), ge=0, le=5)
    buffer_above_high_pct: Pct = Field(Decimal("0.3"), ge=0, le=5)
    min_stop_pct: Pct = Field(Decimal("0.5"), gt=0)
    max_stop_pct: Pct | None = Field(None, gt=0)  # None: from risk_level (3 % at level 5)

    @model_validator(mode="after")
    def _min_below_max(self) -> "StopSettings":
        if self.max_stop_pct is not None and self.min_stop_pct >= self.max_stop_pct:
            raise ValueError(f"min_stop_pct ({self.min_stop_pct}) must be below max_stop_pct ({self.max_stop_pct})")
        return self


# ------------------------------------------------------------------------------------------- exits


class TrailingSettings(Section):
    enabled: bool = True
    activation_pct: Pct = Field(Decimal("1.0"), gt=0)
    trail_pct: Pct = Field(Decimal("0.5"), gt=0)


class ExitSettings(Section):
    take_profit_pct: Pct = Field(Decimal("1.5"), gt=0)  # minimum profit target, after fees
    reward_risk: Decimal = Field(Decimal("2"), gt=0)  # take-profit at this multiple of the stop distance
    trailing: TrailingSettings = TrailingSettings()
    breakeven_at_fraction: Decimal = Field(Decimal("0.8"), gt=0, le=1)
    min_hold_seconds: int = Field(120, ge=0)
    emergency_loss_pct: Pct = Field(Decimal("2.0"), gt=0)
    emergency_volume_ratio: Decimal = Field(Decimal("0.3"), gt=0, le=1)
    volume_exhaustion_enabled: bool = True
    volume_exhaustion_ratio: Decimal = Field(Decimal("0.4"), gt=0, le=1)
    volume_exhaustion_min_hold_seconds: int = Field(600, ge=0)
    volume_window: int = Field(20, ge=2, le=500)
    time_limit_minutes: int = Field(240, ge=1)
    exit_on_reverse_signal: bool = True


class GhostSettings(Section):
    horizons_minutes: tuple[int, ...] = (5, 15, 60)


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


# ----------------------------------------------------------------------------------------- control


class ControlSettings(Section):
    stale_command_seconds: float = Field(30.0, gt=0)
    heartbeat_timeout_seconds: float = Field(5.0, gt=0)
    stop_grace_seconds: float = Field(10.0, gt=0)
    takeover_wait_seconds: float = Field(1.5, ge=0)  # how long the supervisor waits for a live bot's close-all
    restart_backoff_seconds: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0)
    crash_loop_max_restarts: int = Field(5, ge=1)
    crash_loop_window_seconds: float = Field(300.0, gt=0)
    max_command_bytes: int = Field(8192, ge=256)
    # the kill switch: how long the bot retries before it hands over to the supervisor, and how long the
    # supervisor then keeps at it before it reports failure
    kill_switch_seconds: float = Field(5.0, gt=0, le=120)
    flatten_seconds: float = Field(30.0, gt=0, le=600)


class RedisSettings(Section):
    embedded_port: int = Field(6390, ge=1024, le=65535)
    data_dir: str = "var/redis"
    run_marker_dir: str = "var/run"
    stream_maxlen: int = Field(10000, ge=100)
    audit_maxlen: int = Field(20000, ge=100)


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
    control: ControlSettings = ControlSettings()
    redis: RedisSettings = RedisSettings()
    dashboard: DashboardSettings = DashboardSettings()

    def resolve_path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else PROJECT_ROOT / p


# ---------------------------------------------------------------------------------------- loading


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _describe(error: dict[str, Any], source: str) -> str:
    path = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{source}: unknown setting '{path}' (check the spelling; see config.yaml for every key)"
    value = error.get("input")
    shown = repr(value) if not isinstance(value, Mapping) else "{...}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{source}: {path} = {shown}: {message}"


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read config.yaml (or `path`), apply TB_* environment overrides, validate, freeze."""
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    merged = _merge(data, _env_overrides(environ))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(_describe(first, path.name) + suffix) from None


def redis_url(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """REDIS_URL when set, else the embedded Redis on its fixed loopback port; with TB_REDIS_PASSWORD
    (and TB_REDIS_USERNAME) in it when set. Show it only through state.redact_url. Raises ConfigError."""
    from redis_auth import auth_from_env, with_auth

    environ = os.environ if environ is None else environ
    url = environ.get("REDIS_URL") or f"redis://127.0.0.1:{settings.redis.embedded_port}/0"
    return with_auth(url, auth_from_env(environ))
