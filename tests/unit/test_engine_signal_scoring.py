"""Signal scoring (engine/signal_scoring.py): forward returns at 5/15/60 minutes, filled by the first
candle whose close reaches the horizon, then one outcome record; pending signals live in Redis."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.signal_scoring import PENDING, SignalScorer
from models import Candle, Side, Signal
from state import StateStore

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MINUTE = 60_000
T0 = 1_746_400_000_000 - 1_746_400_000_000 % MINUTE  # a minute boundary: the signal candle's close
HORIZONS = (5, 15, 60)


def signal(side: Side = Side.LONG, price: str = "100", symbol: str = BTC, strategy: str = "ema_trend") -> Signal:
    return Signal(symbol=symbol, side=side, strength=0.8, price=Decimal(price), ts_ms=T0, strategy=strategy, reason="test")


def candle_closing_at(minutes_after: int, close: str, symbol: str = BTC) -> Candle:
    """The 1m candle whose close time is `minutes_after` minutes after the signal."""
    c = Decimal(close)
    return Candle(symbol, "1m", T0 + (minutes_after - 1) * MINUTE, c, c, c, c, Decimal("10"))


def feed(scorer: SignalScorer, minutes: range, close: str = "100", symbol: str = BTC) -> list[dict]:
    done = []
    for m in minutes:
        done += scorer.on_candle(candle_closing_at(m, close, symbol))
    return done


@pytest.mark.parametrize("horizon", HORIZONS)
def test_on_candle_when_one_minute_before_the_horizon_then_that_return_is_not_filled(store: StateStore, horizon: int):
    # Arrange
    scorer = SignalScorer(store, HORIZONS)
    signal_id = scorer.record(signal(), taken=True)

    # Act
    feed(scorer, range(1, horizon))

    # Assert
    assert f"{horizon}m" not in scorer.pending[signal_id]["returns"]


@pytest.mark.parametrize("horizon", HORIZONS[:-1])
def test_on_candle_when_the_close_reaches_the_horizon_exactly_then_the_return_is_that_candles_close(store: StateStore, horizon: int):
    # Arrange
    scorer = SignalScorer(store, HORIZONS)
    signal_id = scorer.record(signal(price="100"), taken=True)
    feed(scorer, range(1, horizon), close="100")

    # Act
    feed(scorer, range(horizon, horizon + 1), close="101.5")
    feed(scorer, range(horizon + 1, horizon + 2), close="90")  # later candles do not overwrite it

    # Assert: +1.5 % in the signal's direction, in memory and in Redis
    assert scorer.pending[signal_id]["returns"][f"{horizon}m"] == "1.5000"
    assert store.recall(PENDING)[signal_id]["returns"][f"{horizon}m"] == "1.5000"


def test_on_candle_when_the_last_horizon_passes_then_one_outcome_record_with_every_horizon(store: StateStore):
    # Arrange: a short at 100 that the market proves right at 5 and 60 minutes, wrong at 15
    scorer = SignalScorer(store, HORIZONS)
    signal_id = scorer.record(signal(Side.SHORT, price="100"), taken=False, why_not="halted: test")
    feed(scorer, range(1, 5))
    feed(scorer, range(5, 6), close="99")
    feed(scorer, range(6, 15))
    feed(scorer, range(15, 16), close="100.25")

    # Act
    before = feed(scorer, range(16, 60))
    outcomes = feed(scorer, range(60, 61), close="98")
    later = feed(scorer, range(61, 70))

    # Assert
    assert before == [] and later == [] and len(outcomes) == 1  # exactly at 60 minutes, once
    outcome = outcomes[0]
    assert outcome == {
        "kind": "outcome", "signal_id": signal_id, "symbol": BTC, "side": "short", "ts_ms": T0,
        "ret_5m": "1.0000", "correct_5m": True,
        "ret_15m": "-0.2500", "correct_15m": False,
        "ret_60m": "2.0000", "correct_60m": True,
    }
    records = store.read_signals(100)
    assert [r["kind"] for r in records] == ["signal", "outcome"]
    assert records[0]["taken"] == "0"
    assert records[0]["why_not"] == "halted: test"
    assert records[1]["signal_id"] == signal_id and records[1]["ret_60m"] == "2.0000"
    assert store.recall(PENDING) == {} and scorer.pending == {}


def test_on_candle_when_the_candle_is_another_symbols_then_nothing_is_filled(store: StateStore):
    # Arrange
    scorer = SignalScorer(store, HORIZONS)
    signal_id = scorer.record(signal(symbol=BTC), taken=True)

    # Act
    outcomes = feed(scorer, range(1, 61), close="120", symbol=ETH)

    # Assert
    assert outcomes == [] and scorer.pending[signal_id]["returns"] == {}


def test_load_when_a_new_scorer_starts_on_the_same_store_then_pending_signals_carry_on_to_their_outcome(store: StateStore):
    # Arrange: the first process scored 5 and 15 minutes, then died
    first = SignalScorer(store, HORIZONS)
    signal_id = first.record(signal(Side.LONG, price="200"), taken=True)
    feed(first, range(1, 5))
    feed(first, range(5, 6), close="202")
    feed(first, range(6, 15))
    feed(first, range(15, 16), close="199")

    # Act: a new process on the same store
    second = SignalScorer(store, HORIZONS)
    second.load()
    feed(second, range(16, 60))
    outcomes = feed(second, range(60, 61), close="210")

    # Assert
    assert [(o["signal_id"], o["ret_5m"], o["ret_15m"], o["ret_60m"]) for o in outcomes] == [
        (signal_id, "1.0000", "-0.5000", "5.0000")
    ]
    assert store.recall(PENDING) == {}


def test_on_candle_when_an_outage_falls_inside_the_window_then_the_horizons_after_it_are_flagged_not_scored(store):
    # Arrange: a long at 100; candles every minute for 20 minutes, then the exchange is silent for 4.5 hours
    from ui.summaries import signal_accuracy

    scorer = SignalScorer(store, HORIZONS)
    signal_id = scorer.record(signal(Side.LONG, price="100"), taken=True)
    feed(scorer, range(1, 5))
    feed(scorer, range(5, 6), close="101")
    feed(scorer, range(6, 15))
    feed(scorer, range(15, 21), close="99")

    # Act: the first candle after the outage closes 310 minutes after the signal
    outcomes = feed(scorer, range(310, 311), close="103")

    # Assert: 5 and 15 minutes were before the hole and count; the "60-minute" return that really spans
    # 310 minutes (scored +3 % on the old code) is flagged and not counted
    outcome = outcomes[0]
    assert outcome["signal_id"] == signal_id
    assert (outcome["ret_5m"], outcome["correct_5m"], outcome["ret_15m"], outcome["correct_15m"]) == (
        "1.0000", True, "-1.0000", False)
    assert (outcome["ret_60m"], outcome["correct_60m"]) == ("", "")
    assert outcome["gap_60m"] == "310 min across a market data gap; not scored"
    assert outcome["ret_60m_across_gap"] == "3.0000"
    accuracy = {a.horizon: (a.scored, a.correct) for a in signal_accuracy(store.read_signals(10))}
    assert accuracy == {"5m": (1, 1), "15m": (1, 0), "60m": (0, 0)}


def test_on_candle_when_the_gap_came_before_the_signal_then_its_returns_are_scored(store):
    scorer = SignalScorer(store, HORIZONS)
    scorer.on_candle(candle_closing_at(-300, "100"))  # the last candle before an outage that ended before the signal
    scorer.on_candle(candle_closing_at(0, "100"))
    scorer.record(signal(Side.LONG, price="100"), taken=True)

    outcomes = feed(scorer, range(1, 61), close="101")

    assert [(o["ret_60m"], o["correct_60m"]) for o in outcomes] == [("1.0000", True)]
    assert "gap_60m" not in outcomes[0]


@pytest.mark.parametrize("horizons", [(), HORIZONS], ids=["no horizons", "5/15/60"])
def test_on_candle_when_a_signal_comes_after_its_symbols_others_were_scored_then_it_is_scored_too(horizons):
    # Arrange: the first signal completes, leaving nothing pending on BTC; the second comes an hour later
    scorer = SignalScorer(None, horizons)
    scorer.record(signal(), taken=True)
    first = feed(scorer, range(1, 61))
    later = Signal(symbol=BTC, side=Side.SHORT, strength=0.8, price=Decimal("100"), ts_ms=T0 + 60 * MINUTE,
                   strategy="ema_trend", reason="test")
    scorer.record(later, taken=True)

    # Act
    second = feed(scorer, range(61, 121), close="90")

    # Assert: a candle before the next horizon looks at nothing, but one reaching it scores the signal
    assert len(first) == 1 and len(second) == 1
    assert [o["ts_ms"] for o in first + second] == [T0, T0 + 60 * MINUTE]
    assert all(second[0][f"ret_{h}m"] == "10.0000" for h in horizons)
    assert scorer.pending == {}
