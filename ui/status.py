"""What the dashboard says about the bot, as pure functions of the state hash and the time.

No Streamlit here: everything takes plain values (the state hash as strings, `now_ms`) and returns
plain values, so the boundaries (when does "running" become "unresponsive"?) are unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from models import CommandResult, CommandStatus, TradingState
from state import BotStatus, bot_status, heartbeat_age_s, redact_url  # noqa: F401  (one definition each; re-exported for the views)

AUTO_FALLBACK_MARKER = "synthetic (auto"
NO_VALUE = "—"


def parse_int(raw: Any) -> int | None:
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


def format_age(seconds: float | None) -> str:
    """'0.4 s', '12 s', '3 min 5 s', '2 h 5 min', '3 d 4 h'; '—' when unknown."""
    if seconds is None:
        return NO_VALUE
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def parse_trading_state(raw: str | TradingState | None) -> TradingState | None:
    if isinstance(raw, TradingState):
        return raw
    try:
        return TradingState(str(raw).upper()) if raw else None
    except ValueError:
        return None


# Streamlit colour names (`:green[…]`, st.badge(color=…)).
_TRADING_STATE_COLOURS = {
    TradingState.ACTIVE: "green",
    TradingState.REDUCING: "orange",
    TradingState.HALTED: "red",
}
_BOT_STATUS_COLOURS = {
    BotStatus.RUNNING: "green",
    BotStatus.UNRESPONSIVE: "red",
    BotStatus.STOPPED: "gray",
}


def trading_state_colour(state: str | TradingState | None) -> str:
    parsed = parse_trading_state(state)
    return _TRADING_STATE_COLOURS.get(parsed, "gray") if parsed else "gray"


def bot_status_colour(status: BotStatus) -> str:
    return _BOT_STATUS_COLOURS[status]


def is_auto_fallback(data_source: str | None) -> bool:
    """`auto` could not reach Binance and fell back to synthetic prices: loud banner."""
    return AUTO_FALLBACK_MARKER in (data_source or "")


def is_feed_stale(state: Mapping[str, str]) -> bool:
    return state.get("feed_stale") == "1"


# ----------------------------------------------------------------------------------- command results


def describe_result(result: CommandResult | None) -> str:
    """The line shown under the controls; always starts with 'Result:' so people and tests find it."""
    if result is None:
        return "Result: no answer yet"
    if result.status is CommandStatus.ACCEPTED:
        return "Result: accepted"
    if result.status is CommandStatus.HANDED_OVER:
        return f"Result: handed over to the supervisor: {result.detail or 'the bot could not finish'}"
    if result.status is CommandStatus.REJECTED:
        return f"Result: rejected: {result.detail or 'no reason given'}"
    if result.status is CommandStatus.FAILED:
        return f"Result: failed: {result.detail or 'no detail given'}"
    return f"Result: done in {result.elapsed_ms:.0f} ms"


def result_colour(result: CommandResult | None) -> str:
    if result is None or not result.status.is_final:
        return "orange"
    return "green" if result.status is CommandStatus.DONE else "red"


# ---------------------------------------------------------------------------------- money and time


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_money(value: Any, places: int = 2, *, signed: bool = False) -> str:
    """A Decimal (or its string) with thousands separators, rounded for display only: '12,345.67'."""
    amount = to_decimal(value)
    if amount is None:
        return NO_VALUE
    text = f"{amount:,.{places}f}"
    if text.startswith("-") and text.strip("-0.,") == "":
        text = text[1:]  # "-0.00" reads as a loss that is not there
    if signed and not text.startswith("-") and text.strip("0.,") != "":
        text = "+" + text
    return text


def format_decimal(value: Any) -> str:
    """A price or quantity exactly as stored, without exponent and trailing zeros: '95000.1', '0.012'."""
    amount = to_decimal(value)
    if amount is None:
        return NO_VALUE
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def format_price(value: Any, places: int | None = None, *, exact: bool = True) -> str:
    """A price with thousands separators at the symbol's precision ('95,000.1'). With `exact` (prices the
    venue set: entries, exits, stops, orders) never fewer decimals than the price has, so a stop at
    93,100.1 never reads 93,100 when the learned precision is short; without it (a computed liquidation
    price) rounded to `places`. Without `places`, the stored digits."""
    amount = to_decimal(value)
    if amount is None or not amount.is_finite():
        return NO_VALUE
    exponent = amount.normalize().as_tuple().exponent
    own = min(max(0, -exponent), MAX_PRICE_PLACES) if isinstance(exponent, int) else 0
    if places is None:
        places = own
    elif exact:
        places = max(places, own)
    return f"{amount:,.{places}f}"


MAX_PRICE_PLACES = 8


def price_places(prices: Iterable[Any]) -> int | None:
    """The symbol's precision as its prices show it: the most decimals any of them needs (tick-rounded
    candle prices never need more than the tick has); None when there is none to learn from."""
    places = None
    for raw in prices:
        amount = to_decimal(raw)
        if amount is None or not amount.is_finite():
            continue
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places or 0, min(max(0, -exponent), MAX_PRICE_PLACES))
    return places


def format_pct(value: Any, places: int = 2, *, signed: bool = False) -> str:
    amount = to_decimal(value)
    if amount is None:
        return NO_VALUE
    text = f"{amount:.{places}f}"
    if text.startswith("-") and text.strip("-0.") == "":
        text = text[1:]
    if signed and not text.startswith("-") and text.strip("0.") != "":
        text = "+" + text
    return text + " %"


def format_ts(ts_ms: Any) -> str:
    ms = parse_int(ts_ms)
    if not ms:
        return NO_VALUE
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_time(ts_ms: Any) -> str:
    """A table cell in the page's one clock (UTC, named once in the page header and column titles)."""
    ms = parse_int(ts_ms)
    if not ms:
        return NO_VALUE
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def format_clock(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%H:%M:%S UTC")


def utc_day_start_ms(now_ms: int) -> int:
    day = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp() * 1000)


