"""Every ccxt exception leaves exchange_client as one of ours, with Binance's code when it has one."""

import ccxt
import pytest

from errors import (
    ClockSkewError,
    ConfigError,
    ExchangeError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
    UnknownOrderStatusError,
    VenueAuthenticationError,
    VenueUnavailableError,
)
from venues.binance import CcxtVenueClient
from venues.ccxt_errors import binance_code, map_ccxt_error
from venues.ccxt_parsing import order_from_ccxt
from clock import SimulatedClock
from models import OrderSide, OrderStatus, OrderType

MARGIN = 'binanceusdm {"code":-2019,"msg":"Margin is insufficient."}'
REDUCE = 'binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}'
UNKNOWN = 'binanceusdm {"code":-2011,"msg":"Unknown order sent."}'
PRECISION = 'binanceusdm {"code":-1111,"msg":"Precision is over the maximum defined for this asset."}'
SYMBOL = 'binanceusdm {"code":-1121,"msg":"Invalid symbol."}'


@pytest.mark.parametrize(
    "exc, submitting, at_start, expected, code",
    [
        # rate limits first: ccxt makes them NetworkErrors too
        (ccxt.RateLimitExceeded("429 Too Many Requests"), False, False, RateLimitError, None),
        (ccxt.RateLimitExceeded("429 Too Many Requests"), True, False, RateLimitError, None),
        (ccxt.DDoSProtection("418 I'm a teapot"), False, False, RateLimitError, None),
        # timeouts: unknown fate for an order submit, a plain network error otherwise
        (ccxt.RequestTimeout("timed out"), False, False, NetworkError, None),
        (ccxt.RequestTimeout("timed out"), True, False, UnknownOrderStatusError, None),
        (ccxt.NetworkError("connection reset"), True, False, UnknownOrderStatusError, None),
        (ccxt.NetworkError("connection reset"), False, True, VenueUnavailableError, None),
        (ccxt.ExchangeNotAvailable("503"), False, True, VenueUnavailableError, None),
        (ccxt.ExchangeNotAvailable("503"), True, False, UnknownOrderStatusError, None),
        (ccxt.ExchangeNotAvailable("503"), False, False, NetworkError, None),
        (ccxt.OnMaintenance("system maintenance"), False, True, VenueUnavailableError, None),
        # keys: the venue cannot be used at all
        # (VenueUnavailableError carries no code attribute; -2015 stays in its message)
        (ccxt.AuthenticationError('{"code":-2015,"msg":"Invalid API-key"}'), False, True, VenueAuthenticationError, None),
        (ccxt.PermissionDenied("no futures permission"), False, False, VenueAuthenticationError, None),
        # refusals, with Binance's code
        (ccxt.InsufficientFunds(MARGIN), True, False, InsufficientFundsError, -2019),
        (ccxt.InvalidOrder(REDUCE), True, False, OrderRejectedError, -2022),
        (ccxt.OrderNotFound(UNKNOWN), False, False, OrderRejectedError, -2011),
        (ccxt.BadRequest(PRECISION), True, False, OrderRejectedError, -1111),
        (ccxt.BadSymbol(SYMBOL), True, False, OrderRejectedError, -1121),
        (ccxt.OperationRejected("rejected"), True, False, OrderRejectedError, None),
        # Binance's code wins where ccxt's class is too coarse
        (ccxt.InvalidNonce('{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'),
         True, False, ClockSkewError, None),
        (ccxt.InvalidOrder('{"code":-4116,"msg":"ClientOrderId is duplicated."}'), True, False, OrderRejectedError, -4116),
        (ccxt.InvalidOrder('{"code":-4120,"msg":"Order type not supported for this endpoint."}'),
         True, False, OrderRejectedError, -4120),
        (ccxt.ExchangeError('{"code":-1003,"msg":"Too many requests."}'), False, False, RateLimitError, None),
        (ccxt.AuthenticationError('{"code":-1022,"msg":"Signature for this request is not valid."}'),
         False, False, VenueAuthenticationError, None),
        (ccxt.ExchangeError('{"code":-1008,"msg":"Server is currently overloaded with other requests."}'),
         True, False, NetworkError, None),
        # Binance's "execution status unknown": placed or not, look it up before sending again
        (ccxt.OperationFailed('{"code":-1000,"msg":"Unknown error, please check your request or try again later."}'),
         True, False, UnknownOrderStatusError, None),
        (ccxt.OperationFailed('{"code":-1000,"msg":"Unknown error, please check your request or try again later."}'),
         False, False, NetworkError, None),
        # anything else ccxt raises is still ours
        (ccxt.NotSupported("fetchFoo() is not supported"), False, False, ExchangeError, None),
        (ccxt.ExchangeError("unexpected"), False, True, VenueUnavailableError, None),
        (ccxt.ExchangeError("unexpected"), False, False, ExchangeError, None),
    ],
)
def test_map_ccxt_error_when_raised_then_ours_with_binance_code(exc, submitting, at_start, expected, code):
    try:
        raise exc
    except ccxt.BaseError as raised:
        mapped = map_ccxt_error(raised, submitting=submitting, at_start=at_start)

    assert type(mapped) is expected
    assert getattr(mapped, "code", None) == code


