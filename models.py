"""The shared vocabulary of the bot: every engine, executor, venue and view speaks in these types.

Money (prices, quantities, balances, fees, P&L) is always `Decimal`. Times are UTC epoch milliseconds
(`int`), produced by an injected clock, never by `time.time()` inside the ledger.

Every record can be turned into a flat dict of strings (`to_record`) and back (`from_record`), which is
how `state.py` stores them in Redis hashes and streams. This module imports nothing of ours.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable, Mapping

ZERO = Decimal("0")


class Mode(str, enum.Enum):
    GHOST = "ghost"
    PAPER = "paper"
    LIVE = "live"


class TradingState(str, enum.Enum):
    """nautilus_trader's RiskEngine states."""

    ACTIVE = "ACTIVE"  # normal operation
    REDUCING = "REDUCING"  # only orders that reduce exposure
    HALTED = "HALTED"  # nothing but cancels and reduce-only closes


class HaltCause(str, enum.Enum):
    """Why the bot is HALTED: the typed cause decides whether and how it may resume.

    Ranked: a halt for a stronger cause replaces a weaker one, never the reverse, so an operator's
    halt on top of a loss-limit halt cannot make the loss limit resumable."""

    OPERATOR = "operator"  # the halt command (CLI, dashboard)
    KILL_SWITCH = "kill_switch"  # close-all
    CIRCUIT_BREAKER = "circuit_breaker"  # too many consecutive order failures
    CRASH_LOOP = "crash_loop"  # the supervisor gave up restarting
    LOSS_LIMIT = "loss_limit"  # (older flags) resume refused while the limit is in force
    DAILY_LOSS_LIMIT = "daily_loss_limit"  # lifts by itself at the next UTC day (market time)
    WEEKLY_LOSS_LIMIT = "weekly_loss_limit"  # waits for a recorded review, then a resume
    STATE_LOST = "state_lost"  # Redis lost what it held

    @property
    def rank(self) -> int:
        return _HALT_CAUSE_RANK[self]


_HALT_CAUSE_RANK = {cause: rank for rank, cause in enumerate(HaltCause)}


@dataclass(frozen=True, slots=True)
class HaltFlag:
    """The durable halt: why, who, when (wall time), and its typed cause.

    `lifts_at_ms`: the market time from which it lifts by itself (a daily loss halt: the next UTC day);
    None: it waits for a resume. A halt asked for on top of a lifting one takes that away (atomically, in
    the store), so the next day never lifts an operator's halt or the kill switch's with the loss limit's."""

    reason: str
    by: str
    ts_ms: int
    cause: HaltCause = HaltCause.OPERATOR
    lifts_at_ms: int | None = None
    seq: int = 0  # how many halts were asked for into this flag: a resume clears only the one it decided on


