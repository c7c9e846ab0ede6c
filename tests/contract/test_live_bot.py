"""A real live bot process (`main.py bot --mode live`) against the stand-in playing Binance mainnet, as a user
who did everything the go-live protocol asks would run it: the key pair in BINANCE_API_KEY/SECRET (no
withdrawals, IP restricted, futures allowed), five clean paper trades, a hundred scored ghost signals and the
typed approval in Redis. Then the gate passes and asks the venue itself; BTC is dropped at start-up with its line
(the venue's smallest BTC order is above the 50 USDT cap); an `open` above the cap is refused with the reason;
one inside the limits fills and its reduce-only stop rests at the venue as an algo order; the kill switch
ends with the venue's own position list empty and no order of any kind left.

The bot's candles are a replay at the stand-in's own prices, at a minute a second from 10:00 UTC (away from
the blackout hours, whatever the wall clock says); the stand-in's market stands still, so the stop rests."""

from __future__ import annotations

import json
import signal
import urllib.request
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Iterator

import pytest

from control.go_live import approval_text
from marketdata.csvfile import HEADER_LINE
from models import ExitReason, Mode, Side, Trade
from risk.live_limits import LIVE_MAX_DAILY_LOSS_USDT, LIVE_MAX_POSITION_USDT
from state import StateStore
from tests.integration.processes import BotFleet, run_cli, wait_for
from tests.standin.binance_standin import DEFAULT_NOW_MS, BinanceStandin
from tests.standin.signing import TEST_KEYS

pytestmark = pytest.mark.slow

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
KEY, SECRET = next(iter(TEST_KEYS.items()))
MIN = 60_000
DAY = 1_747_699_200_000  # 2025-05-20 00:00 UTC
REPLAY_FROM = DAY + 10 * 60 * MIN  # 10:00: the blackout hours (22-01 UTC) are far away
REPLAY_ROWS = 900  # 15 minutes of wall time at a minute a second: longer than any test here
SAFE_KEY = {"enableWithdrawals": False, "ipRestrict": True, "enableFutures": True}


def mark(standin: BinanceStandin, market_id: str) -> Decimal:
    with urllib.request.urlopen(f"{standin.url}/fapi/v1/premiumIndex?symbol={market_id}", timeout=5) as reply:
        return Decimal(json.loads(reply.read())["markPrice"])


