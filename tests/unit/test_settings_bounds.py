"""Every setting's bounds, at the boundary: just inside loads, just outside is one ConfigError naming the key.

The values go in through TB_* overrides (parsed as YAML, exactly like the file), so each row reads as what a
user would type."""

from __future__ import annotations

import types
import typing
from decimal import Decimal

import pytest
from pydantic import BaseModel

from errors import ConfigError
from settings import MAX_MESSAGE_CHARS, Settings, load_settings

BTC = "BTC/USDT:USDT"


def _env_name(key: str) -> str:
    return "TB_" + key.upper().replace(".", "__")


def _value_at(settings: Settings, key: str):
    node = settings
    for part in key.split("."):
        node = getattr(node, part)
    return node


# (key, YAML as typed, the loaded value or None when it must be refused)
BOUNDS = [
    # a stale-feed guard that never fires: inf, nan and zero are refused
    ("market_data.stale_after_seconds", "0", None),
    ("market_data.stale_after_seconds", "0.001", 0.001),
    ("market_data.stale_after_seconds", "120", 120.0),
    ("market_data.stale_after_seconds", ".inf", None),
    ("market_data.stale_after_seconds", "-.inf", None),
    ("market_data.stale_after_seconds", ".nan", None),
    ("market_data.stale_after_seconds", "1e999", None),  # YAML's way to spell inf without saying it
    # the supervisor's frozen-bot detector: at least two heartbeats (bot.heartbeat_seconds = 1 by default)
    ("control.heartbeat_timeout_seconds", "1.99", None),
    ("control.heartbeat_timeout_seconds", "2", 2.0),
    ("control.heartbeat_timeout_seconds", "5", 5.0),
    ("control.heartbeat_timeout_seconds", ".inf", None),
    ("control.heartbeat_timeout_seconds", ".nan", None),
    # restart n waits backoff[n] (the last repeats): never empty, each > 0 and finite
    ("control.restart_backoff_seconds", "[]", None),
    ("control.restart_backoff_seconds", "[0]", None),
    ("control.restart_backoff_seconds", "[-1]", None),
    ("control.restart_backoff_seconds", "[0.001]", (0.001,)),
    ("control.restart_backoff_seconds", "[1, .inf]", None),
    ("control.restart_backoff_seconds", "[1, .nan]", None),
    ("control.restart_backoff_seconds", "[0.5]", (0.5,)),
    # a ghost signal is scored when every horizon is reached
    ("ghost.horizons_minutes", "[]", None),
    ("ghost.horizons_minutes", "[0]", None),
    ("ghost.horizons_minutes", "[-5]", None),
    ("ghost.horizons_minutes", "[1]", (1,)),
    ("ghost.horizons_minutes", "[10080]", (10080,)),
    ("ghost.horizons_minutes", "[10081]", None),
    ("ghost.horizons_minutes", "[5, 5]", None),  # a repeated horizon would never complete
    ("ghost.horizons_minutes", "[60, 5]", (60, 5)),
    # tiered sizing indexes the tiers by the entry's number
    ("sizing.tiers_percent", "[]", None),
    ("sizing.tiers_percent", "[0]", None),
    ("sizing.tiers_percent", "[10, -1]", None),
    ("sizing.tiers_percent", "[0.01]", (Decimal("0.01"),)),
    ("sizing.tiers_percent", "[100]", (Decimal("100"),)),
    ("sizing.tiers_percent", "[100.01]", None),
    ("sizing.tiers_percent", "[.inf]", None),
    ("sizing.strength_scaling.low", "-0.01", None),
    ("sizing.strength_scaling.low", "0", Decimal("0")),  # weak signals not traded: sizing denies "zero_size"
    ("sizing.strength_scaling.high", "1.01", None),
    # a long's stop (or trail) 100 % below the entry is at zero
    ("stops.max_stop_pct", "99.9", Decimal("99.9")),
    ("stops.max_stop_pct", "100", None),
    ("stops.min_stop_pct", "100", None),
    ("exits.trailing.trail_pct", "99.9", Decimal("99.9")),
    ("exits.trailing.trail_pct", "100", None),
    # money the ledger can quantise (8 decimals in 28 digits)
    ("venue.starting_balance", "0", None),
    ("venue.starting_balance", "1000000000000", Decimal("1000000000000")),
    ("venue.starting_balance", "1000000000000.01", None),
    ("venue.starting_balance", ".inf", None),
    ("market_data.synthetic.start_prices", f"{{{BTC}: 0}}", None),
    ("market_data.synthetic.start_prices", f"{{{BTC}: 0.0001}}", {BTC: Decimal("0.0001")}),
    ("market_data.synthetic.start_prices", f"{{{BTC}: .nan}}", None),
    # one poll must not generate millions of synthetic candles
    ("market_data.synthetic.candle_seconds", "0.009", None),
    ("market_data.synthetic.candle_seconds", "0.01", 0.01),
    ("market_data.replay.speed", ".inf", None),
    ("market_data.replay.speed", "0", 0.0),
    # counts and sizes that reach Redis or memory
    ("control.max_command_bytes", "1048576", 1048576),
    ("control.max_command_bytes", "1048577", None),
    ("control.crash_loop_max_restarts", "0", None),
    ("control.crash_loop_max_restarts", "1", 1),
    ("redis.stream_maxlen", "100000000", 100_000_000),
    ("redis.stream_maxlen", "100000001", None),
    ("redis.audit_maxlen", "99", None),
    ("redis.data_dir", '""', None),
    ("bot.symbols", f"[{BTC}, {BTC}]", None),
    ("bot.symbols", "[]", None),
    ("strategy.enabled", "[ema_trend, ema_trend]", None),
    ("strategy.enabled", "[]", ()),
]


