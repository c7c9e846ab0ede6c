"""A real paper bot process on `binance-demo` (`main.py bot --mode paper --venue binance-demo`), pointed at
the stand-in by venue.binance_url, runs the whole loop: an entry, its protective stop resting as an algo
order, a restart that recovers both without sending either again, and the kill switch ending flat with no
order of any kind left at the venue. Without keys the same command exits 2 naming the variables.

The bot decides on the synthetic feed (fast candles); the stand-in's market stands still at its recorded
2025 prices, so the stop (10-20 % away) rests untouched; with take-profits switched off none rests, as on the
simulator (a restart and its reconcile do not place one either)."""

from __future__ import annotations

import signal
from typing import Iterator

import pytest

from state import StateStore
from tests.integration.processes import BotFleet, kill_group, run_cli, wait_for
from tests.standin.fixtures import TEST_KEYS

pytestmark = pytest.mark.slow

BTC = "BTC/USDT:USDT"
KEY, SECRET = next(iter(TEST_KEYS.items()))


@pytest.fixture
def fleet(store: StateStore, redis_url: str, tmp_path, binance_futures_standin) -> Iterator[BotFleet]:
    fleet = BotFleet(store, redis_url, tmp_path, TB_VENUE__BINANCE_URL=binance_futures_standin.url,
                     TB_BOT__SYMBOLS="[BTC/USDT:USDT]", TB_EXITS__TAKE_PROFIT_ENABLED="false",
                     BINANCE_DEMO_API_KEY=KEY, BINANCE_DEMO_API_SECRET=SECRET)
    yield fleet
    fleet.cleanup()


def venue_book(standin) -> tuple[list, list[str], list[str]]:
    """What the venue holds: positions, open regular orders' and open algo orders' client ids."""
    account = standin.account
    with account.lock:
        positions = [p for p in account.sim.positions()]
        regular = [o.client_id for o in account.open_orders()]
        algos = [a.client_algo_id for a in account.open_algos()]
    return positions, regular, algos


def test_paper_bot_on_binance_demo_when_entering_restarting_and_killing_then_protected_recovered_and_flat(
        store: StateStore, fleet: BotFleet, binance_futures_standin):
    standin = binance_futures_standin
    fleet.start_bot("paper", "--venue", "binance-demo")
    first_pid = fleet.wait_bot_running(timeout_s=40)
    assert fleet.state().get("venue") == "binance-demo"

    opened = run_cli(["open", BTC, "--side", "long", "--notional", "300", "--timeout", "20"], fleet.env)
    assert opened.returncode == 0, opened.stdout + opened.stderr + fleet.logs()

    # the entry filled at the venue and its stop rests there as an algo order for the whole quantity
    positions, regular, algos = wait_for(lambda: (lambda b: b if b[0] and b[2] else None)(venue_book(standin)), 20,
                                         "a position with its stop at the venue", on_timeout=fleet.logs)
    (trade_id,) = {cid.rsplit("-", 1)[0] for cid in algos}
    assert regular == [] and algos == [f"{trade_id}-sl0"]  # the take-profit is switched off: none rests
    stop = next(a for a in standin.account.open_algos() if a.client_algo_id.endswith("-sl0"))
    assert stop.reduce_only and stop.quantity == positions[0].qty and stop.order_type == "STOP_MARKET"
    entries_sent = standin.count("/fapi/v1/order", "POST")
    assert entries_sent == 1

    # SIGKILL, then a new bot: the position and its stop are recognised, nothing is sent again
    kill_group(fleet.live_bot_pid(), signal.SIGKILL)
    fleet.start_bot("paper", "--venue", "binance-demo")
    fleet.wait_bot_running(timeout_s=40, not_pid=first_pid)
    wait_for(lambda: standin.count("/fapi/v1/openAlgoOrders") > 0 and fleet.heartbeats(), 20,
             "the restarted bot checking its protection", on_timeout=fleet.logs)
    status = run_cli(["status", "--json"], fleet.env)
    assert f'"{BTC}"' in status.stdout and "binance-demo" in status.stdout, status.stdout
    positions_after, regular_after, algos_after = venue_book(standin)
    assert [p.qty for p in positions_after] == [positions[0].qty]
    assert sorted(algos_after) == sorted(algos) and regular_after == []
    assert standin.count("/fapi/v1/order", "POST") == entries_sent
    assert standin.count("/fapi/v1/algoOrder", "POST") == 1  # the stop, once: no take-profit, before or after

    # the kill switch: flat at the venue, no regular or algo order left
    killed = run_cli(["close-all", "--timeout", "20"], fleet.env)

    assert killed.returncode == 0, (killed.stdout + killed.stderr + fleet.logs() + str(venue_book(standin))
                                    + "\n".join(e.message for e in store.read_audit(40)))
    assert venue_book(standin) == ([], [], [])
    trades = wait_for(lambda: [t for t in store.read_trades(100) if t.trade_id == trade_id], 10, "the booked trade")
    assert len(trades) == 1 and trades[0].qty == positions[0].qty
    logs = fleet.logs()
    assert SECRET not in logs and KEY not in logs


def test_paper_bot_on_binance_demo_when_keys_are_missing_then_exit_2_naming_the_variables(redis_url, bot_id):
    from tests.integration.processes import process_env

    env = process_env(redis_url, bot_id)
    env.pop("BINANCE_DEMO_API_KEY", None)
    env.pop("BINANCE_DEMO_API_SECRET", None)

    result = run_cli(["bot", "--mode", "paper", "--venue", "binance-demo"], env)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: venue binance-demo needs its API key pair in the environment: set BINANCE_DEMO_API_KEY and "
        "BINANCE_DEMO_API_SECRET"]
