"""Flatten: the kill switch's venue work — one implementation for the bot and the supervisor.

Done means the venue's own position list is empty (and no order is left resting), never "every call
returned". Venues fail in the middle of a kill switch (timeouts after accept, overload rejections,
429s), so every step is guarded and the whole pass repeats with backoff until flat or the deadline:

  1. entry orders (anything not reduce-only) are cancelled, so nothing can add risk meanwhile;
  2. each position gets a reduce-only market close, symbol by symbol — one symbol's failure never
     stops the others. The resting stop stays on while the close is sent: a position is never left
     without its stop while the close is in flight (a reduce-only close cannot over-close it);
  3. once the venue reports flat, whatever still rests (stops, take-profits) is cancelled.

Who sends the close decides its client order id (`exit_id`) and how it is sent (`send`: the paper
executor records an intent and looks the order up after a timeout; the supervisor sends directly).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Protocol, TypeVar

from errors import ExchangeError, OrderRejectedError
from exchange_client import ExchangeClient
from models import Order, OrderIntent, OrderType, Position

R = TypeVar("R")

FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0


@dataclass
class FlattenReport:
    flat: bool = False
    rounds: int = 0
    closes_sent: int = 0
    positions_left: list[str] = field(default_factory=list)
    orders_left: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.flat:
            return f"flat confirmed by the venue after {self.rounds} round(s): {self.closes_sent} close order(s) sent"
        last = f"; last error: {self.errors[-1]}" if self.errors else ""
        return (f"NOT flat after {self.rounds} round(s): {len(self.positions_left)} position(s) left "
                f"({', '.join(self.positions_left)}), {self.orders_left} order(s) open{last}")


def cancel_entry_orders(venue: ExchangeClient, on_error: Callable[[str], None] = lambda message: None,
                        symbol: str | None = None) -> int:
    """Cancel every order that could add risk (anything not reduce-only), of `symbol` only if given; one
    failure never stops the rest. Returns how many were cancelled."""
    try:
        orders = venue.open_orders(symbol)
    except ExchangeError as exc:
        on_error(f"open orders: {exc}")
        return 0
    cancelled = 0
    for order in orders:
        if order.reduce_only:
            continue
        try:
            venue.cancel(order.symbol, order.client_order_id)
            cancelled += 1
        except ExchangeError as exc:
            on_error(f"cancel {order.client_order_id}: {exc}")
    return cancelled


def flatten(
    venue: ExchangeClient,
    *,
    exit_id: Callable[[Position, int], str],
    send: Callable[[OrderIntent], Order] | None = None,
    now_ms: Callable[[], int],
    deadline_s: float,
    only: str | None = None,
    reason: str = "kill switch",
    on_error: Callable[[str], None] = lambda message: None,
    after_round: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> FlattenReport:
    """Repeat cancel-entries → close each position → confirm, with backoff, until flat or `deadline_s`.

    `after_round` runs after each round's closes (the paper executor books the fills there)."""
    send = send or venue.submit
    report = FlattenReport()
    give_up = time.monotonic() + deadline_s
    backoff = FIRST_BACKOFF_S

    def record(message: str) -> None:
        report.errors.append(message)
        on_error(message)

    def guarded(what: str, call: Callable[[], R]) -> R | None:
        try:
            return call()
        except ExchangeError as exc:
            record(f"{what}: {exc}")
            return None

    while True:
        attempt = report.rounds
        report.rounds += 1
        cancel_entry_orders(venue, on_error=record, symbol=only)  # a one-symbol close leaves other symbols' orders
        positions = guarded("positions", venue.positions)
        for position in [p for p in positions or () if only is None or p.symbol == only]:
            intent = OrderIntent(
                client_order_id=exit_id(position, attempt),
                symbol=position.symbol,
                side=position.side.exit_order_side,
                qty=position.qty,
                order_type=OrderType.MARKET,
                reduce_only=True,
                reason=reason,
                created_ms=now_ms(),
            )
            if guarded(f"close {position.symbol}", partial(send, intent)) is not None:
                report.closes_sent += 1
        after_round()
        if _confirm_flat(venue, only, report, guarded):
            report.flat = True
            return report
        if time.monotonic() + backoff > give_up:
            return report
        sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)


class _Guarded(Protocol):
    """`flatten`'s guard: the call's result, or None once its venue error is recorded."""

    def __call__(self, what: str, call: Callable[[], R]) -> R | None: ...


def _confirm_flat(venue: ExchangeClient, only: str | None, report: FlattenReport, guarded: _Guarded) -> bool:
    """Flat from the venue's own lists; what still rests on a flat symbol is cancelled here."""
    positions = guarded("positions", venue.positions)
    if positions is None:
        return False
    left = [p.symbol for p in positions if only is None or p.symbol == only]
    report.positions_left = left
    if left:
        orders = guarded("open orders", lambda: venue.open_orders(only))
        report.orders_left = len(orders) if orders is not None else report.orders_left
        return False
    # Flat: one look at the whole account where the venue offers it (Binance), not only the symbols this
    # bot trades or holds — an order left resting elsewhere would survive "flat confirmed, 0 orders open".
    everywhere = getattr(venue, "open_orders_everywhere", None) if only is None else None
    orders = guarded("open orders", everywhere or (lambda: venue.open_orders(only)))
    if orders is None:
        return False
    for order in orders:
        try:
            venue.cancel(order.symbol, order.client_order_id)
        except OrderRejectedError:
            pass  # already gone (filled, expired or cancelled): the re-read below tells
        except ExchangeError as exc:
            report.errors.append(f"cancel {order.client_order_id}: {exc}")
    orders = guarded("open orders", lambda: venue.open_orders(only)) if orders else []
    if orders is None:
        return False
    report.orders_left = len(orders)
    return not orders