@pytest.mark.parametrize(("key", "typed", "expected"), BOUNDS)
def test_load_settings_when_value_at_its_bound_then_loaded_or_refused_naming_the_key(key, typed, expected):
    env = {_env_name(key): typed}
    if expected is None:
        with pytest.raises(ConfigError) as caught:
            load_settings(environ=env)
        message = str(caught.value)
        assert message.startswith(f"environment {_env_name(key)}: ") and key in message
        assert "\n" not in message and len(message) <= MAX_MESSAGE_CHARS
    else:
        actual = _value_at(load_settings(environ=env), key)
        if isinstance(expected, dict):  # an override of a mapping merges into the file's mapping
            actual = {k: actual[k] for k in expected}
        assert actual == expected


def _strip(annotation):
    """float from Annotated[float, Field(...)]."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _float_fields(model: type[BaseModel], prefix: str = ""):
    """Every float setting (float, float | None, a tuple of floats) with its dotted key and YAML shape."""
    for name, field in model.model_fields.items():
        key, annotation = f"{prefix}{name}", _strip(field.annotation)
        args = [_strip(a) for a in typing.get_args(annotation)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _float_fields(annotation, key + ".")
        elif annotation is float or (isinstance(annotation, types.UnionType) and float in args):
            yield key, "{}"
        elif typing.get_origin(annotation) is tuple and args[:1] == [float]:
            yield key, "[{}]"


FLOAT_KEYS = list(_float_fields(Settings))


def test_float_settings_when_listed_then_the_table_below_covers_the_guards():
    keys = {k for k, _ in FLOAT_KEYS}
    assert {"market_data.stale_after_seconds", "control.heartbeat_timeout_seconds",
            "control.restart_backoff_seconds", "bot.tick_seconds"} <= keys


@pytest.mark.parametrize("typed", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize(("key", "shape"), FLOAT_KEYS)
def test_load_settings_when_any_float_setting_not_finite_then_refused_naming_the_key(key, shape, typed):
    env = {_env_name(key): shape.format(typed)}
    with pytest.raises(ConfigError, match="finite number") as caught:
        load_settings(environ=env)
    assert key in str(caught.value)


def test_load_settings_when_heartbeat_faster_then_timeout_may_be_shorter_in_step():
    settings = load_settings(environ={"TB_BOT__HEARTBEAT_SECONDS": "0.2", "TB_CONTROL__HEARTBEAT_TIMEOUT_SECONDS": "0.4"})
    assert settings.control.heartbeat_timeout_seconds == 0.4


def test_load_settings_when_heartbeat_timeout_below_two_heartbeats_then_both_keys_named():
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"TB_BOT__HEARTBEAT_SECONDS": "3"})  # the default timeout is 5 s
    assert str(caught.value) == (
        "environment TB_BOT__HEARTBEAT_SECONDS: control.heartbeat_timeout_seconds (5) must be at least twice "
        "bot.heartbeat_seconds (3)"
    )