def test_map_ccxt_error_when_message_holds_keys_or_signature_then_redacted():
    key, secret = "K3yK3yK3y", "S3cr3tS3cr3t"
    exc = ccxt.RequestTimeout(f"GET https://demo-fapi.binance.com/fapi/v1/order?apiKey={key}&x={secret}"
                              "&signature=abcdef0123456789")

    mapped = map_ccxt_error(exc, secrets=(key, secret))

    assert key not in str(mapped) and secret not in str(mapped)
    assert "abcdef0123456789" not in str(mapped)


@pytest.mark.parametrize("message, code", [(MARGIN, -2019), ("no json here", None), ('{"code": -1003}', -1003)])
def test_binance_code_when_in_message_then_parsed(message, code):
    assert binance_code(message) == code


@pytest.mark.parametrize("venue, key, secret", [
    ("binance-demo", "BINANCE_DEMO_API_KEY", "BINANCE_DEMO_API_SECRET"),
    ("binance-spot-testnet", "BINANCE_TESTNET_API_KEY", "BINANCE_TESTNET_API_SECRET"),
    ("binance-live", "BINANCE_API_KEY", "BINANCE_API_SECRET"),
])
def test_ccxt_client_when_keys_missing_then_config_error_naming_its_variables_without_network(venue, key, secret):
    # another venue's keys do not count: a demo key is never sent to mainnet
    others = {"BINANCE_DEMO_API_KEY": "k", "BINANCE_DEMO_API_SECRET": "s"} if venue != "binance-demo" else {}

    with pytest.raises(ConfigError, match=f"set {key} and {secret}"):
        CcxtVenueClient(venue, SimulatedClock(0), environ=others)


def test_order_from_ccxt_when_partially_filled_stop_then_our_order():
    raw = {
        "id": "8886774", "clientOrderId": "tb-1", "timestamp": 1700000000000, "symbol": "BTC/USDT:USDT",
        "type": "stop_market", "timeInForce": "GTC", "side": "sell", "price": None, "triggerPrice": 95000.0,
        "amount": 0.1, "filled": 0.05, "average": 94990.0, "status": "open", "reduceOnly": True,
        "fee": {"cost": 2.37475, "currency": "USDT"},
    }

    order = order_from_ccxt(raw)

    assert (order.client_order_id, order.side, order.order_type) == ("tb-1", OrderSide.SELL, OrderType.STOP_MARKET)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert str(order.stop_price) == "95000.0" and str(order.filled_qty) == "0.05"
    assert order.reduce_only is True


# ------------------------------------------------------------------ reading a venue's history by cursor


@pytest.mark.parametrize(
    ("rows", "last", "seen", "new_ids", "cursor"),
    [
        ([], 5, {"a"}, [], (5, {"a"})),
        ([{"timestamp": 4, "id": "x"}], 5, set(), [], (5, set())),  # older than the cursor: read before
        ([{"timestamp": 5, "id": "a"}], 5, {"a"}, [], (5, {"a"})),  # at the cursor and read: not again
        ([{"timestamp": 5, "id": "b"}], 5, {"a"}, ["b"], (5, {"a", "b"})),  # at the cursor, new id: new
        ([{"timestamp": 6, "id": "c"}, {"timestamp": 6, "id": "d"}], 5, {"a"}, ["c", "d"], (6, {"c", "d"})),
    ],
)
def test_after_cursor_when_history_rows_come_back_then_only_unread_ones_and_the_cursor_moves(rows, last, seen, new_ids, cursor):
    from venues.ccxt_parsing import after_cursor as _after_cursor

    out, new_last, new_seen = _after_cursor(rows, last, set(seen))

    assert [r["id"] for r in out] == new_ids and (new_last, new_seen) == cursor
