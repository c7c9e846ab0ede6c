"""The open trades (executors.base.TradeBook: exit-rule memory and typed ledger) survive a restart through the store."""

from __future__ import annotations

from decimal import Decimal

from stores import Memory
from models import TradeState
from executors.base import TradeBook, trade_state_from_json, trade_state_to_json
from models import ExitReason, Side, TradeLedger

BTC, SOL = "BTC/USDT:USDT", "SOL/USDT:USDT"


def long_btc() -> TradeState:
    return TradeState(
        symbol=BTC, side=Side.LONG, qty=Decimal("0.013"), entry_price=Decimal("95123.40"), entry_ms=1_746_000_060_000,
        stop=Decimal("95200.10"), take_profit=Decimal("97000.00"), initial_stop=Decimal("94000.00"),
        peak_price=Decimal("96012.35"), breakeven_moved=True, trailing_active=True, strategy="ema_trend",
        trade_id="BTC1746000060L",
    )


def short_sol() -> TradeState:
    return TradeState(
        symbol=SOL, side=Side.SHORT, qty=Decimal("17.04"), entry_price=Decimal("146.6800"), entry_ms=1_746_000_120_000,
        stop=Decimal("148.1467800000000000001"), take_profit=Decimal("144.01"), initial_stop=Decimal("148.15"),
        peak_price=Decimal("146.10"), strategy="mean_reversion", trade_id="SOL1746000120S",
    )


def test_load_when_a_new_book_reads_the_same_store_then_states_and_ledgers_are_equal(store):
    # Arrange
    first = TradeBook(store, Memory.OPEN_TRADES)
    btc = TradeLedger(entry_fee=Decimal("0.61827210"), stop_gen=2, fills=("BTC-en|1|0.013|95123.40",))
    sol = TradeLedger(entry_fee=Decimal("1.2"), slippage=Decimal("0.05"), exit_attempts=1,
                      exit_qty=Decimal("17.04"), exit_value=Decimal("2499.43"), exit_ms=5, exit_reason=ExitReason.STOP_LOSS)
    first.put(long_btc(), btc)
    first.put(short_sol(), sol)
    first.put(short_sol())  # a new state alone keeps the ledger

    # Act
    second = TradeBook(store, Memory.OPEN_TRADES)
    second.load()

    # Assert
    assert second.states() == {BTC: long_btc(), SOL: short_sol()}
    assert second.ledger(BTC) == btc and second.ledger(SOL) == sol
    assert second.ledger(SOL).exit_price(Decimal(0)) == Decimal("2499.43") / Decimal("17.04")


def test_load_when_the_store_holds_a_first_release_record_then_its_string_extras_become_the_ledger(store):
    store.remember(Memory.OPEN_TRADES, BTC, {"state": trade_state_to_json(long_btc()), "extra": {
        "entry_fee": "0.5", "exit_fee": "0", "slippage": "0", "realized": "0", "stop_gen": 3, "exit_attempts": 0}})

    book = TradeBook(store, Memory.OPEN_TRADES)
    book.load()

    assert book.ledger(BTC) == TradeLedger(entry_fee=Decimal("0.5"), stop_gen=3)
    assert not book.ledger(BTC).exited


def test_pop_when_a_trade_is_closed_then_it_is_gone_from_the_store_too(store):
    # Arrange
    book = TradeBook(store, Memory.OPEN_TRADES)
    book.put(long_btc(), TradeLedger(stop_gen=1))
    book.put(short_sol())

    # Act
    state, ledger = book.pop(BTC)
    reloaded = TradeBook(store, Memory.OPEN_TRADES)
    reloaded.load()

    # Assert
    assert state == long_btc() and ledger == TradeLedger(stop_gen=1)
    assert reloaded.states() == {SOL: short_sol()}
    assert book.pop(BTC) == (None, TradeLedger())


def test_books_when_ghost_and_paper_share_a_store_then_their_hashes_do_not_mix(store):
    # Arrange
    paper, ghost = TradeBook(store, Memory.OPEN_TRADES), TradeBook(store, Memory.GHOST_TRADES)

    # Act
    paper.put(long_btc())
    ghost.put(short_sol())
    paper_again, ghost_again = TradeBook(store, Memory.OPEN_TRADES), TradeBook(store, Memory.GHOST_TRADES)
    paper_again.load()
    ghost_again.load()

    # Assert
    assert list(paper_again.states()) == [BTC] and list(ghost_again.states()) == [SOL]


def test_trade_state_json_when_round_tripped_then_every_field_is_exact():
    for state in (long_btc(), short_sol()):
        raw = trade_state_to_json(state)
        assert all(isinstance(v, (str, int, bool)) for v in raw.values())
        assert trade_state_from_json(raw) == state