class Side(str, enum.Enum):
    """Direction of a position or signal."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> "Side":
        return Side.SHORT if self is Side.LONG else Side.LONG

    @property
    def entry_order_side(self) -> "OrderSide":
        return OrderSide.BUY if self is Side.LONG else OrderSide.SELL

    @property
    def exit_order_side(self) -> "OrderSide":
        return OrderSide.SELL if self is Side.LONG else OrderSide.BUY


class OrderSide(str, enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class OrderType(str, enum.Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"


class TimeInForce(str, enum.Enum):
    GTC = "GTC"
    IOC = "IOC"
    GTX = "GTX"  # post-only: rejected if it would take liquidity (Binance's name)


class OrderStatus(str, enum.Enum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class Liquidity(str, enum.Enum):
    MAKER = "maker"
    TAKER = "taker"


class MarginMode(str, enum.Enum):
    ISOLATED = "isolated"
    CROSS = "cross"


class ExitReason(str, enum.Enum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    BREAKEVEN_STOP = "breakeven_stop"
    EMERGENCY = "emergency"
    VOLUME_EXHAUSTION = "volume_exhaustion"
    TIME_LIMIT = "time_limit"
    REVERSE_SIGNAL = "reverse_signal"
    MANUAL = "manual"
    KILL_SWITCH = "kill_switch"
    LIQUIDATION = "liquidation"
    RECONCILED = "reconciled"  # the venue closed it while we were not looking


class CommandType(str, enum.Enum):
    START = "start"
    STOP = "stop"
    HALT = "halt"
    RESUME = "resume"
    CLOSE_ALL = "close-all"
    CLOSE = "close"
    OPEN = "open"


class CommandStatus(str, enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DONE = "done"
    FAILED = "failed"
    # not final: the bot could not finish (a kill switch it could not confirm flat) and asked the
    # supervisor to carry on; the supervisor's result is the final one
    HANDED_OVER = "handed_over"

    @property
    def is_final(self) -> bool:
        return self in (CommandStatus.DONE, CommandStatus.REJECTED, CommandStatus.FAILED)


# --------------------------------------------------------------------------------------------------
# Market data

_TIMEFRAME_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


_TIMEFRAMES_MS: dict[str, int] = {}  # asked for every candle: parsed once per timeframe


def timeframe_ms(timeframe: str) -> int:
    """'1m' → 60000, '4h' → 14400000. Months are refused: they have no fixed length."""
    known = _TIMEFRAMES_MS.get(timeframe)
    if known is not None:
        return known
    unit, amount = timeframe[-1:], timeframe[:-1]
    if unit not in _TIMEFRAME_UNIT_MS or not amount.isdigit() or int(amount) <= 0:
        raise ValueError(f"unknown timeframe {timeframe!r}: expected a number and one of m, h, d, w (e.g. '1m')")
    known = _TIMEFRAMES_MS[timeframe] = int(amount) * _TIMEFRAME_UNIT_MS[unit]
    return known


@dataclass(frozen=True, slots=True)
class Candle:
    symbol: str
    timeframe: str
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    price: Decimal
    ts_ms: int


# --------------------------------------------------------------------------------------------------
# Decisions


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's opinion. `strength` is in [0, 1]; stop and take-profit are suggestions."""

    symbol: str
    side: Side
    strength: float
    price: Decimal
    ts_ms: int
    strategy: str
    reason: str
    stop: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Denial:
    """Why something was not done: recorded and shown, never raised (nautilus style)."""

    reason_code: str
    detail: str


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order we mean to send. Persisted under its client order id *before* it is sent."""

    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    reason: str = ""
    created_ms: int = 0


@dataclass(frozen=True, slots=True)
class Order:
    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    qty: Decimal
    status: OrderStatus
    price: Decimal | None = None
    stop_price: Decimal | None = None
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    fee_paid: Decimal = ZERO
    reduce_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    exchange_order_id: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    reject_reason: str = ""

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True)
class Fill:
    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Liquidity
    ts_ms: int
    realized_pnl: Decimal = ZERO  # gross of fees, on the part of the fill that reduced a position
    slippage_cost: Decimal = ZERO  # |fill price - reference price| * qty, already inside `price`


def fill_key(fill: Fill) -> str:
    """What tells two fills apart: booked once by this key, however often a crash makes us read it."""
    return f"{fill.client_order_id}|{fill.ts_ms}|{fill.qty}|{fill.price}"


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding settlement of one position, as the venue reports it (Binance: a FUNDING_FEE income
    entry). A venue event beside the fills, queued until booked: the trade that held the position
    carries it, so trade P&L adds up to the wallet."""

    symbol: str
    amount: Decimal  # > 0: the position paid; < 0: it received
    ts_ms: int  # the funding time
    mark_price: Decimal = ZERO
    rate: Decimal = ZERO


def funding_key(payment: FundingPayment) -> str:
    """Booked once by this key, like `fill_key` (the venue settles a symbol at most once per funding time)."""
    return f"funding|{payment.symbol}|{payment.ts_ms}"


