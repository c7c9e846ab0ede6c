from decimal import Decimal

import pytest

from models import CommandResult, CommandStatus, TradingState
from ui.status import (
    BotStatus,
    bot_status,
    bot_status_colour,
    describe_result,
    escape_markdown,
    format_age,
    format_decimal,
    format_money,
    format_ts,
    heartbeat_age_s,
    is_auto_fallback,
    is_feed_stale,
    redact_url,
    result_colour,
    status_view,
    trading_state_colour,
    utc_day_start_ms,
)

NOW = 1_700_000_000_000
TIMEOUT_S = 5.0


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"heartbeat_ms": str(NOW)}, BotStatus.RUNNING),
        ({"heartbeat_ms": str(NOW - 4_999)}, BotStatus.RUNNING),
        ({"heartbeat_ms": str(NOW - 5_000)}, BotStatus.RUNNING),  # exactly the timeout: not yet older
        ({"heartbeat_ms": str(NOW - 5_001)}, BotStatus.UNRESPONSIVE),
        ({"heartbeat_ms": str(NOW - 3_600_000)}, BotStatus.UNRESPONSIVE),
        ({"heartbeat_ms": str(NOW + 2_000)}, BotStatus.RUNNING),  # clock skew: a beat from the future
        ({"heartbeat_ms": str(NOW), "running": "0"}, BotStatus.STOPPED),
        ({"heartbeat_ms": str(NOW), "running": "1"}, BotStatus.RUNNING),
        ({"mode": "ghost"}, BotStatus.STOPPED),  # never beat
        ({"heartbeat_ms": ""}, BotStatus.STOPPED),
        ({"heartbeat_ms": "garbage"}, BotStatus.STOPPED),
        ({}, BotStatus.STOPPED),
    ],
)
def test_bot_status_when_heartbeat_at_boundary_then_status_as_expected(state, expected):
    assert bot_status(state, NOW, TIMEOUT_S) is expected


def test_heartbeat_age_when_beat_in_the_past_then_seconds_since():
    assert heartbeat_age_s({"heartbeat_ms": str(NOW - 1_500)}, NOW) == 1.5
    assert heartbeat_age_s({}, NOW) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0.0 s"),
        (0.43, "0.4 s"),
        (9.94, "9.9 s"),
        (10, "10 s"),
        (59.9, "59 s"),
        (60, "1 min 0 s"),
        (185, "3 min 5 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 0 min"),
        (7500, "2 h 5 min"),
        (86_400 + 4 * 3600, "1 d 4 h"),
    ],
)
def test_format_age_when_seconds_given_then_readable_text(seconds, text):
    assert format_age(seconds) == text


@pytest.mark.parametrize(
    ("state", "colour"),
    [
        (TradingState.ACTIVE, "green"),
        ("ACTIVE", "green"),
        ("active", "green"),
        (TradingState.REDUCING, "orange"),
        (TradingState.HALTED, "red"),
        ("HALTED", "red"),
        ("NONSENSE", "gray"),
        (None, "gray"),
        ("", "gray"),
    ],
)
def test_trading_state_colour_when_state_given_then_traffic_light(state, colour):
    assert trading_state_colour(state) == colour


def test_bot_status_colour_when_unresponsive_then_red_and_running_green():
    assert bot_status_colour(BotStatus.RUNNING) == "green"
    assert bot_status_colour(BotStatus.UNRESPONSIVE) == "red"
    assert bot_status_colour(BotStatus.STOPPED) == "gray"


@pytest.mark.parametrize(
    ("source", "fallback"),
    [
        ("synthetic (auto: binance unreachable)", True),
        ("synthetic (auto fallback)", True),
        ("synthetic", False),
        ("binance", False),
        ("binance (auto)", False),
        ("", False),
        (None, False),
    ],
)
def test_is_auto_fallback_when_source_named_then_only_auto_synthetic_counts(source, fallback):
    assert is_auto_fallback(source) is fallback


@pytest.mark.parametrize(("raw", "stale"), [("1", True), ("0", False), ("", False), (None, False)])
def test_is_feed_stale_when_flag_given_then_only_one_means_stale(raw, stale):
    state = {} if raw is None else {"feed_stale": raw}
    assert is_feed_stale(state) is stale


