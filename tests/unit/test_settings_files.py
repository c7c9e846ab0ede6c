"""Whatever the config file (or a TB_* value) holds, the answer is Settings or one short ConfigError line.

A file from the wrong place (a binary, a directory, a FIFO, /dev/zero), a YAML alias bomb, 100 000 nested
brackets, control characters in a key: each is one line naming the file and where, and `main.py` exits 2
before it starts anything."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from errors import ConfigError
from settings import DEFAULT_CONFIG_PATH, MAX_CONFIG_BYTES, MAX_MESSAGE_CHARS, Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _one_line_error(path: Path | str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={} if environ is None else environ)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message and message.isprintable(), message
    assert len(message) <= MAX_MESSAGE_CHARS, message
    return message


def _write(tmp_path: Path, content: bytes | str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def alias_bomb(levels: int = 9) -> str:
    """The billion laughs: each level is nine aliases of the one below; ~420 bytes, 9**9 strings."""
    lines = ["a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    lines.append(f"bot: {{id: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ what the file is


def test_load_settings_when_file_missing_then_not_found_named(tmp_path):
    assert _one_line_error(tmp_path / "nope.yaml") == f"config file not found: {tmp_path / 'nope.yaml'}"


def test_load_settings_when_path_is_a_directory_then_said_so(tmp_path):
    assert _one_line_error(tmp_path) == f"{tmp_path}: is a directory, not a config file"


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_load_settings_when_not_a_regular_file_then_refused_without_reading(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "pipe.yaml"
        os.mkfifo(special)  # reading it would block forever: it must not be opened at all
    assert _one_line_error(special) == f"{special}: not a regular file"


@pytest.mark.parametrize(("size", "refused"), [(MAX_CONFIG_BYTES, False), (MAX_CONFIG_BYTES + 1, True)])
def test_load_settings_when_file_at_size_cap_then_read_and_just_above_refused(tmp_path, size, refused):
    path = _write(tmp_path, "#" * (size - 1) + "\n")  # a comment: valid, empty YAML
    if refused:
        assert _one_line_error(path) == f"{path}: {size} bytes; a config file is at most {MAX_CONFIG_BYTES} bytes"
    else:
        assert load_settings(path, environ={}) == Settings()


def test_load_settings_when_file_is_binary_then_not_utf8_with_its_position(tmp_path):
    path = _write(tmp_path, b"bot:\n  id: main\n\x89PNG\r\n\x1a\n\x00\x00")
    assert _one_line_error(path) == f"{path}: not UTF-8 text (byte 0x89 at line 3, offset 16)"


def test_load_settings_when_text_has_a_nul_then_not_yaml_at_its_line(tmp_path):
    path = _write(tmp_path, "bot:\n  id: ma\x00in\n")
    assert _one_line_error(path) == f"{path}: not valid YAML at line 2: character U+0000 is not allowed"


def test_load_settings_when_file_name_not_utf8_then_message_still_one_printable_line(tmp_path):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff\n.yaml"))
    path.write_text("bot: [")
    assert _one_line_error(path) == (
        f"{tmp_path}/bad\\udcff\\n.yaml: not valid YAML at line 2, column 1: while parsing a flow node: "
        "did not find expected node content"
    )


# ------------------------------------------------------------------------------------ what the YAML is


def test_load_settings_when_alias_bomb_then_refused_before_expanding_it(tmp_path):
    path = _write(tmp_path, alias_bomb())
    assert path.stat().st_size < 500
    tracemalloc.start()
    try:
        message = _one_line_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == f"{path}: not valid YAML at line 1, column 5: YAML anchors and aliases (&name, *name) are not allowed in a config"
    assert peak < 5_000_000  # the expanded list would be 387 million strings


def test_load_settings_when_only_an_anchor_then_refused_too(tmp_path):
    path = _write(tmp_path, "bot:\n  id: &name main\n")
    assert "anchors and aliases" in _one_line_error(path)


def test_load_settings_when_nested_100000_deep_then_refused_at_the_cap(tmp_path):
    path = _write(tmp_path, "bot: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert _one_line_error(path) == f"{path}: not valid YAML at line 1, column 37: nested more than 32 levels deep"


def test_load_settings_when_too_many_values_then_refused_before_validating_them(tmp_path):
    path = _write(tmp_path, "bot:\n  symbols: [" + ", ".join(["x"] * 20_000) + "]\n")
    assert "more than 10000 values" in _one_line_error(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "the top level must be a mapping of sections, not list"),
        ("bot: [\n", "not valid YAML at line 2, column 1: while parsing a flow node: did not find expected node content"),
        ("bot:\n  tick_seconds: " + "9" * 5000 + "\n", "not valid YAML: ValueError: Exceeds the limit (4300 digits)"),
        ("bot: {id: !!python/object:os.system x}\n", "not valid YAML at line 1, column 11: could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", "not valid YAML at line 2, column 1: expected a single document in the stream: but found another document"),
        ('"bot\\nx": 1\n', "unknown setting 'bot\\nx'"),
        ("bot:\n  id: '" + "x" * 5000 + "'\n", "bot.id = 'xxxxxxxxxxxxxxxxxxxxxxxx"),
        ("ghost:\n  horizons_minutes: [[[[[[1]]]]]]\n", "ghost.horizons_minutes.0 = [[[...]]]: Input should be a valid integer"),
    ],
)
def test_load_settings_when_yaml_odd_then_one_line_naming_what_and_where(tmp_path, text, expected):
    path = _write(tmp_path, text)
    assert expected in _one_line_error(path)


def test_load_settings_when_many_problems_then_first_named_and_the_rest_counted(tmp_path):
    path = _write(tmp_path, "bot:\n  tick_seconds: .inf\n  id: '" + "x" * 1000 + "'\n  heartbeat_seconds: -1\n")
    message = _one_line_error(path)
    assert message.startswith("bad.yaml: bot.id = 'xxx") and message.endswith(" (and 2 more problems)")


# --------------------------------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TB_BOT__MODE": "paper", "TB_BOT__MODE__X": "1"}, "environment TB_BOT__MODE__X: TB_BOT__MODE already sets bot.mode"),
        ({"TB_BOT__MODE": "paper", "TB_bot__mode": "ghost"}, "environment TB_bot__mode: TB_BOT__MODE already sets bot.mode"),
        ({"TB_BOT____ID": "x"}, "environment TB_BOT____ID: empty key in the name"),
        ({"TB_BOT__ID": alias_bomb()}, "environment TB_BOT__ID: bot.id = 'a0: &a0 [lol,lol,"),
        ({"TB_BOT__SYMBOLS": "[" * 100_000}, "environment TB_BOT__SYMBOLS: bot.symbols = '[[[[[["),
        ({"TB_VENUE__LEVERAGE": "-3"}, "environment TB_VENUE__LEVERAGE: venue.leverage = -3: Input should be greater than or equal to 1"),
        ({"TB_NOPE__X": "1"}, "environment TB_NOPE__X: unknown setting 'nope'"),
        ({"TB_BOT__ID": "a\udcffb"}, "environment TB_BOT__ID: bot.id = 'a\\udcffb'"),
    ],
)
def test_load_settings_when_environment_odd_then_one_line_naming_the_variable(environ, expected):
    assert _one_line_error(DEFAULT_CONFIG_PATH, environ).startswith(expected)


# ------------------------------------------------------------------------------------------ property

_KEYS = ["bot", "id", "mode", "symbols", "tick_seconds", "market_data", "stale_after_seconds", "control",
         "restart_backoff_seconds", "ghost", "horizons_minutes", "sizing", "tiers_percent", "x"]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from([".inf", "-.inf", ".nan", "1e999", "~", "!!binary AAAA", "*a", "&a x", "0x1f", "2025-13-45"]),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4), max_leaves=12)
_documents = st.dictionaries(st.sampled_from(_KEYS), _values, max_size=5).map(lambda d: yaml.safe_dump(d, allow_unicode=True))


def _bytes_of_any_kind():
    real = DEFAULT_CONFIG_PATH.read_bytes()
    return st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(str.encode),
        _documents.map(str.encode),
        # the real config cut or spliced with junk: near-valid files are where the odd paths are
        st.tuples(st.integers(0, len(real)), st.binary(max_size=40)).map(lambda t: real[: t[0]] + t[1] + real[t[0]:]),
    )


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_bytes_of_any_kind())
def test_load_settings_when_file_holds_anything_then_settings_or_one_short_config_error(tmp_path, content):
    path = _write(tmp_path, content)
    try:
        result = load_settings(path, environ={})
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.isprintable() and len(message) <= MAX_MESSAGE_CHARS, message
    else:
        assert isinstance(result, Settings)


@hsettings(max_examples=200, deadline=None)
@given(key=st.sampled_from(["TB_BOT__ID", "TB_BOT__SYMBOLS", "TB_CONTROL__RESTART_BACKOFF_SECONDS",
                            "TB_MARKET_DATA__STALE_AFTER_SECONDS", "TB_GHOST__HORIZONS_MINUTES", "TB_X__Y__Z"]),
       raw=st.one_of(st.text(max_size=200), _values.map(lambda v: yaml.safe_dump(v, allow_unicode=True))))
def test_load_settings_when_environment_value_is_anything_then_settings_or_one_short_config_error(key, raw):
    try:
        result = load_settings(environ={key: raw})
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"environment {key}: ") or message.startswith("config.yaml: ")
        assert "\n" not in message and message.isprintable() and len(message) <= MAX_MESSAGE_CHARS, message
    else:
        assert isinstance(result, Settings)


# ------------------------------------------------------------------------------------------ main.py


@pytest.mark.parametrize("command", ["bot", "supervise", "up", "status"])
def test_main_when_config_bad_then_exit_2_one_line_and_nothing_started(tmp_path, redis_url, bot_id, command):
    from state import StateStore, connect

    store = StateStore(connect(redis_url), bot_id)  # the real Redis the processes would write to
    bad = _write(tmp_path, alias_bomb())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    env.update(REDIS_URL=redis_url, TB_BOT__ID=store.bot_id)
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), command, "--config", str(bad)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"error: {bad}: not valid YAML at line 1, column 5: YAML anchors and aliases (&name, *name) are not allowed in a config\n"
    assert store.read_state() == {}  # no bot, no supervisor wrote a thing