@dataclass(frozen=True, slots=True)
class Position:
    """A net (one-way mode) position. `qty` is always positive; `side` gives the direction."""

    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    leverage: int = 1
    margin_mode: MarginMode = MarginMode.ISOLATED
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    isolated_margin: Decimal = ZERO
    liquidation_price: Decimal | None = None
    opened_ms: int = 0

    @property
    def notional(self) -> Decimal:
        return self.qty * (self.mark_price or self.entry_price)


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip. `pnl` is net: after fees, slippage and funding."""

    trade_id: str
    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_ms: int
    exit_ms: int
    gross_pnl: Decimal
    fees: Decimal
    pnl: Decimal
    exit_reason: ExitReason
    mode: Mode
    strategy: str = ""
    slippage: Decimal = ZERO
    funding: Decimal = ZERO
    venue: str = ""  # the paper or live venue it traded on (venue.paper_venue); "" for ghost, which has none

    @property
    def book(self) -> "Book":
        return Book.of(self.mode, self.venue)

    @property
    def hold_ms(self) -> int:
        return self.exit_ms - self.entry_ms

    @property
    def return_pct(self) -> Decimal:
        cost = self.qty * self.entry_price
        return self.pnl / cost * 100 if cost else ZERO


_BOOKS: dict[tuple[Any, Any], "Book"] = {}


@dataclass(frozen=True, slots=True)
class Book:
    """Whose records: ghost (hypothetical, no venue), or paper or live on one venue. Each book keeps its own
    trades, equity curve and metrics, so ghost results are never spliced into paper's, nor one venue's into
    another's."""

    mode: Mode
    venue: str = ""

    @classmethod
    def of(cls, mode: Mode | str, venue: str | None = "") -> "Book":
        # asked for every trade on every dashboard refresh (2,000 trades): the few books there are, kept
        cacheable = isinstance(mode, str) and (venue is None or type(venue) is str)  # True == 1: no other keys
        known = _BOOKS.get((mode, venue)) if cacheable else None
        if known is not None:
            return known
        m = Mode(mode)
        book = cls(m, "" if m is Mode.GHOST or venue in (None, "none") else str(venue))
        if cacheable and len(_BOOKS) < 1024:  # a bounded cache: venue names come from records
            _BOOKS[(mode, venue)] = book
        return book

    @property
    def key(self) -> str:
        """The book's name in stores: `ghost`, `paper:sim`, `paper:binance-demo`…"""
        return f"{self.mode.value}:{self.venue}" if self.venue else self.mode.value

    @property
    def label(self) -> str:
        """Whose they are, as the dashboard says it."""
        if self.mode is Mode.GHOST:
            return "ghost (hypothetical trades, no venue)"
        return f"{self.mode.value} on {self.venue}" if self.venue else self.mode.value

    @classmethod
    def parse(cls, key: str) -> "Book":
        mode, _, venue = key.partition(":")
        return cls.of(mode, venue)


@dataclass(frozen=True, slots=True)
class Account:
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    margin_used: Decimal
    available: Decimal
    ts_ms: int = 0

    @property
    def equity(self) -> Decimal:
        return self.wallet_balance + self.unrealized_pnl


@dataclass(frozen=True, slots=True)
class Portfolio:
    """What an executor reports: the account and its open positions and orders."""

    account: Account
    positions: tuple[Position, ...] = ()
    open_orders: tuple[Order, ...] = ()


# --------------------------------------------------------------------------------------------------
# Control


@dataclass(frozen=True, slots=True)
class Command:
    command_id: str
    type: CommandType
    issued_at_ms: int
    issued_by: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommandResult:
    command_id: str
    status: CommandStatus
    handled_by: str
    detail: str = ""
    elapsed_ms: float = 0.0
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class AuditEvent:
    kind: str  # "signal", "sizing", "skip", "order", "fill", "exit", "command", "state", "reconcile", "error", "gap"
    ts_ms: int  # the writer's clock: market time in the engine, wall time in the supervisor and the CLI
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    # when the store logged it (Redis's clock at XADD; 0 from a store without one): the same clock for every
    # writer, so the log reads in the order things happened, whatever clock each writer stamped
    logged_ms: int = 0



