"""What a venue allows per symbol: tick size, step size, minimum quantity and notional.

The rules come from Binance's own exchangeInfo JSON (`/fapi/v1/exchangeInfo`), so the simulator rejects
exactly what Binance would reject, and the ghost executor rounds quantities exactly like the venue. A
built-in table covers the symbols the bot trades by default when the file is absent (CI without
`../shared/data`) or lacks a symbol. Symbols are ccxt unified names ("BTC/USDT:USDT").
"""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any, Mapping

from errors import ConfigError
from models import SymbolRules


def _rules(symbol: str, exchange_id: str, tick: str, step: str, min_qty: str, max_qty: str, min_notional: str,
           market_max_qty: str) -> SymbolRules:
    return SymbolRules(symbol, Decimal(tick), Decimal(step), Decimal(min_qty), Decimal(max_qty), Decimal(min_notional),
                       Decimal(step), Decimal(market_max_qty), exchange_id)


# BTC and ETH mirror the recorded exchangeInfo file exactly, so behaviour does not depend on whether the
# file is present. (Binance has since raised MIN_NOTIONAL on these two to 100 and 20 USDT: a live
# exchangeInfo file overrides this table.) SOLUSDT as Binance lists it today: tick 0.0100, step 0.01.
# The other large USDⓈ-M perpetuals carry their filters as Binance listed them in 2025 (tick, step,
# min qty, max qty, min notional, market max qty), so a bot can trade 20 symbols on the simulator.
BUILTIN_RULES: dict[str, SymbolRules] = {
    r.symbol: r
    for r in (
        _rules("BTC/USDT:USDT", "BTCUSDT", "0.10", "0.001", "0.001", "1000", "10", "1000"),
        _rules("ETH/USDT:USDT", "ETHUSDT", "0.01", "0.001", "0.001", "10000", "10", "10000"),
        _rules("SOL/USDT:USDT", "SOLUSDT", "0.0100", "0.01", "0.01", "1000000", "5", "5000"),
        _rules("BNB/USDT:USDT", "BNBUSDT", "0.010", "0.01", "0.01", "100000", "5", "2000"),
        _rules("XRP/USDT:USDT", "XRPUSDT", "0.0001", "0.1", "0.1", "10000000", "5", "2000000"),
        _rules("DOGE/USDT:USDT", "DOGEUSDT", "0.000010", "1", "1", "50000000", "5", "30000000"),
        _rules("ADA/USDT:USDT", "ADAUSDT", "0.00010", "1", "1", "10000000", "5", "3000000"),
        _rules("AVAX/USDT:USDT", "AVAXUSDT", "0.0010", "1", "1", "1000000", "5", "100000"),
        _rules("LINK/USDT:USDT", "LINKUSDT", "0.001", "0.01", "0.01", "500000", "5", "20000"),
        _rules("DOT/USDT:USDT", "DOTUSDT", "0.001", "0.1", "0.1", "1000000", "5", "100000"),
        _rules("LTC/USDT:USDT", "LTCUSDT", "0.01", "0.001", "0.001", "100000", "20", "5000"),
        _rules("BCH/USDT:USDT", "BCHUSDT", "0.01", "0.001", "0.001", "10000", "20", "850"),
        _rules("TRX/USDT:USDT", "TRXUSDT", "0.00001", "1", "1", "10000000", "5", "5000000"),
        _rules("NEAR/USDT:USDT", "NEARUSDT", "0.001", "1", "1", "1000000", "5", "150000"),
        _rules("ATOM/USDT:USDT", "ATOMUSDT", "0.001", "0.01", "0.01", "1000000", "5", "50000"),
        _rules("UNI/USDT:USDT", "UNIUSDT", "0.0010", "1", "1", "1000000", "5", "50000"),
        _rules("APT/USDT:USDT", "APTUSDT", "0.00010", "0.1", "0.1", "1000000", "5", "200000"),
        _rules("ARB/USDT:USDT", "ARBUSDT", "0.0001", "0.1", "0.1", "10000000", "5", "1500000"),
        _rules("OP/USDT:USDT", "OPUSDT", "0.0001000", "0.1", "0.1", "1000000", "5", "500000"),
        _rules("SUI/USDT:USDT", "SUIUSDT", "0.000100", "0.1", "0.1", "10000000", "5", "500000"),
    )
}