# --------------------------------------------------------------------------------------- status view


@dataclass(frozen=True, slots=True)
class StatusView:
    """Everything the status strip and the sidebar say about the bot, decided in one place."""

    mode: str
    venue: str
    data_source: str
    trading_state: TradingState | None
    status: BotStatus
    heartbeat_age_s: float | None
    auto_fallback: bool
    feed_stale: bool
    halt_reason: str = ""
    data_gaps: int = 0  # gaps in the market data the bot reported (bot/gap_report.py)
    last_gap: str = ""

    @property
    def trading_state_text(self) -> str:
        """A stopped bot is not trading: ACTIVE or REDUCING is named as the last state it had, never as
        current. HALTED stays HALTED: the flag is durable and in force when the bot starts again."""
        if self.trading_state is None:
            return NO_VALUE
        if self._stopped_not_halted:
            return f"last {self.trading_state.value}"
        return self.trading_state.value

    @property
    def trading_state_colour(self) -> str:
        return "gray" if self._stopped_not_halted else trading_state_colour(self.trading_state)

    @property
    def _stopped_not_halted(self) -> bool:
        return self.status is BotStatus.STOPPED and self.trading_state is not TradingState.HALTED

    @property
    def heartbeat_text(self) -> str:
        age = format_age(self.heartbeat_age_s)
        return age if self.heartbeat_age_s is None else f"{age} ago"


def status_view(
    state: Mapping[str, str],
    trading_state: TradingState | str | None,
    now_ms: int,
    timeout_s: float,
    halt_reason: str = "",
) -> StatusView:
    return StatusView(
        mode=state.get("mode") or NO_VALUE,
        venue=state.get("venue") or NO_VALUE,
        data_source=state.get("data_source") or NO_VALUE,
        trading_state=parse_trading_state(trading_state),
        status=bot_status(state, now_ms, timeout_s),
        heartbeat_age_s=heartbeat_age_s(state, now_ms),
        auto_fallback=is_auto_fallback(state.get("data_source")),
        feed_stale=is_feed_stale(state),
        halt_reason=halt_reason,
        data_gaps=parse_int(state.get("data_gaps")) or 0,
        last_gap=state.get("last_gap") or "",
    )


# The characters that start markup mid-line (colour directives need "[", so ":" may stay).
_MARKDOWN_SPECIALS = "\\`*_[]<>|$~"


def escape_markdown(text: str) -> str:
    """Text from Redis shown through Streamlit's markdown renders as typed, not as markup."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text)