@dataclass(frozen=True, slots=True)
class TradingStateChange:
    """One change of trading state: what it was, what it became, why, who asked, when (wall time)."""

    previous: TradingState
    current: TradingState
    cause: str  # a HaltCause value, or why REDUCING / ACTIVE (e.g. "margin_use", "resume")
    by: str
    ts_ms: int
    detail: str = ""

    def audit(self) -> AuditEvent:
        verb = "unchanged" if self.previous is self.current else f"{self.previous.value} → {self.current.value}"
        return AuditEvent(
            "state", self.ts_ms, f"{self.current.value} ({verb}) by {self.by}: {self.cause}"
            + (f" — {self.detail}" if self.detail else ""),
            {"previous": self.previous.value, "current": self.current.value, "cause": self.cause, "by": self.by},
        )


# --------------------------------------------------------------------------------------------------
# Flat records for Redis: {field: str}. None is stored as "" and restored as None.


def _encoder(kind: type) -> Callable[[Any], str]:
    """How a value of this type is written (which branch depends on the type alone)."""
    if kind is type(None):
        return lambda value: ""
    if issubclass(kind, enum.Enum):
        return lambda value: str(value.value)
    if issubclass(kind, bool):
        return lambda value: "1" if value else "0"
    if issubclass(kind, Decimal):
        return lambda value: format(value, "f")
    if issubclass(kind, Mapping) or issubclass(kind, (list, tuple)):
        return lambda value: json.dumps(value, default=str, separators=(",", ":"), sort_keys=True)
    return str


# a record is written for every trade, order and fill: the type tests and `dataclasses.fields` were most
# of its cost, so each is done once per type
_ENCODERS: dict[type, Callable[[Any], str]] = {}
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _encode(value: Any) -> str:
    kind = type(value)
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        encoder = _ENCODERS[kind] = _encoder(kind)
    return encoder(value)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(raw: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw == "":
            return None
        return _decode(raw, args[0])
    if hint is Decimal:
        return Decimal(raw)
    if hint is bool:
        return raw in ("1", "true", "True")
    if hint is int:
        return int(raw)
    if hint is float:
        return float(raw)
    if hint is str:
        return raw
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(raw)
    if origin in (collections.abc.Mapping, dict) or hint is dict:
        return json.loads(raw) if raw else {}
    if origin in (tuple, list) or hint is list:
        return json.loads(raw) if raw else []
    return raw


def to_record(obj: Any) -> dict[str, str]:
    """A dataclass as a flat {name: str} dict, the form stored in Redis."""
    kind = type(obj)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(obj))
    return {name: _encode(getattr(obj, name)) for name in names}


def from_record(cls: type, record: Mapping[Any, Any]) -> Any:
    """The inverse of `to_record`. Missing optional fields take their defaults."""
    data = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in record.items()
    }
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _decode(data[f.name], hints[f.name])
    return cls(**kwargs)


def to_json(obj: Any) -> str:
    return json.dumps(to_record(obj), separators=(",", ":"))


def from_json(cls: type, text: str | bytes) -> Any:
    return from_record(cls, json.loads(text))


