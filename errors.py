"""The one exception hierarchy of the bot (after httpx's `_exceptions.py`).

    TradingBotError                      base of everything we raise on purpose
    ├── ConfigError                      bad config.yaml / environment value        exit code 2
    ├── StateStoreError                  Redis cannot be reached or answered badly  exit code 2
    │   ├── StateLostError               Redis lost this bot's state (flushed, restarted empty, went back)
    │   └── ConsumerGroupMissingError    a command reader's consumer group vanished (NOGROUP)
    ├── MarketDataError                  a feed failed or a file is malformed
    │   └── StaleDataError               no fresh price within the allowed age
    ├── CommandError                     a malformed or refused command
    │   └── HandOverError                the bot could not finish a command: the supervisor carries on
    └── ExchangeError                    anything a venue said or failed to say
        ├── VenueUnavailableError        cannot reach the venue at all (paper/live never fall back)
        │   └── VenueAuthenticationError the venue refused our API key or request signature
        ├── NetworkError                 timeout / connection reset: the request may not have arrived
        │   └── UnknownOrderStatusError  sent, but we do not know whether the venue accepted it
        ├── RateLimitError               HTTP 429 / 418: slow down, then retry
        ├── ClockSkewError               Binance -1021: our clock is off; resync, then retry (nothing done)
        ├── TradingHaltedError           an order adding risk found the bot not ACTIVE as it was placed (not sent)
        └── OrderRejectedError           the venue refused the order (carries Binance's reason)
            └── InsufficientFundsError   not enough margin

Risk denials are *not* exceptions: they are `models.Denial` values that are recorded and shown.
`main.py` maps this hierarchy to exit codes and one-line messages; layers above `exchange_client`
never see raw ccxt or simulator exceptions.
"""

from __future__ import annotations


class TradingBotError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class ConfigError(TradingBotError):
    """A setting in config.yaml or the environment is unknown or out of range.

    The message names the key's dotted path, the bad value and what is allowed.
    """

    exit_code = 2


class StateStoreError(TradingBotError):
    """Redis could not be reached, or answered with something we cannot read."""

    exit_code = 2


class StateLostError(StateStoreError):
    """Redis no longer holds what this process wrote (FLUSHALL, a restart without its data, a snapshot that
    went back). The bot goes HALTED with the reason; nothing is traded on a silently fresh state."""


class ConsumerGroupMissingError(StateStoreError):
    """A command reader's consumer group is gone (NOGROUP): the reader recreates it."""


class MarketDataError(TradingBotError):
    """A market data source failed: unreachable, malformed file, unknown symbol."""


class StaleDataError(MarketDataError):
    """The latest price is older than allowed: no entries may be based on it."""


class CommandError(TradingBotError):
    """A command was malformed, unknown, stale or refused."""


class HandOverError(CommandError):
    """The bot could not finish a command it claimed (a kill switch the venue did not confirm flat in
    time): reported as handed over, not as final, so the supervisor carries on with it."""


class ExchangeError(TradingBotError):
    """Base of everything a venue (simulator or ccxt) can fail with."""


class VenueUnavailableError(ExchangeError):
    """The venue cannot be reached at all. Paper and live never fall back silently."""


class VenueAuthenticationError(VenueUnavailableError):
    """The venue refused our API key or the request's signature (Binance -1022, -2014, -2015). The message
    names the venue and the environment variables to check, never the key or the secret."""


class NetworkError(ExchangeError):
    """The request timed out or the connection failed; it may or may not have arrived."""


class UnknownOrderStatusError(NetworkError):
    """An order was sent but we do not know whether it was accepted: look it up by client id
    before sending anything again."""


class RateLimitError(ExchangeError):
    """The venue asked us to slow down (HTTP 429/418)."""


class ClockSkewError(ExchangeError):
    """The venue refused the request's timestamp (Binance -1021: outside recvWindow). The request did
    nothing; measure the server time offset again, then retry."""


class TradingHaltedError(ExchangeError):
    """An order that adds risk was not placed: in the atomic step that would have placed it, the bot was not
    ACTIVE (the halt flag set, HALTED or REDUCING, its run marker gone). Nothing reached the venue; not the
    venue's failure (no circuit-breaker count). Raised by the simulated venue saved in the bot's Redis."""


class OrderRejectedError(ExchangeError):
    """The venue refused the order. `code` is Binance's error code where there is one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class InsufficientFundsError(OrderRejectedError):
    """Not enough available margin for the order."""