@pytest.mark.parametrize(
    ("result", "text", "colour"),
    [
        (None, "Result: no answer yet", "orange"),
        (CommandResult("c", CommandStatus.ACCEPTED, "bot"), "Result: accepted", "orange"),
        (CommandResult("c", CommandStatus.DONE, "bot", elapsed_ms=12.4), "Result: done in 12 ms", "green"),
        (CommandResult("c", CommandStatus.DONE, "bot", elapsed_ms=0.0), "Result: done in 0 ms", "green"),
        (CommandResult("c", CommandStatus.REJECTED, "bot", detail="loss limit in force"),
         "Result: rejected: loss limit in force", "red"),
        (CommandResult("c", CommandStatus.REJECTED, "bot"), "Result: rejected: no reason given", "red"),
        (CommandResult("c", CommandStatus.FAILED, "bot", detail="venue down"), "Result: failed: venue down", "red"),
    ],
)
def test_describe_result_when_command_answered_then_one_result_line(result, text, colour):
    assert describe_result(result) == text
    assert result_colour(result) == colour


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [
        (Decimal("12345.678"), {}, "12,345.68"),
        ("10000", {}, "10,000.00"),
        (Decimal("-12.3"), {}, "-12.30"),
        (Decimal("-0.001"), {}, "0.00"),  # no loss that is not there
        (Decimal("12.3"), {"signed": True}, "+12.30"),
        (Decimal("0"), {"signed": True}, "0.00"),
        (Decimal("0.123456"), {"places": 4}, "0.1235"),
        (None, {}, "—"),
        ("", {}, "—"),
        ("not a number", {}, "—"),
    ],
)
def test_format_money_when_decimal_given_then_rounded_for_display_only(value, kwargs, text):
    assert format_money(value, **kwargs) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("95000.10"), "95000.1"), (Decimal("1E+2"), "100"), ("0.0120", "0.012"), (Decimal("0"), "0"), (None, "—")],
)
def test_format_decimal_when_price_given_then_exact_without_exponent(value, text):
    assert format_decimal(value) == text


def test_format_ts_when_epoch_ms_then_utc_text():
    assert format_ts(1_700_000_000_000) == "2023-11-14 22:13:20 UTC"
    assert format_ts("") == "—"
    assert format_ts(0) == "—"


def test_utc_day_start_when_midday_then_midnight_of_that_day():
    assert utc_day_start_ms(1_700_000_000_000) == 1_699_920_000_000


def test_status_view_when_halted_with_fallback_then_everything_flagged():
    state = {
        "mode": "ghost", "venue": "none", "heartbeat_ms": str(NOW - 6_000),
        "data_source": "synthetic (auto: binance unreachable)", "feed_stale": "1",
    }
    view = status_view(state, "HALTED", NOW, TIMEOUT_S, halt_reason="manual")
    assert view.status is BotStatus.UNRESPONSIVE
    assert view.trading_state is TradingState.HALTED
    assert view.trading_state_text == "HALTED"
    assert view.heartbeat_text == "6.0 s ago"
    assert view.auto_fallback and view.feed_stale
    assert view.mode == "ghost"


def test_status_view_when_state_empty_then_dashes_and_stopped():
    view = status_view({}, None, NOW, TIMEOUT_S)
    assert (view.mode, view.venue, view.data_source, view.heartbeat_text) == ("—", "—", "—", "—")
    assert view.status is BotStatus.STOPPED
    assert view.trading_state_text == "—"


def test_escape_markdown_when_text_has_markup_then_shown_literally():
    assert escape_markdown("loss_limit *now* [x]") == "loss\\_limit \\*now\\* \\[x\\]"
    assert escape_markdown("Result: done in 12 ms") == "Result: done in 12 ms"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6390/0", "redis://127.0.0.1:6390/0"),
        ("redis://user:s3cret@host:6379/0", "redis://***@host:6379/0"),
        ("rediss://:p@ss@host:6380", "rediss://***@host:6380"),
    ],
)
def test_redact_url_when_password_in_url_then_hidden(url, shown):
    assert redact_url(url) == shown