# --------------------------------------------------------------------------------------------------
# What a venue allows per symbol (read from the venue: exchangeInfo; the simulator's built-in table)


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Tick size, step size, minimum quantity and notional of one symbol."""

    symbol: str  # ccxt unified, e.g. "BTC/USDT:USDT"
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    market_step_size: Decimal
    market_max_qty: Decimal
    exchange_id: str = ""  # Binance's id, e.g. "BTCUSDT"


# --------------------------------------------------------------------------------------------------
# Open trades and entry plans: what the engine decides and every executor keeps


@dataclass(frozen=True)
class TradeState:
    """An open trade as the exit rules see it; a new value after every candle (`ExitRules.update`)."""

    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    entry_ms: int
    stop: Decimal
    take_profit: Decimal
    initial_stop: Decimal
    peak_price: Decimal  # best price seen since entry: highest high (long), lowest low (short)
    breakeven_moved: bool = False
    trailing_active: bool = False
    strategy: str = ""
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """A decided entry: sized, with its stop and take-profit, ready to send."""

    trade_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal  # the reference price the decision was made at
    stop: Decimal
    take_profit: Decimal
    strategy: str
    reason: str


@dataclass(frozen=True, slots=True)
class TradeLedger:
    """What an open trade has cost and earned so far, booked from its fills: the executor's typed
    record beside the exit rules' `TradeState` (once a bag of strings re-parsed at every use).

    `funding` is the sum of the venue's `FundingPayment`s while the trade held its position."""

    entry_fee: Decimal = ZERO
    exit_fee: Decimal = ZERO
    slippage: Decimal = ZERO
    realized: Decimal = ZERO  # gross P&L of the exit fills
    funding: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO  # Σ qty × price of the exit fills
    exit_ms: int = 0
    exit_reason: ExitReason | None = None
    stop_gen: int = 0  # the protective stop's generation (its client id's suffix)
    exit_attempts: int = 0  # closes sent so far (each exit id is new)
    fills: tuple[str, ...] = ()  # keys of the fills booked (models.fill_key), the newest few

    @property
    def exited(self) -> bool:
        return self.exit_qty > 0

    @property
    def fees(self) -> Decimal:
        return self.entry_fee + self.exit_fee

    def exit_price(self, fallback: Decimal) -> Decimal:
        return self.exit_value / self.exit_qty if self.exit_qty else fallback

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_fee": format(self.entry_fee, "f"), "exit_fee": format(self.exit_fee, "f"),
            "slippage": format(self.slippage, "f"), "realized": format(self.realized, "f"),
            "funding": format(self.funding, "f"), "exit_qty": format(self.exit_qty, "f"),
            "exit_value": format(self.exit_value, "f"), "exit_ms": self.exit_ms,
            "exit_reason": self.exit_reason.value if self.exit_reason else "", "stop_gen": self.stop_gen,
            "exit_attempts": self.exit_attempts, "fills": list(self.fills),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "TradeLedger":
        """Also reads the first release's records (the same names, values as strings, some missing)."""
        def dec(name: str) -> Decimal:
            return Decimal(str(raw.get(name) or "0"))

        reason = raw.get("exit_reason") or None
        return cls(
            entry_fee=dec("entry_fee"), exit_fee=dec("exit_fee"), slippage=dec("slippage"), realized=dec("realized"),
            funding=dec("funding"), exit_qty=dec("exit_qty"), exit_value=dec("exit_value"),
            exit_ms=int(raw.get("exit_ms") or 0), exit_reason=ExitReason(reason) if reason else None,
            stop_gen=int(raw.get("stop_gen") or 0), exit_attempts=int(raw.get("exit_attempts") or 0),
            fills=tuple(raw.get("fills") or ()),
        )


def close_time_ms(candle: Candle) -> int:
    return candle.open_time_ms + timeframe_ms(candle.timeframe)


