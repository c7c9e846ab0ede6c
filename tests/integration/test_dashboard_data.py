"""The dashboard's reads of a real Redis that keep what they read and top it up with what is new."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import Candle
from state import CANDLES_KEPT, StateStore
from ui import data

BTC = "BTC/USDT:USDT"


def _candles(start: int, n: int) -> list[Candle]:
    p = Decimal("95000.0")
    return [Candle(BTC, "1m", (start + i) * 60_000, p, p + 20, p - 20, p + (start + i) % 7, Decimal(5))
            for i in range(n)]


@pytest.mark.parametrize("new", [1, 3, data.CANDLES_TOPUP - 1, data.CANDLES_TOPUP, 40, CANDLES_KEPT + 5])
def test_candles_when_new_candles_arrive_then_the_same_as_reading_them_all(store: StateStore, new: int):
    store.push_candles(_candles(0, CANDLES_KEPT))  # a full list: every push trims its start
    assert data.candles(store, BTC) == store.read_candles(BTC)

    store.push_candles(_candles(CANDLES_KEPT, new))

    assert data.candles(store, BTC) == store.read_candles(BTC)


def test_candles_when_the_list_was_written_anew_then_read_again_whole(store: StateStore):
    store.push_candles(_candles(0, 30))
    data.candles(store, BTC)
    store.wipe()

    store.push_candles(_candles(1000, 10))

    assert data.candles(store, BTC) == store.read_candles(BTC)


@pytest.mark.parametrize(("before", "pushed_again"), [
    ((0, 100), (95, 10)),  # the restarted bot pushes the market's newest candles, the chart's last among them
    ((0, 30), (25, 16)),
    ((0, CANDLES_KEPT), (CANDLES_KEPT - 3, 5)),
])
def test_candles_when_wiped_and_pushed_again_around_the_last_one_shown_then_only_what_redis_holds(
        store: StateStore, before, pushed_again):
    store.push_candles(_candles(*before))
    data.candles(store, BTC)
    store.wipe()  # what `reset` does; a FLUSHALL or a Redis started empty looks the same

    store.push_candles(_candles(*pushed_again))

    assert data.candles(store, BTC) == store.read_candles(BTC)
