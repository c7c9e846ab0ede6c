"""Modes and venues kept apart (issue 12): each book — ghost, paper on a venue — has its own trades, equity
curve and metrics, and a ghost bot restarted on another market data feed does not close its open ghost
trades at the new feed's prices.

Real `main.py bot` processes on a real Redis. Before the fix ghost and paper shared one equity stream (the
curve spliced ghost into paper, both showed the same return, drawdown and Sharpe), and a switch from one
feed to another closed the ghost positions on the first candle of the new one (−124.85, held 0 s).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from control.client import send_command, wait_result
from marketdata.csvfile import HEADER_LINE
from models import CommandStatus, CommandType, Mode
from state import StateStore

from processes import BotFleet, wait_for

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
MIN = 60_000
T0 = 1_746_372_780_000  # 2025-05-04 15:33 UTC


def write_flat_replay(path: Path, price: int, rows: int = 400) -> Path:
    """BTC near `price` (the synthetic feed starts it at 95,000: a replay at 20,000 is another market)."""
    lines = [HEADER_LINE]
    for i in range(rows):
        close = price + (i % 7)
        lines.append(f"{T0 + i * MIN},{close},{close + 3},{close - 3},{close},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def replay_env(csv: Path) -> dict[str, str]:
    return {
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": json.dumps({BTC: str(csv)}),
        "TB_MARKET_DATA__REPLAY__SPEED": "0",
        "TB_MARKET_DATA__REPLAY__LOOP": "false",
        "TB_BOT__SYMBOLS": f"[{BTC}]",
    }


def test_ghost_when_restarted_on_another_feed_then_its_open_trades_are_kept_aside_not_closed_at_its_prices(
        store: StateStore, redis_url, tmp_path):
    # Arrange: a ghost long opened on a replay of BTC at 20,000 (stop 10-20 % below, target above)
    run_dir = {"TB_REDIS__RUN_MARKER_DIR": str(tmp_path / "run"), "TB_BOT__SYMBOLS": f"[{BTC}]"}
    replay = BotFleet(store, redis_url, tmp_path, **replay_env(write_flat_replay(tmp_path / "btc.csv", 20_000)),
                      **{"TB_REDIS__RUN_MARKER_DIR": str(tmp_path / "run")})
    try:
        replay.start_bot("ghost")
        replay.wait_bot_running()
        wait_for(lambda: store.read_state().get("data_exhausted") == "1", 60, "the replay's end", on_timeout=replay.logs)
        opened = wait_result(store, send_command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "500"},
                                                 issued_by="test").command_id)
        assert opened is not None and opened.status is CommandStatus.DONE, opened
        held = wait_for(lambda: store.read_positions(), 10, "the ghost position")
        entry = held[0].entry_price
        assert Decimal("19000") < entry < Decimal("21000")
    finally:
        replay.cleanup()

    # Act: the same bot id on the synthetic feed (BTC at 95,000: the long's take-profit is far below that)
    synthetic = BotFleet(store, redis_url, tmp_path, **run_dir)
    try:
        synthetic.start_bot("ghost")
        synthetic.wait_bot_running()
        start = int(store.read_state().get("last_candle_open_ms") or 0)
        wait_for(lambda: int(store.read_state().get("last_candle_open_ms") or 0) > start + 20 * MIN, 30,
                 "20 synthetic candles", on_timeout=synthetic.logs)
        positions = store.read_positions()
        notes = [e.message for e in store.read_audit(500, kinds=["reconcile"])]
    finally:
        synthetic.cleanup()

    # Assert: no trade booked at the synthetic market's prices; the long is kept aside, and said so
    assert [t for t in store.read_trades(100) if t.mode is Mode.GHOST] == []
    assert positions == []  # not valued at a price of another market
    assert any("kept aside" in n and "replay:btc.csv" in n for n in notes), notes


def test_books_when_ghost_then_paper_run_on_one_redis_then_each_has_its_own_equity_and_metrics(
        store: StateStore, redis_url, tmp_path):
    from models import Book

    # Arrange: a ghost run, then a paper run on the simulated venue, the same bot id
    env = {"TB_REDIS__RUN_MARKER_DIR": str(tmp_path / "run"), "TB_BOT__METRICS_SECONDS": "0.2",
           "TB_BOT__EQUITY_SNAPSHOT_SECONDS": "0.2", "TB_BOT__SYMBOLS": f"[{BTC}]"}
    for mode in ("ghost", "paper"):
        fleet = BotFleet(store, redis_url, tmp_path, **env)
        try:
            fleet.start_bot(mode)
            fleet.wait_bot_running()
            book = Book.of(mode, "sim")
            wait_for(lambda: len(store.read_equity(book=book)) >= 3 and store.read_metrics(book.key), 30,
                     f"{mode} equity points and metrics", on_timeout=fleet.logs)
        finally:
            fleet.cleanup()

    # Act
    ghost, paper = Book.of(Mode.GHOST), Book.of(Mode.PAPER, "sim")
    ghost_points, paper_points = store.read_equity(book=ghost), store.read_equity(book=paper)
    ghost_metrics, paper_metrics = store.read_metrics(ghost.key), store.read_metrics(paper.key)

    # Assert: two curves, none spliced into the other (the paper curve starts after the ghost curve ends),
    # and metrics that say whose they are
    assert ghost_points and paper_points
    assert int(paper_points[0]["ts_ms"]) >= int(ghost_points[-1]["ts_ms"]) or store.read_equity() == []
    assert store.read_equity() == []  # nothing written to the shared curve any more
    assert (ghost_metrics["book"], ghost_metrics["book_label"]) == ("ghost", "ghost (hypothetical trades, no venue)")
    assert (paper_metrics["book"], paper_metrics["book_label"]) == ("paper:sim", "paper on sim")
    assert store.read_state()["book"] == "paper:sim"


def _trade(trade_id: str, mode: Mode, venue: str, pnl: str, exit_min: int):
    from models import ExitReason, Side, Trade

    return Trade(trade_id, BTC, Side.LONG, Decimal("0.01"), Decimal("95000"), Decimal("95100"), T0,
                 T0 + exit_min * MIN, Decimal(pnl) + Decimal("0.9"), Decimal("0.9"), Decimal(pnl),
                 ExitReason.TAKE_PROFIT, mode, strategy="ema_trend", venue=venue)


def test_read_book_when_books_share_a_redis_then_cards_and_table_are_one_snapshot_of_that_book(store: StateStore):
    from models import Book
    from ui.books import read_book
    from ui.summaries import metric_cards

    # Arrange: paper on sim, paper on binance-demo and ghost trades in one bot's Redis
    paper = Book.of(Mode.PAPER, "sim")
    for i, (mode, venue, pnl) in enumerate([(Mode.PAPER, "sim", "5"), (Mode.GHOST, "", "-40"),
                                            (Mode.PAPER, "binance-demo", "70"), (Mode.PAPER, "sim", "-2")]):
        store.append_trade(_trade(f"t{i}", mode, venue, pnl, 10 + i))
    store.append_equity(T0, Decimal("10000"), Decimal("10000"), Decimal("0"), book=paper)
    store.append_equity(T0 + 20 * MIN, Decimal("10003"), Decimal("10003"), Decimal("0"), book=paper)

    # Act
    view = read_book(store, paper, Decimal("10000"))
    cards = {c.label: c for c in metric_cards(view.metrics)}

    # Assert: only paper-on-sim's two trades, and the cards are computed from exactly them
    assert [t.trade_id for t in view.trades] == ["t0", "t3"]
    assert (cards["Trades"].value, cards["Net P&L"].value) == ("2", "+3.00")
    assert cards["Fees paid"].value == "-1.80"  # a cost, not a gain
    assert cards["Sharpe"].value == "—" and "7 days" in cards["Sharpe"].help
    assert view.label == "paper on sim"
