"""The daily loss halt with a real bot process on the simulator and a replay that crosses midnight UTC:
HALTED `daily_loss_limit` when the day's loss (unrealised P&L and fees included) reaches the limit, still
HALTED after a SIGKILL and a restart later that day (the counter lives in Redis), and ACTIVE again by itself
once the first candle of the next UTC day closes, with the lift announced in the audit stream."""

from __future__ import annotations

import json
import signal
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from control.client import send_command, wait_result
from marketdata.csvfile import HEADER_LINE
from models import CommandStatus, CommandType, HaltCause, TradingState
from state import StateStore

from processes import BotFleet, kill_group, now_ms, wait_for

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
MIN = 60_000
MIDNIGHT = 1_747_008_000_000  # 2025-05-12 00:00 UTC
T0 = MIDNIGHT - 180 * MIN  # 21:00 on the 11th
OPEN_AT = 150  # rows 0..149 (to 23:29) at 60 000; the long is opened there
FALL_FROM = 150  # from 23:30 on the price is 58 800: the 1 000 USDT long is down 20 USDT


def price(row: int) -> Decimal:
    return Decimal("60000") if row < FALL_FROM else Decimal("58800")


def write_rows(path: Path, rows: int) -> Path:
    lines = [HEADER_LINE]
    for i in range(rows):
        p = price(i)
        lines.append(f"{T0 + i * MIN},{p},{p},{p},{p},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fleet(store: StateStore, redis_url: str, tmp_path: Path) -> Iterator[BotFleet]:
    csv = tmp_path / "btc.csv"
    fleet = BotFleet(store, redis_url, tmp_path, **{
        "TB_MARKET_DATA__SOURCE": "replay", "TB_MARKET_DATA__REPLAY__FILES": json.dumps({BTC: str(csv)}),
        "TB_MARKET_DATA__REPLAY__SPEED": "0", "TB_MARKET_DATA__REPLAY__LOOP": "false",
        "TB_BOT__SYMBOLS": f"[{BTC}]", "TB_STOPS__METHOD": "none", "TB_SIZING__METHOD": "fixed_notional",
        "TB_SIZING__FIXED_NOTIONAL": "1000", "TB_RISK__MAX_DAILY_LOSS_USDT": "10",
        "TB_BOT__EQUITY_SNAPSHOT_SECONDS": "0.2", "TB_VENUE__SLIPPAGE__FIXED_BPS": "0",
    })
    fleet.csv = csv  # type: ignore[attr-defined]
    yield fleet
    fleet.cleanup()


def run_to_the_end(fleet: BotFleet, store: StateStore, rows: int, not_pid: int | None = None):
    """A bot on the file's first `rows` rows, past its last candle and one risk report after it."""
    write_rows(fleet.csv, rows)  # type: ignore[attr-defined]
    bot = fleet.start_bot("paper")
    pid = fleet.wait_bot_running(not_pid=not_pid)
    last = T0 + (rows - 1) * MIN
    wait_for(lambda: int(store.read_state().get("last_candle_open_ms") or 0) == last, 30, f"the candle of row {rows - 1}",
             on_timeout=fleet.logs)
    seen = now_ms()
    wait_for(lambda: int(store.read_risk().get("ts_ms") or 0) > seen, 10, "a risk report after it", on_timeout=fleet.logs)
    return bot, pid


def test_daily_loss_halt_when_the_bot_is_killed_and_restarted_then_still_halted_and_lifted_at_the_next_utc_day(
    store: StateStore, fleet: BotFleet
):
    # Arrange: a 1 000 USDT long opened at 23:29 at 60 000
    first, pid = run_to_the_end(fleet, store, OPEN_AT)
    opened = wait_result(store, send_command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "1000"},
                                             issued_by="test").command_id, 15)
    assert opened is not None and opened.status is CommandStatus.DONE, opened
    kill_group(first.pid, signal.SIGKILL)
    first.process.wait(5)

    # Act 1: the price falls 2 % from 23:30: the day has lost 20 USDT (+ fees) ≥ 10
    second, pid = run_to_the_end(fleet, store, FALL_FROM + 10, not_pid=pid)
    wait_for(lambda: store.read_halt() is not None, 10, "the loss halt", on_timeout=fleet.logs)
    flag = store.read_halt()
    assert flag.cause is HaltCause.DAILY_LOSS_LIMIT and "daily loss" in flag.reason, flag
    kill_group(second.pid, signal.SIGKILL)
    second.process.wait(5)

    # Act 2: restarted and run to 23:58 (its candle closes at 23:59): the same UTC day
    third, pid = run_to_the_end(fleet, store, 179, not_pid=pid)
    assert store.trading_state() is TradingState.HALTED and store.read_halt().cause is HaltCause.DAILY_LOSS_LIMIT
    kill_group(third.pid, signal.SIGKILL)
    third.process.wait(5)

    # Act 3: restarted and run past midnight
    run_to_the_end(fleet, store, 185, not_pid=pid)

    # Assert: lifted by itself, announced once, and the position is still there (a halt is not a close)
    lifted = wait_for(lambda: [e for e in store.read_audit(500, kinds=["state"])
                               if e.data.get("cause") == "daily_loss_limit_lifted"], 10, "the lift", on_timeout=fleet.logs)
    assert len(lifted) == 1 and "the UTC day 2025-05-11 ended; 2025-05-12 trades again" in lifted[0].message
    assert store.trading_state() is TradingState.ACTIVE and store.read_halt() is None
    assert [p.symbol for p in store.read_positions()] == [BTC]