def unified_symbol(entry: Mapping[str, Any]) -> str:
    """Binance's exchangeInfo entry → ccxt's unified name: perpetuals "BTC/USDT:USDT", dated futures
    "BTC/USDT:USDT-220325"."""
    base, quote, settle = entry["baseAsset"], entry["quoteAsset"], entry.get("marginAsset", entry["quoteAsset"])
    name = f"{base}/{quote}:{settle}"
    if entry.get("contractType", "PERPETUAL") not in ("PERPETUAL", "TRADIFI_PERPETUAL", ""):
        suffix = str(entry["symbol"]).rsplit("_", 1)[-1]
        name = f"{name}-{suffix}"
    return name


def rules_from_filters(symbol: str, exchange_id: str, filters: list[Mapping[str, Any]]) -> SymbolRules | None:
    """SymbolRules from one exchangeInfo entry's filter list (futures and spot spell min notional
    differently: MIN_NOTIONAL.notional vs NOTIONAL.minNotional). None when a vital filter is missing."""
    by_type = {f.get("filterType"): f for f in filters}
    price, lot = by_type.get("PRICE_FILTER"), by_type.get("LOT_SIZE")
    if not price or not lot:
        return None
    market = by_type.get("MARKET_LOT_SIZE") or lot
    notional = by_type.get("MIN_NOTIONAL") or by_type.get("NOTIONAL") or {}
    min_notional = notional.get("notional", notional.get("minNotional", "0"))
    market_step = Decimal(market["stepSize"])
    return SymbolRules(
        symbol=symbol,
        tick_size=Decimal(price["tickSize"]),
        step_size=Decimal(lot["stepSize"]),
        min_qty=Decimal(lot["minQty"]),
        max_qty=Decimal(lot["maxQty"]),
        min_notional=Decimal(min_notional),
        market_step_size=market_step if market_step > 0 else Decimal(lot["stepSize"]),
        market_max_qty=Decimal(market["maxQty"]),
        exchange_id=exchange_id,
    )


def parse_exchange_info(data: Mapping[str, Any]) -> dict[str, SymbolRules]:
    """Rules for every symbol in a futures exchangeInfo document that has the filters we need."""
    out: dict[str, SymbolRules] = {}
    for entry in data.get("symbols", []):
        rules = rules_from_filters(unified_symbol(entry), str(entry["symbol"]), entry.get("filters", []))
        if rules is not None:
            out[rules.symbol] = rules
    return out


def load_symbol_rules(exchange_info_path: str | Path | None) -> dict[str, SymbolRules]:
    """The file's rules on top of the built-in table; no file (None or "") means the table alone.

    A file that is named but missing or unreadable is a ConfigError naming it: rules silently taken from
    the table instead would trade on limits nobody chose (every signal denied as unknown_symbol)."""
    rules = dict(BUILTIN_RULES)
    if exchange_info_path is None or str(exchange_info_path) in ("", "."):
        return rules
    path = Path(exchange_info_path)
    fix = "fix venue.exchange_info_path, or set it to \"\" for the built-in table"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"venue.exchange_info_path: {path} not found; {fix}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"venue.exchange_info_path: {path} is not a Binance exchangeInfo JSON file "
                          f"({type(exc).__name__}); {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("symbols"), list):
        raise ConfigError(f"venue.exchange_info_path: {path} has no 'symbols' list (not exchangeInfo); {fix}")
    rules.update(parse_exchange_info(data))
    return rules


def round_price(price: Decimal, tick_size: Decimal, *, up: bool = False) -> Decimal:
    """To a multiple of the tick, down by default; `up=True` rounds towards +infinity."""
    steps = (price / tick_size).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (steps * tick_size).quantize(tick_size)


def round_qty_down(qty: Decimal, step_size: Decimal) -> Decimal:
    """Quantities are always rounded down: never trade more than was asked for."""
    steps = (qty / step_size).to_integral_value(rounding=ROUND_FLOOR)
    return (steps * step_size).quantize(step_size)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and value % step == 0


def load_symbol_rules_for(settings: Any) -> dict[str, SymbolRules]:
    """The rules the simulator enforces: the configured exchangeInfo file over the built-in table. The
    ghost executor uses this too, so it rounds quantities exactly like the venue."""
    path = settings.venue.exchange_info_path
    return load_symbol_rules(settings.resolve_path(path) if path else None)
