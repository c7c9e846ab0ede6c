"""A replay bot restarted on the same Redis goes on after the last candle it (or its venue) saw, or refuses.

Real `main.py bot --mode paper` processes on a small replay CSV written here, the simulated venue's snapshot
in the test's Redis. Before the fix a restarted replay started its files again: market time went back, the
venue ignored the older candles, and every order filled at the venue's frozen last price.
"""

from __future__ import annotations

import json
import signal
import threading
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from control.client import send_command, wait_result
from marketdata.csvfile import HEADER_LINE
from models import CommandStatus, CommandType
from state import StateStore

from processes import BotFleet, kill_group, wait_for

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
MIN = 60_000
T0 = 1_746_372_780_000  # 2025-05-04 15:33 UTC, the first row of the real BTC file
ROWS = 3000
BACKFILL = 100
TICK = Decimal("0.1")
SLIPPAGE = Decimal("0.0002")  # venue.slippage.fixed_bps = 2


def close_of(open_ms: int) -> Decimal:
    """Row i's close: a rising sawtooth, so two different candles never share a price for long and a fill
    at a stale price is tens of USDT away from the candle it was booked on."""
    i = (open_ms - T0) // MIN
    return Decimal(20000 + 5 * i + 40 * (i % 12))


def write_replay(path: Path, rows: int = ROWS) -> Path:
    lines = [HEADER_LINE]
    for i in range(rows):
        ts = T0 + i * MIN
        close = close_of(ts)
        opened = close_of(ts - MIN) if i else close
        lines.append(f"{ts},{opened},{max(opened, close) + 15},{min(opened, close) - 15},{close},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def replay_env(csv: Path, *, speed: str, loop: bool) -> dict[str, str]:
    return {
        "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": json.dumps({BTC: str(csv)}),
        "TB_MARKET_DATA__REPLAY__SPEED": speed,
        "TB_MARKET_DATA__REPLAY__LOOP": "true" if loop else "false",
        "TB_MARKET_DATA__BACKFILL_CANDLES": str(BACKFILL),
        "TB_BOT__SYMBOLS": f"[{BTC}]",
    }


def last_candle(store: StateStore) -> int:
    return int(store.read_state().get("last_candle_open_ms") or 0)


def venue_market_ms(store: StateStore) -> int:
    """The simulated venue's own market time: the newest candle open it took, from its Redis snapshot."""
    _, data = store.venue_store("sim").load()
    return max(json.loads(data)["last_open_ms"].values()) if data else 0


def venue_orders(store: StateStore) -> list[dict]:
    _, data = store.venue_store("sim").load()
    return json.loads(data)["orders"]


@pytest.fixture
def csv(tmp_path) -> Path:
    return write_replay(tmp_path / "btc.csv")


@pytest.fixture
def fleet_for(store: StateStore, redis_url: str, tmp_path) -> Iterator:
    fleets: list[BotFleet] = []

    def make(**env: str) -> BotFleet:
        fleet = BotFleet(store, redis_url, tmp_path, **env)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.cleanup()


def run_until(fleet: BotFleet, store: StateStore, past_ms: int, *, not_pid: int | None = None):
    """A paper bot that has processed a candle opened after `past_ms`."""
    bot = fleet.start_bot("paper")
    pid = fleet.wait_bot_running(not_pid=not_pid)
    wait_for(lambda: last_candle(store) > past_ms and store.read_state().get("pid") == str(pid), 20,
             f"the bot past {past_ms}", on_timeout=fleet.logs)
    return bot, pid


class Sampler:
    """What a user watching the state hash sees, every 20 ms: (pid, last candle, market time)."""

    def __init__(self, store: StateStore):
        self.store, self.samples, self._stop = store, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            state = self.store.read_state()
            self.samples.append((state.get("pid"), int(state.get("last_candle_open_ms") or 0), int(state.get("market_ms") or 0)))

    def stop(self) -> list[tuple]:
        self._stop.set()
        self._thread.join(5)
        return self.samples


@pytest.mark.parametrize("state_behind_venue", [False, True], ids=["killed", "killed-between-venue-and-state-writes"])
def test_restart_when_replay_bot_killed_then_market_time_goes_on_and_orders_fill_at_the_current_price(
    store: StateStore, csv: Path, fleet_for, state_behind_venue: bool
):
    # Arrange: a replay bot (5 candles a second) well into its file, then SIGKILL
    fleet = fleet_for(**replay_env(csv, speed="300", loop=False))
    first, first_pid = run_until(fleet, store, T0 + (BACKFILL + 20) * MIN)
    kill_group(first.pid, signal.SIGKILL)
    first.process.wait(5)
    reached = max(last_candle(store), venue_market_ms(store))
    if state_behind_venue:
        # the kill fell after the venue saved a batch of candles and before the state hash recorded them
        store.write_state(last_candle_open_ms=reached - 15 * MIN)

    store.client.hdel(store.key("state"), "market_ms")  # the killed run's last heartbeat is not the new run's

    # Act: a new bot process on the same Redis and files, an entry as soon as it runs, while it is watched
    sampler = Sampler(store)
    second = fleet.start_bot("paper")
    second_pid = fleet.wait_bot_running(not_pid=first_pid)
    opened = wait_result(store, send_command(store, CommandType.OPEN, {"symbol": BTC, "side": "long", "notional": "500"},
                                             issued_by="test").command_id, 15)
    wait_for(lambda: last_candle(store) > reached + 5 * MIN, 20, "five candles after the restart", on_timeout=fleet.logs)
    samples = [(last, market) for pid, last, market in sampler.stop() if pid == str(second_pid)]

    # Assert: the restarted bot's market time never went back behind what the bot and its venue had seen
    candles = sorted({last for last, _ in samples if last != (reached - 15 * MIN if state_behind_venue else reached)})
    assert candles and candles[0] == reached + MIN, (candles[:5], reached)
    clock = [market for _, market in samples if market]  # none, or 0, until the new run's warm-up set it
    assert clock and min(clock) >= reached + MIN, (clock[:5], reached)
    assert venue_market_ms(store) > reached
    # and the entry filled at the price of the candle it was decided on (or the one before, which the venue
    # may still hold while the engine takes that candle in), not at a price frozen candles ago
    assert opened is not None and opened.status is CommandStatus.DONE, opened
    [entry] = [o for o in venue_orders(store) if o["client_order_id"].endswith("-en")]
    decided_on = int(entry["created_ms"]) - MIN  # the market clock is that candle's close time
    fill = Decimal(entry["avg_fill_price"])
    closes = [close_of(decided_on), close_of(decided_on - MIN)]
    assert any(abs(fill - c) <= c * SLIPPAGE + TICK for c in closes), (fill, closes, entry)
    assert second.alive(), fleet.logs()


def test_restart_when_non_looping_replay_ended_before_the_bots_market_then_refused_with_one_line(
    store: StateStore, csv: Path, tmp_path: Path, fleet_for
):
    # Arrange: a bot that got past row 130, then its config points at a file that ends at row 119
    fleet = fleet_for(**replay_env(csv, speed="300", loop=False))
    first, first_pid = run_until(fleet, store, T0 + 130 * MIN)
    kill_group(first.pid, signal.SIGKILL)
    first.process.wait(5)
    state_before = store.read_state()
    short = write_replay(tmp_path / "short.csv", rows=120)

    # Act
    refused = fleet_for(**replay_env(short, speed="300", loop=False)).start_bot("paper")
    code = refused.process.wait(30)

    # Assert: exit 2, one line saying why, and nothing written (the state hash is the killed run's)
    lines = refused.log_path.read_text().splitlines()
    assert code == 2, lines
    assert "Traceback" not in "\n".join(lines)
    assert lines[-1].startswith(f"error: replay cannot continue bot {store.bot_id}: the replay files end at "
                                "2025-05-04 17:32 UTC and do not loop, but this bot's market already reached "), lines
    assert store.read_state() == state_before


def test_restart_when_looping_replay_is_in_a_later_lap_then_it_goes_on_in_that_lap(
    store: StateStore, tmp_path: Path, fleet_for
):
    # Arrange: a 160-row looping file played as fast as possible, so the first run laps it several times
    rows = 160
    looped = write_replay(tmp_path / "loop.csv", rows=rows)
    fleet = fleet_for(**replay_env(looped, speed="0", loop=True))
    first, first_pid = run_until(fleet, store, T0 + 3 * rows * MIN)
    kill_group(first.pid, signal.SIGKILL)
    first.process.wait(5)
    reached = max(last_candle(store), venue_market_ms(store))

    # Act: the same files at a candle a second
    second, _ = run_until(fleet_for(**replay_env(looped, speed="60", loop=True)), store, reached, not_pid=first_pid)

    # Assert: the next candles, in the lap it was in, at the prices of the file's rows there
    went_on = last_candle(store)
    assert reached < went_on <= reached + 3 * MIN
    _, data = store.venue_store("sim").load()
    venue = json.loads(data)
    row_open = T0 + (venue["last_open_ms"][BTC] - T0) // MIN % rows * MIN
    assert venue["last_open_ms"][BTC] > reached and Decimal(venue["marks"][BTC]) == close_of(row_open)
    assert second.alive()
