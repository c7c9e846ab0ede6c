"""A symbol's candle list trimmed back to CANDLES_KEPT only once it holds CANDLES_SLACK more (s6-tick), read
as the dashboard reads it (ui.data.candles: the newest few appended to what it knew, everything again when
that does not fit): after every tick, whatever the number of candles a tick pushes and wherever the trim
falls, the chart has exactly the newest CANDLES_KEPT pushed, none lost, none twice, in order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import Candle
from state import CANDLES_KEPT, CANDLES_SLACK, StateStore
from ui import data

ETH = "ETH/USDT:USDT"
T0 = 1_746_000_000_000


def candle(minute: int) -> Candle:
    price = Decimal("3000.5") + minute
    return Candle(ETH, "1m", T0 + minute * 60_000, price, price + 1, price - 1, price, Decimal("12.5"))


@pytest.mark.parametrize("per_tick", [1, 3, 15, 16, 17, CANDLES_SLACK - 1, CANDLES_SLACK, CANDLES_SLACK + 1,
                                      CANDLES_KEPT - 1, CANDLES_KEPT, CANDLES_KEPT + 1])
def test_chart_when_ticks_push_across_the_trim_then_it_shows_the_newest_candles_once_each(store: StateStore,
                                                                                          onlooker: StateStore,
                                                                                          per_tick: int):
    pushed: list[Candle] = []
    minute = 0
    while len(pushed) < 2 * (CANDLES_KEPT + CANDLES_SLACK) + per_tick:
        tick = [candle(minute + i) for i in range(per_tick)]
        minute += per_tick
        with store.batch():
            store.push_candles(tick)
        pushed += tick
        shown = data.candles(onlooker, ETH)
        assert shown == pushed[-CANDLES_KEPT:], (per_tick, len(pushed))


@pytest.fixture
def onlooker(redis_url: str, store: StateStore) -> StateStore:
    """The dashboard's own connection to the same bot."""
    return StateStore.open(redis_url, store.bot_id)
