"""Which Binance a venue name means, whose keys it uses, and the ccxt client that reaches it.

    venue                 ccxt class    endpoints                           keys (environment only)
    binance-demo          binanceusdm   USDⓈ-M demo trading (demo-fapi)     BINANCE_DEMO_API_KEY, BINANCE_DEMO_API_SECRET
    binance-spot-testnet  binance       spot testnet (sandbox)              BINANCE_TESTNET_API_KEY, BINANCE_TESTNET_API_SECRET
    binance-live          binanceusdm   USDⓈ-M mainnet (fapi)               BINANCE_API_KEY, BINANCE_API_SECRET

Separate names per venue, so a demo key can never be sent to mainnet by a config change alone (mainnet keeps
the plain names, which the go-live gate checks too: control/go_live.py). ccxt's
futures sandbox cannot sign (NotSupported, futures testnet retired): futures paper trading is demo
trading. A base URL override re-points every API family at one host (a local stand-in), paths kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from errors import ConfigError


@dataclass(frozen=True)
class BinanceVenue:
    name: str
    spot: bool
    demo: bool  # ccxt enable_demo_trading: the demo hosts, which have no account-management endpoints
    sandbox: bool  # ccxt set_sandbox_mode: the spot testnet
    key_variable: str
    secret_variable: str

    def credentials(self, environ: Mapping[str, str]) -> tuple[str, str]:
        """The key pair from the environment; ConfigError (exit 2) naming both variables when one is unset."""
        key, secret = environ.get(self.key_variable, ""), environ.get(self.secret_variable, "")
        if not key or not secret:
            raise ConfigError(f"venue {self.name} needs its API key pair in the environment: set "
                              f"{self.key_variable} and {self.secret_variable}")
        return key, secret


VENUES: dict[str, BinanceVenue] = {
    "binance-demo": BinanceVenue("binance-demo", spot=False, demo=True, sandbox=False,
                                 key_variable="BINANCE_DEMO_API_KEY", secret_variable="BINANCE_DEMO_API_SECRET"),
    "binance-spot-testnet": BinanceVenue("binance-spot-testnet", spot=True, demo=False, sandbox=True,
                                         key_variable="BINANCE_TESTNET_API_KEY",
                                         secret_variable="BINANCE_TESTNET_API_SECRET"),
    "binance-live": BinanceVenue("binance-live", spot=False, demo=False, sandbox=False,
                                 key_variable="BINANCE_API_KEY", secret_variable="BINANCE_API_SECRET"),
}


def venue_named(name: str) -> BinanceVenue:
    try:
        return VENUES[name]
    except KeyError:
        raise ConfigError(f"unknown Binance venue {name!r}: one of {', '.join(VENUES)}") from None


def build_exchange(venue: BinanceVenue, key: str, secret: str, *, base_url: str = "", recv_window_ms: int = 5000,
                   timeout_s: float = 10.0) -> Any:
    """The ccxt client for `venue`. Its own throttle stays on (it paces by Binance's request weights);
    429 and 418 answers are handled above it (`binance_pacing`)."""
    import ccxt  # here: a backtest or the simulator never loads ccxt (~60 MB)

    config = {
        "apiKey": key, "secret": secret, "enableRateLimit": True, "timeout": int(timeout_s * 1000),
        "options": {
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            # currencies come from a signed wallet endpoint (sapi) that demo lacks and no order needs
            "fetchCurrencies": False,
            "recvWindow": recv_window_ms,
            # the server time offset is measured and applied by us (binance_clock), not at load_markets
            "adjustForTimeDifference": False,
            # margin type answered "No need to change margin type." (-4046) is success, not an error
            "setMarginMode": {"throwMarginModeAlreadySet": False},
        },
    }
    if venue.spot:
        exchange = ccxt.binance(config)
        exchange.options["fetchMarkets"] = {"types": ["spot"]}
    else:
        exchange = ccxt.binanceusdm(config)
        exchange.options["fetchMarkets"] = {"types": ["linear"]}
    if venue.sandbox:
        exchange.set_sandbox_mode(True)
    if venue.demo:
        exchange.enable_demo_trading(True)
    if base_url:
        from marketdata.ccxt_binance import point_at  # the one way to re-point a ccxt client

        point_at(exchange, base_url)
    return exchange
