"""`main.py status` as a person or a script reads it: the real CLI process against a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from models import Account, ExitReason, Mode, Position, Side, Trade
from stores import Memory

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"
DAY_MS = 86_400_000


def _status(store, redis_url, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    env.update(REDIS_URL=redis_url, TB_BOT__ID=store.bot_id)
    return subprocess.run([sys.executable, "main.py", "status", *extra], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def _seed(store, *, running: str = "1") -> None:
    now = time.time_ns() // 1_000_000
    store.write_state(mode="paper", venue="sim", trading_state="ACTIVE", heartbeat_ms=now, running=running)
    store.write_account(Account(Decimal("10000"), Decimal("12.5"), Decimal("1250.75"), Decimal("8761.75")))
    store.write_positions([Position(BTC, Side.LONG, Decimal("0.02"), Decimal("95000"), leverage=3,
                                    mark_price=Decimal("95625"), unrealized_pnl=Decimal("12.5"),
                                    liquidation_price=Decimal("63650.5"))])
    store.remember(Memory.OPEN_TRADES, BTC, {"state": {"symbol": BTC, "side": "long", "stop": "93100.5",
                                                       "take_profit": "97850"}, "extra": {}})
    store.write_risk({"margin_use_pct": "12.5", "recommendation": "ACTIVE"})
    store.write_metrics("paper", {"trades": 3, "win_rate": 0.6667, "sharpe": None})
    day = now - now % DAY_MS
    for trade_id, pnl, exit_ms, mode in (("a", "10.25", day + 1, Mode.PAPER), ("b", "-4", day - 1, Mode.PAPER),
                                         ("c", "3", day + 2, Mode.PAPER), ("g", "99", day + 3, Mode.GHOST)):
        store.append_trade(Trade(trade_id, BTC, Side.LONG, Decimal("0.01"), Decimal("95000"), Decimal("95100"),
                                 exit_ms - 60_000, exit_ms, Decimal(pnl), Decimal("0"), Decimal(pnl),
                                 ExitReason.TAKE_PROFIT, mode))


def test_status_json_when_paper_bot_trades_then_realised_pnl_levels_metrics_and_risk(store, redis_url):
    _seed(store)

    done = _status(store, redis_url, "--json")

    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert (status["realised_pnl_today"], status["realised_pnl_total"]) == ("13.25", "9.25")  # paper trades only
    assert (status["trades"], status["win_rate_pct"], status["trades_complete"]) == (3, "66.7", True)
    assert status["margin_use_pct"] == "12.5" and status["margin_used"] == "1250.75"
    [position] = status["positions"]
    assert (position["stop"], position["take_profit"], position["liquidation_price"]) == ("93100.5", "97850", "63650.5")
    assert status["metrics"] == {"trades": 3, "win_rate": 0.6667, "sharpe": None}
    assert status["risk"] == {"margin_use_pct": "12.5", "recommendation": "ACTIVE"}


def test_status_when_read_by_a_person_then_money_formatted_and_each_position_protected_or_not(store, redis_url):
    _seed(store)

    done = _status(store, redis_url)

    assert done.returncode == 0, done.stderr
    assert "equity 10,012.50 USDT; margin used 1,250.75 USDT (12.5 % of equity)" in done.stdout
    assert "realised P&L today 13.25, in all 9.25 USDT; 3 trades, win rate 66.7 %" in done.stdout
    assert "stop 93100.5, take-profit 97850, liquidation 63650.5" in done.stdout


def test_status_when_bot_stopped_then_its_state_is_named_as_the_last_one(store, redis_url):
    _seed(store, running="0")

    done = _status(store, redis_url)

    assert done.returncode == 1
    assert done.stdout.splitlines()[0].endswith("paper mode, venue sim, last ACTIVE")


def test_help_when_asked_then_examples_shown():
    done = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "examples:" in done.stdout and "main.py status --json" in done.stdout