def round_down(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def as_field(value: Any) -> str:
    """A value as one stored text field (streams and hashes), the same in every store."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return str(value.value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


# --------------------------------------------------------------------------------------------------
# A changed copy of a frozen dataclass, as `dataclasses.replace` makes it, without its per-call work


_COPIERS: dict[type, Callable[[Any, dict[str, Any]], Any]] = {}


def evolve(obj: Any, **changes: Any) -> Any:
    """`dataclasses.replace(obj, **changes)`: a new object, the old one untouched. An order, a fill's
    ledger or a trade changes several times a round trip, and `replace` looked up every field and went
    through `__init__`'s frozen `object.__setattr__` per field each time; this copies the fields
    directly. A class whose construction does more than set its fields (a `__post_init__`, a field not
    in `__init__`) goes through `replace`."""
    kind = type(obj)
    copier = _COPIERS.get(kind)
    if copier is None:
        copier = _COPIERS[kind] = _copier(kind)
    return copier(obj, changes)


def _copier(cls: type) -> Callable[[Any, dict[str, Any]], Any]:
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    if hasattr(cls, "__post_init__") or any(not f.init for f in fields):
        return lambda obj, changes: dataclasses.replace(obj, **changes)
    new = object.__new__

    def unknown(changes: dict[str, Any]) -> TypeError:
        return TypeError(f"{cls.__name__} has no field {', '.join(sorted(set(changes) - set(names)))}")

    if "__slots__" not in cls.__dict__:  # a plain frozen dataclass: its fields live in its __dict__
        known = frozenset(names)

        def copy_dict(obj: Any, changes: dict[str, Any]) -> Any:
            if not changes.keys() <= known:
                raise unknown(changes)
            out: Any = new(cls)
            values = out.__dict__
            values.update(obj.__dict__)
            values.update(changes)
            return out
        return copy_dict
    # slots: each field's descriptor sets it on the new object (what a frozen __init__ does, minus the
    # calls), unrolled as dataclasses writes its own __init__
    setters = {name: getattr(cls, name).__set__ for name in names}
    scope: dict[str, Any] = {"new": new, "cls": cls, "setters": setters, "unknown": unknown,
                             **{f"set_{name}": setter for name, setter in setters.items()}}
    body = "".join(f"    set_{name}(out, obj.{name})\n" for name in names)
    exec("def copy_slots(obj, changes):\n    out = new(cls)\n" + body
         + "    for name, value in changes.items():\n        set_ = setters.get(name)\n"
         "        if set_ is None:\n            raise unknown(changes)\n        set_(out, value)\n    return out\n", scope)
    return scope["copy_slots"]


def fast_init(cls: type) -> type:
    """A frozen dataclass's `__init__` setting each field through its slot's descriptor (or into its
    `__dict__`): the generated one goes through `object.__setattr__` per field (its frozen guard), which
    took half the construction of the dozens of orders, fills, views and plans a round trip builds. Same
    parameters, defaults and result; the instance stays frozen (its `__setattr__` still refuses)."""
    fields = dataclasses.fields(cls)
    if (not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
            or hasattr(cls, "__post_init__")
            or any(not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields)):
        raise TypeError(f"fast_init: {cls.__name__} is not a frozen dataclass of plain fields")
    scope: dict[str, Any] = {}
    scope.update({f"default_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING})
    params = ", ".join(f.name if f.default is dataclasses.MISSING else f"{f.name}=default_{f.name}" for f in fields)
    if "__slots__" in cls.__dict__:
        scope.update({f"set_{f.name}": getattr(cls, f.name).__set__ for f in fields})
        body = "".join(f"    set_{f.name}(self, {f.name})\n" for f in fields) or "    pass\n"
    else:  # its fields live in its __dict__, which the frozen guard does not watch
        body = "    values = self.__dict__\n" + "".join(f"    values[{f.name!r}] = {f.name}\n" for f in fields)
    exec(f"def __init__(self, {params}):\n{body}", scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    return cls


# the types a round trip builds most (the venue's orders, fills and views, the executor's intents and
# ledgers, the candles, the trades)
for _cls in (Candle, Signal, Denial, OrderIntent, Order, Fill, FundingPayment, Position, Trade, Account, Portfolio,
             TradeState, EntryPlan, TradeLedger):
    fast_init(_cls)
del _cls
