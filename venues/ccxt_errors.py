"""ccxt's exceptions and Binance's error codes as ours: the one map, used by the venues and market data.

Order matters in the class table: ccxt's rate-limit errors are NetworkErrors too, so they come first.
Binance's codes come before ccxt's classes where ccxt is too coarse (a -1021 timestamp error is a
ccxt InvalidNonce, which says nothing about a clock to resync).
"""

from __future__ import annotations

import re
from typing import Callable

from errors import (
    ClockSkewError,
    ExchangeError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
    UnknownOrderStatusError,
    VenueAuthenticationError,
    VenueUnavailableError,
)

_BINANCE_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F]+")


def binance_code(message: str) -> int | None:
    """Binance's error code from a ccxt message such as `binanceusdm {"code":-2019,"msg":"..."}`."""
    match = _BINANCE_CODE.search(message)
    return int(match.group(1)) if match else None


def redact(message: str, secrets: tuple[str, ...] = ()) -> str:
    """Keys and request signatures never leave this module, not even inside an error message."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", message)


# Binance codes whose meaning ccxt's class does not carry. The code wins over the class.
_BY_CODE: dict[int, Callable[[str, int], ExchangeError]] = {
    -1003: lambda m, c: RateLimitError(m),  # too many requests (weight)
    -1008: lambda m, c: NetworkError(m),  # the venue is overloaded: the request was not processed, ask again
    -1021: lambda m, c: ClockSkewError(m),  # timestamp outside recvWindow: resync, nothing was done
    -1022: lambda m, c: VenueAuthenticationError(f"the venue refused our request signature: {m}"),
    -2014: lambda m, c: VenueAuthenticationError(f"the venue refused our API keys: {m}"),
    -2015: lambda m, c: VenueAuthenticationError(f"the venue refused our API keys: {m}"),
    -2019: lambda m, c: InsufficientFundsError(m, c),  # margin is insufficient
    -2022: lambda m, c: OrderRejectedError(m, c),  # reduce-only order rejected
    -4116: lambda m, c: OrderRejectedError(m, c),  # duplicate client order id: it was sent before
    -4120: lambda m, c: OrderRejectedError(m, c),  # conditional order on /fapi/v1/order: use the Algo API
    -4164: lambda m, c: OrderRejectedError(m, c),  # notional below the minimum
}


# Binance's "execution status unknown" answers (-1000 with HTTP 503 "Unknown error, please check your request
# or try again later", -1007 "Timeout waiting for response from backend server"): the order may have been
# placed, exactly as after a timeout.
_OUTCOME_UNKNOWN = (-1000, -1007)


def _network(message: str, code: int | None, submitting: bool, at_start: bool) -> ExchangeError:
    if at_start:
        return VenueUnavailableError(f"cannot reach the venue: {message}")
    if submitting:  # the order may have arrived: look it up by client order id before sending again
        return UnknownOrderStatusError(message)
    return NetworkError(message)


def map_ccxt_error(exc: BaseException, *, submitting: bool = False, at_start: bool = False,
                   secrets: tuple[str, ...] = ()) -> ExchangeError:
    """A ccxt exception as one of ours: by Binance's code where `_BY_CODE` knows it, else by ccxt's class
    (first match in the table below; rate limits before network errors, since ccxt makes them both).

    `submitting`: a network failure while sending an order means its fate is unknown, not that it failed.
    `at_start`: any failure to reach the venue at start-up is VenueUnavailableError (paper never falls back).
    """
    import ccxt  # here, not at the top: a backtest or the simulator never loads ccxt (~60 MB)

    message = redact(f"{type(exc).__name__}: {exc}", secrets)
    code = binance_code(message)
    if code in _OUTCOME_UNKNOWN:
        return _network(message, code, submitting, at_start)
    if code in _BY_CODE:
        return _BY_CODE[code](message, code)
    by_class: list[tuple[tuple[type, ...], Callable[[], ExchangeError]]] = [
        ((ccxt.RateLimitExceeded, ccxt.DDoSProtection), lambda: RateLimitError(message)),
        ((ccxt.AuthenticationError,), lambda: VenueAuthenticationError(f"the venue refused our API keys: {message}")),
        ((ccxt.NetworkError,), lambda: _network(message, code, submitting, at_start)),
        ((ccxt.InsufficientFunds,), lambda: InsufficientFundsError(message, code)),
        ((ccxt.InvalidOrder, ccxt.BadRequest, ccxt.OperationRejected), lambda: OrderRejectedError(message, code)),
    ]
    for classes, build in by_class:
        if isinstance(exc, classes):
            return build()
    if at_start:
        return VenueUnavailableError(f"cannot use the venue: {message}")
    return ExchangeError(message)
