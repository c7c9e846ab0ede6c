"""Restart recovery with a real bot process: SIGKILL in the middle of a position, start again, and the
bot carries on where it stopped (README "Restart recovery").

A real `main.py bot --mode paper` on the synthetic feed and the simulated venue (its snapshot in the
test's Redis). The venue is read from its snapshot, not from what the bot published, so the checks see
what an exchange would hold. Processes are ended by process group in teardown.
"""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from typing import Iterator

import pytest

from control.client import send_command, wait_result
from models import CommandResult, CommandStatus, CommandType, ExitReason, Mode, Order, Position, Trade
from stores import Memory
from state import StateStore

from processes import BotFleet, kill_group

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
SUFFIXES = ("-en", "-sl0", "-tp")  # entry, first stop, take-profit (order_ids.py)


# --------------------------------------------------------------------------------------- helpers


def command(store: StateStore, command_type: CommandType, args: dict | None = None, timeout_s: float = 10.0) -> CommandResult:
    sent = send_command(store, command_type, args or {}, issued_by="test")
    result = wait_result(store, sent.command_id, timeout_s)
    assert result is not None and result.status.is_final, f"{command_type.value}: no final result ({result})"
    return result


def venue_snapshot(store: StateStore) -> dict:
    """The simulated exchange as it is saved in Redis: what every process acts on."""
    import json

    _, data = store.venue_store("sim").load()
    assert data, "the simulated venue has no snapshot in Redis"
    return json.loads(data)


def venue_view(store: StateStore) -> tuple[list[Position], list[Order]]:
    from processes import read_venue

    return read_venue(store)


def orders_ending(snapshot: dict, suffix: str) -> list[dict]:
    """Every order the venue knows (open or recently closed) whose client id ends with `suffix`."""
    return [o for o in snapshot["orders"] if o["client_order_id"].endswith(suffix)]


def position_key(p: Position) -> tuple:
    return p.symbol, p.side, p.qty, p.entry_price


def protection(orders: list[Order]) -> list[tuple]:
    return sorted((o.client_order_id, o.order_type.value, o.stop_price, o.qty, o.reduce_only) for o in orders)


def memory_without_peak(store: StateStore) -> dict:
    """The exit-rule memory (TradeState per symbol) minus the peak, which new candles may move."""
    out = {}
    for symbol, raw in store.recall(Memory.OPEN_TRADES).items():
        state = dict(raw["state"])
        state.pop("peak_price", None)
        out[symbol] = state
    return out


def trades_of(store: StateStore, trade_id: str) -> list[Trade]:
    return [t for t in store.read_trades(1000) if t.trade_id == trade_id]


# -------------------------------------------------------------------------------------- fixture


@pytest.fixture
def fleet(store: StateStore, redis_url: str, tmp_path) -> Iterator[BotFleet]:
    fleet = BotFleet(store, redis_url, tmp_path)
    yield fleet
    fleet.cleanup()  # every child and every bot pid the state hash named, by process group


# ------------------------------------------------------------------------------------------ test


def test_restart_when_the_paper_engine_is_killed_mid_position_then_position_protection_and_memory_resume_and_the_close_books_once(
    store: StateStore, fleet: BotFleet
):
    # Arrange: a paper bot holding one manual long, with its stop and take-profit resting on the venue
    first = fleet.start_bot("paper")
    first_pid = fleet.wait_bot_running()
    opened = command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "500"})
    assert opened.status is CommandStatus.DONE, opened
    positions_before, orders_before = venue_view(store)
    assert [p.symbol for p in positions_before] == [BTC]
    memory_before = memory_without_peak(store)
    trade_id = memory_before[BTC]["trade_id"]
    assert protection(orders_before) == sorted(
        [(f"{trade_id}-sl0", "stop_market", Decimal(memory_before[BTC]["stop"]), positions_before[0].qty, True),
         (f"{trade_id}-tp", "take_profit_market", Decimal(memory_before[BTC]["take_profit"]), positions_before[0].qty, True)]
    )
    time.sleep(0.6)  # a few more candles go through the bot with the position open

    # Act 1: SIGKILL (no clean-up of any kind), then a new bot process on the same Redis
    kill_group(first.pid, signal.SIGKILL)
    first.process.wait(5)
    second = fleet.start_bot("paper")
    fleet.wait_bot_running(not_pid=first_pid)
    time.sleep(0.6)  # the restarted bot has reconciled and processed candles

    # Assert 1: the same position, the same protective orders (not re-sent), one entry, the memory back
    positions_after, orders_after = venue_view(store)
    assert [position_key(p) for p in positions_after] == [position_key(p) for p in positions_before]
    assert protection(orders_after) == protection(orders_before)
    snapshot = venue_snapshot(store)
    assert len(orders_ending(snapshot, "-en")) == 1, "the entry was sent again after the restart"
    assert len(orders_ending(snapshot, "-sl0")) == 1 and len(orders_ending(snapshot, "-tp")) == 1
    assert [o["client_order_id"] for o in snapshot["orders"] if o["client_order_id"].startswith(trade_id)
            and not o["client_order_id"].endswith(SUFFIXES)] == [], "extra orders for the trade after the restart"
    assert memory_without_peak(store) == memory_before
    unresolved = [intent.client_order_id for intent, status in store.read_intents() if status not in ("new", "partially_filled")]
    assert unresolved == [], "order intents left pending or unknown after the restart"
    assert second.alive(), fleet.logs()

    # Act 2: close it by command
    closed = command(store, CommandType.CLOSE, {"symbol": BTC})

    # Assert 2: flat, and exactly one trade with the original entry, booked once
    assert closed.status is CommandStatus.DONE, closed
    positions_end, orders_end = venue_view(store)
    assert positions_end == [] and orders_end == []
    time.sleep(0.5)  # later candles must not book it again
    trades = trades_of(store, trade_id)
    assert len(trades) == 1, trades
    trade = trades[0]
    assert (trade.symbol, trade.side.value, trade.qty, trade.entry_price, trade.exit_reason, trade.mode) == (
        BTC, "long", positions_before[0].qty, positions_before[0].entry_price, ExitReason.MANUAL, Mode.PAPER
    )
    # booked from the remembered trade, not from an adopted stranger (which would be "adoptBTC", "adopted")
    assert (trade.strategy, trade.entry_ms) == ("manual", memory_before[BTC]["entry_ms"])
    assert not any("adopted" in e.message for e in store.read_audit(2000, kinds=["reconcile"]))
    assert trade.pnl == trade.gross_pnl - trade.fees - trade.funding and trade.fees > 0
    exits = [e for e in store.read_audit(2000, kinds=["exit"]) if e.data.get("trade_id") == trade_id]
    assert len(exits) == 1, exits
    assert store.recall(Memory.OPEN_TRADES) == {}
