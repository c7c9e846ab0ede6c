"""Symbol rules come from Binance's exchangeInfo; the built-in table stands in when it is absent."""

from decimal import Decimal as D
from pathlib import Path

import pytest

from errors import ConfigError

from simulator.symbols import BUILTIN_RULES, load_symbol_rules, round_price, round_qty_down, unified_symbol

EXCHANGE_INFO = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "binance_api" / "nautilus" / "tests"
    / "integration_tests" / "adapters" / "binance" / "resources" / "http_responses"
    / "http_futures_market_exchange_info.json"
)


@pytest.fixture
def exchange_info() -> Path:
    if not EXCHANGE_INFO.is_file():
        pytest.skip(f"recorded exchangeInfo not found at {EXCHANGE_INFO} (../shared/data is absent)")
    return EXCHANGE_INFO


def test_load_when_real_exchange_info_then_btc_and_eth_carry_binance_filters(exchange_info):
    rules = load_symbol_rules(exchange_info)

    btc = rules["BTC/USDT:USDT"]
    assert (btc.tick_size, btc.step_size, btc.min_qty, btc.min_notional) == (D("0.10"), D("0.001"), D("0.001"), D("10"))
    assert btc.exchange_id == "BTCUSDT"
    assert rules["ETH/USDT:USDT"].tick_size == D("0.01")


def test_load_when_real_exchange_info_then_it_agrees_with_the_builtin_table(exchange_info):
    rules = load_symbol_rules(exchange_info)

    assert rules["BTC/USDT:USDT"] == BUILTIN_RULES["BTC/USDT:USDT"]
    assert rules["ETH/USDT:USDT"] == BUILTIN_RULES["ETH/USDT:USDT"]


def test_load_when_file_lacks_a_symbol_then_builtin_rules_fill_in(exchange_info):
    rules = load_symbol_rules(exchange_info)

    assert rules["SOL/USDT:USDT"] == BUILTIN_RULES["SOL/USDT:USDT"]


@pytest.mark.parametrize("path", [None, ""])
def test_load_when_no_file_is_named_then_builtin_table(path):
    rules = load_symbol_rules(path)

    assert set(rules) >= {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"}
    assert rules["SOL/USDT:USDT"].tick_size == D("0.0100")
    assert rules["SOL/USDT:USDT"].min_notional == D("5")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "not found"),
    ("not json", "is not a Binance exchangeInfo JSON file (JSONDecodeError)"),
    (b"\xff\xfe\x00", "is not a Binance exchangeInfo JSON file (UnicodeDecodeError)"),
    ('{"rateLimits": []}', "has no 'symbols' list"),
    ("[1, 2]", "has no 'symbols' list"),
])
def test_load_when_the_named_file_is_missing_or_corrupt_then_one_line_naming_it_and_the_fix(tmp_path, content, problem):
    path = tmp_path / "info.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)

    with pytest.raises(ConfigError) as caught:
        load_symbol_rules(path)

    message = str(caught.value)
    assert str(path) in message and problem in message and "venue.exchange_info_path" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
          "contractType": "PERPETUAL"}, "BTC/USDT:USDT"),
        ({"symbol": "BTCUSDT_220325", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
          "contractType": "CURRENT_QUARTER"}, "BTC/USDT:USDT-220325"),
    ],
)
def test_unified_symbol_when_binance_entry_then_ccxt_name(entry, expected):
    assert unified_symbol(entry) == expected


@pytest.mark.parametrize(
    "price, tick, up, expected",
    [
        ("100000.04", "0.10", False, "100000.00"),
        ("100000.04", "0.10", True, "100000.10"),
        ("100000.10", "0.10", True, "100000.10"),  # already on the tick: unchanged either way
        ("145.12345", "0.0100", False, "145.1200"),
        ("145.12345", "0.0100", True, "145.1300"),
    ],
)
def test_round_price_when_off_tick_then_to_the_tick_in_the_asked_direction(price, tick, up, expected):
    assert round_price(D(price), D(tick), up=up) == D(expected)


@pytest.mark.parametrize(
    "qty, step, expected",
    [("0.0019", "0.001", "0.001"), ("0.002", "0.001", "0.002"), ("0.0009", "0.001", "0.000"), ("3.999", "0.01", "3.99")],
)
def test_round_qty_down_when_between_steps_then_never_more_than_asked(qty, step, expected):
    assert round_qty_down(D(qty), D(step)) == D(expected)