def write_replay(folder: Path, prices: dict[str, Decimal], start_ms: int = REPLAY_FROM,
                 count: int = REPLAY_ROWS, swing_every: int = 5) -> dict[str, str]:
    """One CSV of 1m rows a symbol, closing at the venue's price (the feed and the venue agree, no stop is
    reached), with a swing low 2.5 % down every `swing_every` rows for the structure stop to stand on."""
    files = {}
    for symbol, price in prices.items():
        path = folder / f"{symbol.split('/')[0].lower()}.csv"
        high = price * Decimal("1.001")
        lows = [price * Decimal("0.975") if i % swing_every == swing_every // 2 else price * Decimal("0.999") for i in range(count)]
        rows = [HEADER_LINE] + [f"{start_ms + i * MIN},{price},{high},{low},{price},1000" for i, low in enumerate(lows)]
        path.write_text("\n".join(rows) + "\n")
        files[symbol] = str(path)
    return files


def seed_evidence(store: StateStore, env: dict[str, str], daily_loss_usdt: Decimal = LIVE_MAX_DAILY_LOSS_USDT) -> None:
    """What a user who went through ghost and paper has in Redis: 5 clean paper trades, 100 scored ghost
    signals (60 right by 0.5 %, 40 wrong by 0.3 % at 60 m), and the typed approval through the CLI."""
    for i in range(5):
        entry_ms = DAY - (10 - i) * 60 * MIN
        store.append_trade(Trade(
            trade_id=f"paper-{i}", symbol=ETH, side=Side.LONG, qty=Decimal("0.01"), entry_price=Decimal("2500"),
            exit_price=Decimal("2510"), entry_ms=entry_ms, exit_ms=entry_ms + 30 * MIN, gross_pnl=Decimal("0.1"),
            fees=Decimal("0.02"), pnl=Decimal("0.08"), exit_reason=ExitReason.TAKE_PROFIT, mode=Mode.PAPER))
    for i in range(100):
        store.append_signal({"kind": "outcome", "signal_id": f"g{i}", "symbol": ETH, "side": "long",
                             "ts_ms": str(DAY - (200 - i) * MIN), "ret_5m": "0.1", "ret_15m": "0.1",
                             "ret_60m": "0.5" if i < 60 else "-0.3"})
    approved = run_cli(["approve-live", "--ack", approval_text(LIVE_MAX_POSITION_USDT, daily_loss_usdt)], env)
    assert approved.returncode == 0, approved.stdout + approved.stderr


def venue_book(standin: BinanceStandin) -> tuple[list, list[str], list[str]]:
    """What the venue itself holds: positions, open regular orders' and open algo orders' client ids."""
    account = standin.account
    with account.lock:
        return (list(account.sim.positions()), [o.client_id for o in account.open_orders()],
                [a.client_algo_id for a in account.open_algos()])


@pytest.fixture
def mainnet() -> Iterator[BinanceStandin]:
    from clock import SystemClock
    from tests.standin.fixtures import _needs_shared_data

    _needs_shared_data()
    standin = BinanceStandin(clock=SystemClock(), keys=TEST_KEYS, venue="mainnet", market_start_ms=DEFAULT_NOW_MS,
                             permissions=SAFE_KEY).start()
    standin.account  # built before the first request: its first answer is not a slow one
    yield standin
    standin.stop()


def live_fleet(store: StateStore, redis_url: str, tmp_path: Path, standin: BinanceStandin, **extra: str) -> BotFleet:
    files = write_replay(tmp_path, {BTC: mark(standin, "BTCUSDT"), ETH: mark(standin, "ETHUSDT")})
    return BotFleet(store, redis_url, tmp_path, **{
        "TB_VENUE__BINANCE_URL": standin.url, "BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET,
        "TB_BOT__SYMBOLS": f"[{BTC}, {ETH}]", "TB_MARKET_DATA__SOURCE": "replay",
        "TB_MARKET_DATA__REPLAY__FILES": json.dumps(files), "TB_MARKET_DATA__REPLAY__SPEED": "60",
        "TB_MARKET_DATA__REPLAY__LOOP": "false", "TB_EXITS__TAKE_PROFIT_ENABLED": "false",
        # a 40 USDT entry with its stop 2-3 % away risks about 1 USDT: inside the 5 USDT a trade may lose
        "TB_STOPS__MIN_STOP_PCT": "2", "TB_STOPS__MAX_STOP_PCT": "3", **extra,
    })


@pytest.fixture
def fleet(store: StateStore, redis_url: str, tmp_path: Path, mainnet: BinanceStandin) -> Iterator[BotFleet]:
    fleet = live_fleet(store, redis_url, tmp_path, mainnet)
    yield fleet
    fleet.cleanup()


def test_live_bot_when_the_evidence_is_there_then_btc_dropped_big_entry_refused_entry_protected_and_kill_switch_flat(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    standin = mainnet
    seed_evidence(store, fleet.env)

    fleet.start_bot("live")
    fleet.wait_bot_running(timeout_s=40)

    # the gate passed after asking the venue for the key's rights, and the bot trades on the live venue
    assert standin.count("/sapi/v1/account/apiRestrictions") >= 1
    assert fleet.state().get("venue") == "binance-live" and fleet.state().get("mode") == "live"
    dropped = wait_for(lambda: [e.message for e in store.read_audit(200, kinds=["state"]) if "dropped" in e.message],
                       20, "the line dropping BTC", on_timeout=fleet.logs)
    assert len(dropped) == 1 and dropped[0].startswith(f"{BTC}: dropped: the venue minimum order 0.001 × "), dropped
    assert "above the 50 USDT position cap" in dropped[0]

    too_big = run_cli(["open", ETH, "--side", "long", "--notional", "60", "--timeout", "20"], fleet.env)
    assert too_big.returncode == 1, too_big.stdout + too_big.stderr + fleet.logs()
    refusal = too_big.stdout + too_big.stderr
    assert "rejected" in refusal and f"order_too_large: {ETH}: order notional 5" in refusal and "> cap 50" in refusal, refusal + fleet.logs() + "\n".join(
        f"{e.kind} {e.ts_ms} {e.message}" for e in store.read_audit(60))
    assert venue_book(standin) == ([], [], []) and standin.count("/fapi/v1/order", "POST") == 0

    opened = run_cli(["open", ETH, "--side", "long", "--notional", "40", "--timeout", "20"], fleet.env)
    assert opened.returncode == 0, opened.stdout + opened.stderr + fleet.logs()

    # filled at the venue, and the reduce-only stop rests there as an algo order for the whole quantity
    positions, regular, algos = wait_for(lambda: (lambda b: b if b[0] and b[2] else None)(venue_book(standin)), 20,
                                         "a position with its stop at the venue", on_timeout=fleet.logs)
    [position] = positions
    assert position.symbol == ETH and position.qty * mark(standin, "ETHUSDT") <= LIVE_MAX_POSITION_USDT
    (trade_id,) = {cid.rsplit("-", 1)[0] for cid in algos}
    assert regular == [] and algos == [f"{trade_id}-sl0"]  # the take-profit is switched off: none rests
    stop = next(a for a in standin.account.open_algos() if a.client_algo_id.endswith("-sl0"))
    assert stop.reduce_only and stop.quantity == position.qty and stop.order_type == "STOP_MARKET"
    assert position.leverage == 1

    killed = run_cli(["close-all", "--timeout", "20"], fleet.env)

    assert killed.returncode == 0, killed.stdout + killed.stderr + fleet.logs()
    assert venue_book(standin) == ([], [], [])
    trades = wait_for(lambda: [t for t in store.read_trades(100) if not t.trade_id.startswith("paper-")], 10,
                      "the booked live trade", on_timeout=fleet.logs)
    assert len(trades) == 1 and trades[0].mode is Mode.LIVE and trades[0].exit_reason is ExitReason.KILL_SWITCH
    logs = fleet.logs()
    assert SECRET not in logs and KEY not in logs


def open_protected(fleet: BotFleet, standin: BinanceStandin, notional: str = "40") -> tuple:
    """A manual entry through the CLI, then the venue's position and its stop (the algo order)."""
    opened = run_cli(["open", ETH, "--side", "long", "--notional", notional, "--timeout", "20"], fleet.env)
    assert opened.returncode == 0, opened.stdout + opened.stderr + fleet.logs() + "\n".join(
        f"{e.kind} {e.message}" for e in fleet.store.read_audit(30))
    positions, _, _ = wait_for(lambda: (lambda b: b if b[0] and any(a.endswith("-sl0") for a in b[2]) else None)(
        venue_book(standin)), 20, "a position with its stop at the venue", on_timeout=fleet.logs)
    stop = next(a for a in standin.account.open_algos() if a.client_algo_id.endswith("-sl0"))
    return positions[0], stop


@pytest.mark.parametrize("venue_cancels_algo, keeps_setting, armed", [
    (False, "true", True),  # the countdown cancels regular orders only: the bot may arm it
    (True, "false", False),  # it would cancel the algo stops too: the bot must not
])
def test_live_bot_when_sigkilled_with_the_dead_man_switch_then_no_entry_rests_and_the_stop_does(
        store: StateStore, redis_url: str, tmp_path: Path, mainnet: BinanceStandin,
        venue_cancels_algo: bool, keeps_setting: str, armed: bool):
    from tests.integration.processes import kill_group
    from tests.standin.binance_standin import make_futures_client

    standin = mainnet
    standin.countdown_cancels_algo = venue_cancels_algo
    fleet = live_fleet(store, redis_url, tmp_path, standin, TB_VENUE__DEAD_MAN_SECONDS="3",
                       TB_VENUE__COUNTDOWN_KEEPS_ALGO_ORDERS=keeps_setting)
    try:
        seed_evidence(store, fleet.env)
        fleet.start_bot("live")
        fleet.wait_bot_running(timeout_s=40)
        line = wait_for(lambda: [e.message for e in store.read_audit(200, kinds=["state"]) if "dead-man" in e.message],
                        20, "the dead-man switch's start-up line", on_timeout=fleet.logs)
        assert line[0].startswith("dead-man switch armed" if armed else "dead-man switch off"), line
        position, stop = open_protected(fleet, standin)
        resting = []
        if armed:
            # an entry left resting at the venue (a GTC limit well under the market): what the switch is for
            client = make_futures_client(standin.url, KEY, SECRET, demo=False)
            price = float((mark(standin, "ETHUSDT") * Decimal("0.95")).quantize(Decimal("0.01")))
            client.create_order(ETH, "limit", "buy", 0.01, price, {"clientOrderId": "resting-entry"})
            resting = wait_for(lambda: venue_book(standin)[1], 5, "the resting entry")
            wait_for(lambda: standin.count("/fapi/v1/countdownCancelAll", "POST") >= 3, 10, "the switch re-armed",
                     on_timeout=fleet.logs)
        assert resting == (["resting-entry"] if armed else [])

        kill_group(fleet.live_bot_pid(), signal.SIGKILL)

        if armed:  # the countdown runs out: the venue cancels the entry by itself
            wait_for(lambda: venue_book(standin)[1] == [], 15, "the countdown cancelling the resting entry")
        else:  # never armed: no countdown exists at the venue to strip anything
            assert standin.count("/fapi/v1/countdownCancelAll") == 0 and standin.account.countdowns == {}
        positions, regular, algos = venue_book(standin)
        assert regular == [] and [p.qty for p in positions] == [position.qty]
        assert stop.client_algo_id in algos
        assert next(a for a in standin.account.open_algos() if a.client_algo_id == stop.client_algo_id).status == "NEW"
    finally:
        fleet.cleanup()


def test_live_bot_when_the_market_entry_fills_only_in_part_then_the_stop_covers_the_filled_part_at_once(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    standin = mainnet
    seed_evidence(store, fleet.env)
    fleet.start_bot("live")
    fleet.wait_bot_running(timeout_s=40)
    # the next entry fills 60 %, the rest expires (as an IOC's would). Not half: the stand-in checks the filled
    # part against MIN_NOTIONAL (20 USDT), and half of a 40 USDT entry is under it
    standin.partial_fill("0.6", symbol="ETHUSDT")

    position, stop = open_protected(fleet, standin)

    [entry] = [r for r in standin.requests if r.path == "/fapi/v1/order" and r.method == "POST"]
    asked = Decimal(entry.params["quantity"])
    assert entry.params["type"] == "MARKET" and position.qty == (asked * Decimal("0.6")).quantize(Decimal("0.001"), ROUND_DOWN)
    assert position.qty < asked
    assert stop.reduce_only and stop.quantity == position.qty and stop.status == "NEW"
    assert venue_book(standin)[1] == []  # nothing of the entry left resting


@pytest.mark.parametrize("permissions, seeded, unmet", [
    ({"enableWithdrawals": True, "ipRestrict": False}, False, [
        "no withdrawal permission: the key may withdraw: remove the permission",
        "IP restricted: the key works from any IP address",
        "paper validated: 0 closed paper trades (need ≥ 5)", "ghost validated: 0 scored signals (need ≥ 100)",
        "approval: not recorded"]),
    ({"enableWithdrawals": True}, True, ["no withdrawal permission: the key may withdraw: remove the permission"]),
    ({"enableFutures": False}, True, ["futures enabled: the key may not trade futures"]),
])
def test_bot_live_when_the_venue_is_asked_and_something_is_unmet_then_refused_listing_it_and_nothing_sent(
        store: StateStore, redis_url: str, mainnet: BinanceStandin, permissions, seeded, unmet):
    from tests.integration.processes import process_env

    standin = mainnet
    standin.permissions.update(permissions)
    env = process_env(redis_url, store.bot_id, TB_VENUE__BINANCE_URL=standin.url, BINANCE_API_KEY=KEY,
                      BINANCE_API_SECRET=SECRET)
    if seeded:
        seed_evidence(store, env)

    refused = run_cli(["bot", "--mode", "live"], env)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert lines[0] == f"live trading refused: {len(unmet)} of 7 go-live conditions unmet"
    assert len(lines) == 1 + len(unmet)
    for line, expected in zip(lines[1:], unmet):  # each with its figure after what is asked for
        assert line.startswith(f"  - {expected}"), (line, expected)
    assert standin.count("/sapi/v1/account/apiRestrictions") == 1  # the venue itself was asked
    assert standin.count("/fapi/v1/order", "POST") == 0 and standin.count("/fapi/v1/algoOrder", "POST") == 0
    assert store.read_state().get("running") != "1"
    assert KEY not in refused.stdout + refused.stderr and SECRET not in refused.stdout + refused.stderr


def test_live_bot_when_the_daily_loss_halts_it_then_still_halted_after_a_sigkill_and_lifted_at_the_next_utc_day(
        store: StateStore, redis_url: str, tmp_path: Path, mainnet: BinanceStandin):
    """`live.max_daily_loss_usdt` tightened to 0.01 USDT, so the entry's own taker fee (about 0.02 USDT) is the
    day's loss. 15m candles (each costs the live executor a few venue requests), the replay at full speed,
    each run to the end of a longer file; the first 50 candles warm up."""
    from models import HaltCause, TradingState
    from tests.integration.processes import kill_group

    standin = mainnet
    eth = mark(standin, "ETHUSDT")
    start = DAY - 16 * 60 * MIN  # 2025-05-19 08:00 UTC; the warm-up's 50 candles end at 20:30
    fleet = live_fleet(store, redis_url, tmp_path, standin, TB_BOT__SYMBOLS=f"[{ETH}]", TB_MARKET_DATA__REPLAY__SPEED="0",
                       TB_BOT__TIMEFRAME="15m", TB_MARKET_DATA__BACKFILL_CANDLES="50",
                       TB_LIVE__MAX_DAILY_LOSS_USDT="0.01", TB_BOT__EQUITY_SNAPSHOT_SECONDS="0.2")

    def run_to(open_ms: int, not_pid: int | None = None) -> int:
        """A bot on the file up to the 15m candle opening at `open_ms`, run until it has taken that candle."""
        rows = (open_ms - start) // MIN + 15
        files = write_replay(tmp_path, {ETH: eth}, start, rows, swing_every=45)
        fleet.env["TB_MARKET_DATA__REPLAY__FILES"] = json.dumps(files)
        fleet.start_bot("live")
        pid = fleet.wait_bot_running(timeout_s=40, not_pid=not_pid)
        wait_for(lambda: int(store.read_state().get("last_candle_open_ms") or 0) == open_ms, 30,
                 f"the candle of {open_ms}",
                 on_timeout=lambda: fleet.logs() + str({k: v for k, v in store.read_state().items() if "ms" in k or "data" in k}) + "\n".join(
                     f"{e.kind} {e.message}" for e in store.read_audit(30)))
        return pid

    def killed(pid: int) -> None:
        kill_group(pid, signal.SIGKILL)
        wait_for(lambda: fleet.live_bot_pid() is None, 10, "the bot gone")

    try:
        seed_evidence(store, fleet.env, daily_loss_usdt=Decimal("0.01"))
        pid = run_to(DAY - 3 * 60 * MIN)  # 21:00-21:15, before the blackout hours
        position, stop = open_protected(fleet, standin)
        flag = wait_for(store.read_halt, 10, "the daily loss halt", on_timeout=fleet.logs)
        assert flag.cause is HaltCause.DAILY_LOSS_LIMIT and "daily loss" in flag.reason, flag
        killed(pid)

        pid = run_to(DAY - 30 * MIN, not_pid=pid)  # 23:30-23:45: the same UTC day
        assert store.trading_state() is TradingState.HALTED and store.read_halt().cause is HaltCause.DAILY_LOSS_LIMIT
        refused = run_cli(["resume", "--timeout", "10"], fleet.env)
        assert refused.returncode == 1 and "daily_loss_limit" in refused.stdout + refused.stderr
        killed(pid)

        run_to(DAY, not_pid=pid)  # 00:00-00:15: the next UTC day

        lifted = wait_for(lambda: [e for e in store.read_audit(500, kinds=["state"])
                                   if e.data.get("cause") == "daily_loss_limit_lifted"], 10, "the lift", on_timeout=fleet.logs)
        assert len(lifted) == 1 and "the UTC day 2025-05-19 ended; 2025-05-20 trades again" in lifted[0].message
        assert store.trading_state() is TradingState.ACTIVE and store.read_halt() is None
        positions, regular, algos = venue_book(standin)  # a halt is not a close: still held, still protected
        assert [p.qty for p in positions] == [position.qty] and stop.client_algo_id in algos and regular == []
    finally:
        fleet.cleanup()
