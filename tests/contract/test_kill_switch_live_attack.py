"""Attack on the kill switch of a real live bot (`main.py bot --mode live`) against the Binance stand-in playing
mainnet, with real Redis, real processes and the stand-in's own faults (tests/standin/faults.py).

The promise under attack: the kill switch always works — every position ends flat at the venue, every order
is cancelled, the state says HALTED, nothing is sent twice (no close flips a position), and what the bot says
about it is true. Each test names the defect it found (or the promise it checks) in its docstring."""

from __future__ import annotations

import json
import signal
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from models import TradingState
from state import StateStore
from tests.contract.test_live_bot import (  # noqa: F401 (mainnet is a fixture)
    ETH,
    KEY,
    SECRET,
    live_fleet,
    mainnet,
    mark as mark_of,
    open_protected,
    seed_evidence,
    venue_book,
)
from tests.integration.processes import BotFleet, kill_group, run_cli, wait_for
from tests.standin.binance_standin import BinanceStandin

pytestmark = pytest.mark.slow


def arm(standin: BinanceStandin, **spec) -> None:
    """A fault armed over HTTP, as a test in another process would (the same FaultPlan)."""
    request = urllib.request.Request(f"{standin.url}/_standin/fault", data=json.dumps(spec).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200


def audit_text(store: StateStore, n: int = 300) -> str:
    return "\n".join(f"{e.kind} {e.message} {e.data}" for e in store.read_audit(n))


def position_qty(standin: BinanceStandin) -> list[tuple[str, str, Decimal]]:
    return [(p.symbol, p.side.value, p.qty) for p in venue_book(standin)[0]]


@pytest.fixture
def supervised(store: StateStore, redis_url: str, tmp_path: Path, mainnet: BinanceStandin) -> Iterator[BotFleet]:
    """A supervisor that starts the live bot itself (`supervise --mode live`), restarting a crashed bot only after
    10 minutes: a dead bot stays dead for the test."""
    fleet = live_fleet(store, redis_url, tmp_path, mainnet, TB_CONTROL__RESTART_BACKOFF_SECONDS="[600]")
    yield fleet
    fleet.cleanup()


def test_close_all_when_the_live_bot_is_dead_then_the_supervisor_closes_the_position_at_the_venue(
        store: StateStore, supervised: BotFleet, mainnet: BinanceStandin):
    """DEFECT (critical): the supervisor's take-over flattens the *paper* venue, not Binance. `_open_venue` reads
    the mode from the state hash (live) but opens `open_exchange(self.settings)`, whose bot.mode is the
    config's (ghost), so it opens the simulated venue: it reports "flat confirmed" while the live position and
    its stop still rest on Binance (and with bot.mode live it would be refused for want of a go-live gate). It then
    writes the simulated venue's empty lists over the live bot's positions and orders in Redis, so the dashboard
    and `status` show no position either."""
    fleet, standin = supervised, mainnet
    seed_evidence(store, fleet.env)
    fleet.start_supervisor("live")
    pid = fleet.wait_bot_running(timeout_s=60)
    position, _stop = open_protected(fleet, standin)

    kill_group(pid, signal.SIGKILL)
    wait_for(lambda: fleet.live_bot_pid() is None, 10, "the bot gone")
    killed = run_cli(["close-all", "--timeout", "45"], fleet.env, timeout_s=60)

    said = killed.stdout + killed.stderr
    book = venue_book(standin)
    assert book == ([], [], []), (said, book, audit_text(store), fleet.logs())
    assert killed.returncode == 0 and "flat confirmed" in said, said
    assert store.trading_state() is TradingState.HALTED
    assert standin.count("/fapi/v1/order", "POST") == 2  # the entry, and exactly one close
    assert store.read_positions() == [] and store.read_orders() == []  # what the dashboard shows
    assert SECRET not in fleet.logs() + audit_text(store) and KEY not in fleet.logs() + audit_text(store)


def test_close_all_when_the_live_bot_is_dead_and_binance_first_fails_the_supervisor_s_connect_then_it_tries_again(
        store: StateStore, supervised: BotFleet, mainnet: BinanceStandin):
    """The supervisor's closing-only connection reads Binance's rules first: one 503 there ended the
    take-over as failed (the venue could not be opened) and nobody tried again, the position left open."""
    fleet, standin = supervised, mainnet
    seed_evidence(store, fleet.env)
    fleet.start_supervisor("live")
    pid = fleet.wait_bot_running(timeout_s=60)
    open_protected(fleet, standin)

    kill_group(pid, signal.SIGKILL)
    wait_for(lambda: fleet.live_bot_pid() is None, 10, "the bot gone")
    arm(standin, kind="status", path="/fapi/v1/exchangeInfo", status=503, body=INTERNAL_ERROR, times=2)
    killed = run_cli(["close-all", "--timeout", "45"], fleet.env, timeout_s=60)

    said = killed.stdout + killed.stderr
    assert len(standin.faults.log) == 2, standin.faults.log  # both refusals reached the supervisor
    assert venue_book(standin) == ([], [], []), (said, audit_text(store), fleet.logs())
    assert killed.returncode == 0 and "flat confirmed" in said, said
    assert "the venue could not be reached" in audit_text(store)
    assert standin.count("/fapi/v1/order", "POST") == 2  # the entry, and exactly one close


SOL = "SOL/USDT:USDT"


def by_hand(standin: BinanceStandin):
    """The trader's own ccxt client on the same account (the Binance app, a script): orders the bot never sent."""
    from tests.standin.binance_standin import make_futures_client

    client = make_futures_client(standin.url, KEY, SECRET, demo=False)
    client.load_markets()
    return client


@pytest.fixture
def fleet(store: StateStore, redis_url: str, tmp_path: Path, mainnet: BinanceStandin) -> Iterator[BotFleet]:
    fleet = live_fleet(store, redis_url, tmp_path, mainnet)
    yield fleet
    fleet.cleanup()


def started(store: StateStore, fleet: BotFleet) -> int:
    seed_evidence(store, fleet.env)
    fleet.start_bot("live")
    return fleet.wait_bot_running(timeout_s=60)


def test_close_all_when_a_position_was_opened_by_hand_on_a_symbol_the_bot_does_not_trade_then_it_is_closed_too(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """The kill switch closes what the venue holds, not what the bot remembers: a SOL position the trader opened
    by hand (SOL is not in bot.symbols) is closed beside the bot's own ETH position, each exactly once."""
    standin = mainnet
    started(store, fleet)
    open_protected(fleet, standin)
    by_hand(standin).create_order(SOL, "market", "buy", 1, None, {"newClientOrderId": "by-hand-sol"})
    assert sorted(s for s, _, _ in position_qty(standin)) == [ETH, SOL]

    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)

    said = killed.stdout + killed.stderr
    assert venue_book(standin) == ([], [], []), (said, venue_book(standin), audit_text(store), fleet.logs())
    assert killed.returncode == 0 and "flat confirmed" in said, said
    closes = [r.params for r in standin.requests if r.path == "/fapi/v1/order" and r.method == "POST"
              and r.params.get("reduceOnly") == "true"]
    assert sorted(c["symbol"] for c in closes) == ["ETHUSDT", "SOLUSDT"], closes
    status = run_cli(["status", "--json"], fleet.env)
    shown = json.loads(status.stdout)
    assert (shown["trading_state"], shown["positions"], shown["open_orders"]) == ("HALTED", [], []), shown


def test_close_all_when_the_trader_left_an_order_resting_on_another_symbol_then_it_is_cancelled_or_reported(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """DEFECT (medium): the kill switch looks for open orders only on the symbols the bot trades or holds (it
    never asks the venue for all open orders), so a buy limit the trader left resting on SOL survives the kill
    switch — which then says "flat confirmed … 0 orders open" — and can open a SOL position after it."""
    standin = mainnet
    started(store, fleet)
    open_protected(fleet, standin)
    sol = Decimal(by_hand(standin).fetch_ticker(SOL)["last"])
    price = float((sol * Decimal("0.9")).quantize(Decimal("0.01")))
    by_hand(standin).create_order(SOL, "limit", "buy", 1, price, {"newClientOrderId": "by-hand-sol-limit"})
    assert venue_book(standin)[1] == ["by-hand-sol-limit"]

    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)

    said = killed.stdout + killed.stderr
    book = venue_book(standin)
    assert book[1] == [] or "0 orders open" not in said, (said, book)


def filled(standin: BinanceStandin, market_id: str, side: str) -> Decimal:
    with standin.account.lock:
        return sum((Decimal(t["qty"]) for t in standin.account.trades if t["symbol"] == market_id and t["side"] == side),
                   Decimal(0))


ORDER, ALGO = "/fapi/v1/order", "/fapi/v1/algoOrder"
VENUE_FAULTS = {
    # the close is carried out, its answer lost: looked up by client id, never sent again
    "timeout_after_close": dict(kind="timeout_after", path=ORDER, method="POST"),
    # nothing reaches the venue and no answer comes: looked up (not there), sent again under the same id
    "timeout_before_close": dict(kind="timeout_before", path=ORDER, method="POST"),
    # Binance's execution-status-unknown, after placing it
    "503_unknown_applied": dict(kind="unknown_503", path=ORDER, method="POST", applied=True),
    "503_unknown_not_applied": dict(kind="unknown_503", path=ORDER, method="POST"),
    "1007_backend_timeout": dict(kind="status", path=ORDER, status=503, body={
        "code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown; "
                              "execution status unknown."}),
    "1001_internal": dict(kind="status", path=ORDER, status=500, body={
        "code": -1001, "msg": "Internal error; unable to process your request. Please try again."}),
    "429_on_the_close": dict(kind="rate_limit", path=ORDER, method="POST", retry_after_s=1, ban_s=60),
    "2022_reduce_only_rejected": dict(kind="status", path=ORDER, status=400, body={
        "code": -2022, "msg": "ReduceOnly Order is rejected."}),
    "4164_min_notional": dict(kind="status", path=ORDER, status=400, body={
        "code": -4164, "msg": "Order's notional must be no smaller than 20 (unless you choose reduce only)."}),
    "2019_margin": dict(kind="status", path=ORDER, status=400, body={
        "code": -2019, "msg": "Margin is insufficient."}),
    # the close fills 60 %, the rest expires: the next round closes what is left
    "close_fills_in_part": dict(kind="partial_fill", fraction="0.6", symbol="ETHUSDT"),
}


@pytest.mark.parametrize("fault", VENUE_FAULTS.values(), ids=VENUE_FAULTS.keys())
def test_close_all_when_the_venue_misbehaves_then_flat_once_halted_and_said_so(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin, fault: dict):
    """The kill switch through each of Binance's failures on its path: the venue ends flat with no order of any
    kind, the position is sold exactly once (reduce-only: never flipped short), the trade is booked once as a kill
    switch exit, the state is HALTED, and the CLI says "flat confirmed" with exit 0 — all within the bot's own
    `control.kill_switch_seconds` or one request timeout more."""
    standin = mainnet
    started(store, fleet)
    position, _ = open_protected(fleet, standin)
    arm(standin, **fault)

    killed = run_cli(["close-all", "--timeout", "40"], fleet.env, timeout_s=60)

    said = killed.stdout + killed.stderr
    book = venue_book(standin)
    context = (said, book, standin.faults.log, audit_text(store), fleet.logs())
    assert not standin.faults.armed(), ("the fault never fired", *context)
    assert book == ([], [], []), context
    assert filled(standin, "ETHUSDT", "SELL") == filled(standin, "ETHUSDT", "BUY") == position.qty, context
    assert killed.returncode == 0 and "flat confirmed" in said, context
    assert store.trading_state() is TradingState.HALTED
    trades = wait_for(lambda: [t for t in store.read_trades(100) if not t.trade_id.startswith("paper-")], 10,
                      "the booked live trade", on_timeout=fleet.logs)
    assert [(t.qty, t.exit_reason.value) for t in trades] == [(position.qty, "kill_switch")], context
    assert standin.faults.banned_count == 0
    text = fleet.logs() + audit_text(store) + said
    assert SECRET not in text and KEY not in text


INTERNAL_ERROR = {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}


def test_live_bot_when_one_venue_read_fails_then_it_stays_up_and_the_kill_switch_still_works(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """DEFECT (high): one transient venue error on a read (a single 503 -1001 on the positions, open orders or
    open algo orders list) ends the live bot process: `BotRuntime._tick` publishes the portfolio
    (`engine.publish` → `executor.portfolio()`) with no ExchangeError handling, so the error leaves `run()` and
    main.py exits with `error: OperationFailed: …`. Run alone (`main.py bot --mode live`), nothing restarts
    it: the position stays open, commands go unanswered, the kill switch is never run by the bot.

    The account (GET /fapi/v3/account) is read only by that publish, so one failure there crashes it every time;
    a failed positions or open-orders read does the same whenever it lands on the publish rather than on a
    candle's own reads (which are guarded): 3 of 5 runs of the kill-switch fault table here."""
    standin = mainnet
    pid = started(store, fleet)
    position, _ = open_protected(fleet, standin)

    arm(standin, kind="status", path="/fapi/v3/account", status=503, body=INTERNAL_ERROR)
    wait_for(lambda: standin.faults.log, 20, "the fault firing", on_timeout=fleet.logs)

    assert fleet.heartbeats(timeout_s=3) and fleet.live_bot_pid() == pid, fleet.logs()
    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)
    said = killed.stdout + killed.stderr
    assert venue_book(standin) == ([], [], []), (said, fleet.logs())
    assert killed.returncode == 0 and "flat confirmed" in said, said


def test_close_all_when_an_entry_stop_order_rests_and_its_cancel_fails_twice_then_it_is_cancelled_in_a_later_round(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """A stop-entry algo order (not reduce-only: it adds risk when it triggers) left by the trader on ETH, whose
    DELETE /fapi/v1/algoOrder fails twice with Binance's 503 unknown: the kill switch keeps at it until the venue
    lists no order, then says flat."""
    standin = mainnet
    started(store, fleet)
    position, _ = open_protected(fleet, standin)
    above = float((mark_of(standin, "ETHUSDT") * Decimal("1.05")).quantize(Decimal("0.01")))
    by_hand(standin).create_order(ETH, "market", "buy", 0.01, None, {"triggerPrice": above,
                                                                      "clientOrderId": "by-hand-stop-entry"})
    assert "by-hand-stop-entry" in venue_book(standin)[2]
    arm(standin, kind="unknown_503", path=ALGO, method="DELETE", times=2)

    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)

    said = killed.stdout + killed.stderr
    assert [f for f in standin.faults.log if f[1] == "DELETE"], standin.faults.log
    assert venue_book(standin) == ([], [], []), (said, venue_book(standin), audit_text(store))
    assert filled(standin, "ETHUSDT", "SELL") == filled(standin, "ETHUSDT", "BUY") == position.qty
    assert killed.returncode == 0 and "flat confirmed" in said, said


def test_close_all_when_the_venue_refuses_closes_longer_than_the_bot_tries_then_the_supervisor_closes_at_binance(
        store: StateStore, supervised: BotFleet, mainnet: BinanceStandin):
    """DEFECT (critical, the same root as the dead-bot take-over, on the likelier path): the venue answers every
    close with 503 -1001 for longer than `control.kill_switch_seconds`, so the live bot hands the kill switch
    over; the supervisor then "flattens" the simulated venue and reports done — `close-all` exits 0 saying
    "flat confirmed" — while the position is still open at Binance after the outage has ended."""
    fleet, standin = supervised, mainnet
    seed_evidence(store, fleet.env)
    fleet.start_supervisor("live")
    fleet.wait_bot_running(timeout_s=60)
    position, _ = open_protected(fleet, standin)
    arm(standin, kind="status", path=ORDER, status=503, body=INTERNAL_ERROR, times=10_000)

    import subprocess
    from tests.integration.processes import PROJECT_ROOT, PYTHON

    cli = subprocess.Popen([PYTHON, str(PROJECT_ROOT / "main.py"), "close-all", "--timeout", "60"], cwd=PROJECT_ROOT,
                           env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: "handed over" in audit_text(store, 50) or cli.poll() is not None, 30, "the bot handing over")
        urllib.request.urlopen(urllib.request.Request(f"{standin.url}/_standin/clear", data=b"{}", method="POST"),
                               timeout=5).read()  # the outage ends
        said, _ = cli.communicate(timeout=75)
    finally:
        if cli.poll() is None:
            cli.kill()

    book = venue_book(standin)
    assert book == ([], [], []), (said, book, audit_text(store, 80))
    assert cli.returncode == 0 and "flat confirmed" in said, said
    assert filled(standin, "ETHUSDT", "SELL") == position.qty


def test_close_all_when_sent_while_the_live_bot_was_sigkilled_then_the_restarted_bot_flattens_before_any_entry(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """SIGKILL, then the kill switch (nobody to answer it: the CLI says so and exits 1), then a restart: the
    restarted bot is HALTED from its first step and runs the waiting close-all — the venue ends flat, the
    command gets its one result, no entry is sent after the restart."""
    standin = mainnet
    pid = started(store, fleet)
    position, _ = open_protected(fleet, standin)
    kill_group(pid, signal.SIGKILL)
    wait_for(lambda: fleet.live_bot_pid() is None, 10, "the bot gone")

    unanswered = run_cli(["close-all", "--timeout", "2"], fleet.env)
    assert unanswered.returncode == 1 and "no answer" in unanswered.stderr, unanswered.stdout + unanswered.stderr
    assert store.trading_state() is TradingState.HALTED
    entries_before = [r for r in standin.requests if r.path == ORDER and r.method == "POST"
                      and r.params.get("reduceOnly") != "true"]

    fleet.start_bot("live")
    fleet.wait_bot_running(timeout_s=60, not_pid=pid)

    wait_for(lambda: venue_book(standin) == ([], [], []), 30, "the restarted bot flattening",
             on_timeout=lambda: str(venue_book(standin)) + audit_text(store, 60) + fleet.logs())
    entries_after = [r for r in standin.requests if r.path == ORDER and r.method == "POST"
                     and r.params.get("reduceOnly") != "true"]
    assert entries_after == entries_before  # the one entry of the test, nothing after the restart
    assert filled(standin, "ETHUSDT", "SELL") == position.qty
    assert store.trading_state() is TradingState.HALTED
    done = wait_for(lambda: [e.message for e in store.read_audit(100, kinds=["command"])
                             if e.message.startswith("close-all from cli: done")], 10, "the close-all's result")
    assert len(done) == 1, done


def test_close_all_when_sent_while_a_manual_entry_is_being_filled_then_whatever_filled_is_closed(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """The kill switch lands while an `open` is on its way (its market entry fills 60 %): whatever the race, the
    venue ends flat with nothing resting, and no more is sold than was bought."""
    import subprocess
    from tests.integration.processes import PROJECT_ROOT, PYTHON

    standin = mainnet
    started(store, fleet)
    standin.partial_fill("0.6", symbol="ETHUSDT")
    opening = subprocess.Popen([PYTHON, str(PROJECT_ROOT / "main.py"), "open", ETH, "--side", "long", "--notional",
                                "40", "--timeout", "20"], cwd=PROJECT_ROOT, env=fleet.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: standin.count(ORDER, "POST") >= 1 or opening.poll() is not None, 20, "the entry sent")
        killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)
        opened, _ = opening.communicate(timeout=30)
    finally:
        if opening.poll() is None:
            opening.kill()

    said = killed.stdout + killed.stderr
    assert venue_book(standin) == ([], [], []), (said, opened, venue_book(standin), audit_text(store, 60))
    assert filled(standin, "ETHUSDT", "SELL") == filled(standin, "ETHUSDT", "BUY")
    assert killed.returncode == 0 and "flat confirmed" in said, said
    assert store.trading_state() is TradingState.HALTED


def redis_text(store: StateStore) -> str:
    """Everything this bot keeps in Redis, as text: strings, hashes, lists, sets and streams."""
    client, parts = store.client, []
    for key in client.scan_iter(match=f"tb:{store.bot_id}:*", count=1000):
        kind = client.type(key)
        if kind == "string":
            parts.append(str(client.get(key)))
        elif kind == "hash":
            parts.append(str(client.hgetall(key)))
        elif kind == "list":
            parts.append(str(client.lrange(key, 0, -1)))
        elif kind == "set":
            parts.append(str(client.smembers(key)))
        elif kind == "zset":
            parts.append(str(client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(str(client.xrange(key)))
    return "\n".join(parts)


def test_close_all_when_the_venue_refuses_the_key_on_the_first_closes_then_retried_flat_and_no_secret_anywhere(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """-2015 (key, IP or permission refused) on the first two closes, as when an IP whitelist flaps: the kill
    switch keeps going, ends flat, and neither the API key nor the secret is in Redis (every key of the bot:
    audit, command results, intents, state), the bot's output or the CLI's."""
    standin = mainnet
    started(store, fleet)
    position, _ = open_protected(fleet, standin)
    arm(standin, kind="status", path=ORDER, status=401, times=2,
        body={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"})

    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)

    said = killed.stdout + killed.stderr
    assert not standin.faults.armed()
    assert venue_book(standin) == ([], [], []), (said, audit_text(store, 60))
    assert killed.returncode == 0 and "flat confirmed" in said, said
    assert filled(standin, "ETHUSDT", "SELL") == position.qty
    everything = redis_text(store) + fleet.logs() + said
    assert "-2015" in everything  # the refusal is told, in the audit stream's error lines
    assert KEY not in everything and SECRET not in everything


def test_close_all_when_redis_freezes_while_the_close_is_in_flight_then_flat_and_the_result_arrives(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin, redis_server):
    """DEFECT (high): Redis frozen (SIGSTOP) for 6 s while the kill switch's close is in flight (its first send is
    lost before the venue saw it; the bot times out after 10 s, looks it up and sends it again, and it fills).
    Marking the intent then raises StateStoreError, which `flatten`'s guard (ExchangeError only) lets through:
    the kill switch is abandoned mid-way and reported `failed` to a Redis that cannot take it, so the command never
    gets a final result (the dashboard shows it accepted for ever; no supervisor takes over a command the live bot
    claimed) and the kill-switch trade is never booked (its fill is in the audit stream, no row in trades). Had
    Redis frozen before the close was sent (its intent is saved first), nothing would have closed the position and
    nothing would retry. The CLI that sent it exits 2 with `error: Redis timed out` (documented for a Redis error)."""
    import os
    import subprocess
    import time
    from tests.integration.processes import PROJECT_ROOT, PYTHON

    standin = mainnet
    started(store, fleet)
    position, _ = open_protected(fleet, standin)
    arm(standin, kind="timeout_before", path=ORDER, method="POST")
    cli = subprocess.Popen([PYTHON, str(PROJECT_ROOT / "main.py"), "close-all", "--timeout", "60"], cwd=PROJECT_ROOT,
                           env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    frozen = False
    try:
        wait_for(lambda: standin.count(ORDER, "POST") >= 2, 20, "the close sent (and lost)")
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        frozen = True
        wait_for(lambda: standin.count(ORDER, "POST") >= 3, 30, "the close sent again after the timeout")
        time.sleep(6)  # the fault's length: Redis stays frozen while the bot books the close
        os.kill(redis_server.process.pid, signal.SIGCONT)
        frozen = False
        said, _ = cli.communicate(timeout=75)
    finally:
        if frozen:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        if cli.poll() is None:
            cli.kill()

    assert venue_book(standin) == ([], [], []), (said, venue_book(standin))
    assert filled(standin, "ETHUSDT", "SELL") == position.qty
    assert store.trading_state() is TradingState.HALTED
    results = wait_for(lambda: [r for r in store.read_command_results(20) if r.status.is_final
                                and not r.detail.startswith("opened")], 20,
                       "the close-all's final result", on_timeout=lambda: said + audit_text(store, 60))
    assert [(r.status.value, r.handled_by) for r in results] == [("done", "bot")], results
    assert "flat confirmed" in results[0].detail, results
    trades = wait_for(lambda: [t for t in store.read_trades(100) if not t.trade_id.startswith("paper-")], 10,
                      "the booked live trade", on_timeout=fleet.logs)
    assert [(t.qty, t.exit_reason.value) for t in trades] == [(position.qty, "kill_switch")]


HOSTILE = {
    "close_all_args_a_list": {"type": "close-all", "args": "[]"},
    "close_all_args_not_json": {"type": "close-all", "args": "{'all': True"},
    "halt_huge": {"type": "halt", "args": json.dumps({"why": "x" * 100_000})},
    "type_not_utf8": {"type": b"close-all\xff\xfe"},
    "close_symbol_a_number": {"type": "close", "args": json.dumps({"symbol": 5})},
    "close_symbol_a_list": {"type": "close", "args": json.dumps({"symbol": [ETH]})},
    "open_notional_huge_exponent": {"type": "open", "args": '{"symbol": "ETH/USDT:USDT", "side": "long", "notional": 1e999999}'},
    "open_notional_nan": {"type": "open", "args": '{"symbol": "ETH/USDT:USDT", "side": "long", "notional": NaN}'},
    "open_side_an_object": {"type": "open", "args": json.dumps({"symbol": ETH, "side": {"long": 1}, "notional": 10})},
    "issued_at_negative": {"type": "close-all", "issued_at_ms": "-1"},
    "command_id_with_spaces": {"type": "close-all", "command_id": "a b c"},
}


def test_hostile_commands_when_sent_to_the_live_bot_then_each_refused_and_nothing_changes_at_the_venue(
        store: StateStore, redis_url: str, fleet: BotFleet, mainnet: BinanceStandin):
    """Odd payloads straight onto the command stream (wrong types, not JSON, 100 kB, bytes that are not UTF-8,
    NaN, a 1e999999 notional) and a replay of the `open` already done (the same command id, sent again): each is
    refused with its own reason, nothing is sent to the venue, the bot stays ACTIVE with its position and its
    stop; a genuine kill switch after them closes the position once."""
    import time
    import uuid

    import redis

    standin = mainnet
    started(store, fleet)
    position, stop = open_protected(fleet, standin)
    [opened] = [e for e in store.client.xrange(store.key("commands")) if e[1].get("type") == "open"]
    orders_before = standin.count(ORDER, "POST") + standin.count(ALGO, "POST")
    raw = redis.Redis.from_url(redis_url)  # bytes in, bytes out: what any client of this Redis can write
    ids = {}
    for name, fields in HOSTILE.items():
        command_id = fields.get("command_id", uuid.uuid4().hex)
        ids[name] = command_id
        entry = {"command_id": command_id, "issued_at_ms": str(int(time.time() * 1000)),
                 "issued_by": "attacker", "args": "{}", **fields}
        raw.xadd(store.key("commands"), entry)
    raw.xadd(store.key("commands"), opened[1])  # the replay
    sentinel = run_cli(["halt", "--timeout", "20"], fleet.env)  # behind them all: once it is done, they were read
    assert sentinel.returncode == 0, sentinel.stdout + sentinel.stderr

    results = {r.command_id: r for r in store.read_command_results(200)}
    refused = {name: results.get(command_id) for name, command_id in ids.items() if name != "command_id_with_spaces"}
    not_refused = {name: r for name, r in refused.items() if r is None or r.status.value != "rejected"}
    assert not_refused == {}, not_refused
    reasons = {r.detail for r in refused.values()}
    assert len(reasons) >= 8, reasons  # each its own reason, not one blanket line
    assert standin.count(ORDER, "POST") + standin.count(ALGO, "POST") == orders_before  # the replay sent nothing
    assert [p.qty for p in venue_book(standin)[0]] == [position.qty] and stop.client_algo_id in venue_book(standin)[2]

    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)
    assert killed.returncode == 0, killed.stdout + killed.stderr
    assert venue_book(standin) == ([], [], []) and filled(standin, "ETHUSDT", "SELL") == position.qty


def test_close_all_when_the_position_is_dust_below_the_minimum_notional_then_closed_reduce_only(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """The trader sold most of the bot's ETH by hand, leaving 0.001 ETH (about 2.5 USDT, under the 20 USDT minimum
    notional an entry needs): the kill switch's reduce-only close goes through anyway, the venue ends flat."""
    standin = mainnet
    started(store, fleet)
    position, _ = open_protected(fleet, standin)
    dust = Decimal("0.001")
    by_hand(standin).create_order(ETH, "market", "sell", float(position.qty - dust), None, {"reduceOnly": True})
    assert position_qty(standin) == [(ETH, "long", dust)]

    killed = run_cli(["close-all", "--timeout", "30"], fleet.env, timeout_s=45)

    said = killed.stdout + killed.stderr
    assert venue_book(standin) == ([], [], []), (said, venue_book(standin), audit_text(store, 40))
    assert killed.returncode == 0 and "flat confirmed" in said, said
    assert filled(standin, "ETHUSDT", "SELL") == position.qty


def test_close_all_when_the_venue_refuses_closes_for_a_while_and_no_supervisor_runs_then_the_bot_keeps_trying(
        store: StateStore, fleet: BotFleet, mainnet: BinanceStandin):
    """DEFECT (medium): a live bot run alone (`main.py bot --mode live`, as the README offers) hands a kill switch
    it could not finish in `control.kill_switch_seconds` over to a supervisor that does not exist, and never
    tries again: once the venue's outage is over the position is still open (its stop rests, the bot is HALTED),
    and the only word is the CLI's "accepted but not finished … (is the supervisor running?)". Fixed on main by
    b46d80f."""
    import subprocess
    import time
    from tests.integration.processes import PROJECT_ROOT, PYTHON

    standin = mainnet
    started(store, fleet)
    position, _ = open_protected(fleet, standin)
    arm(standin, kind="status", path=ORDER, status=503, body=INTERNAL_ERROR, times=10_000)
    cli = subprocess.Popen([PYTHON, str(PROJECT_ROOT / "main.py"), "close-all", "--timeout", "45"], cwd=PROJECT_ROOT,
                           env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: standin.faults.log, 20, "the first close refused")
        first_refusal = time.monotonic()
        # the outage outlasts the bot's own `control.kill_switch_seconds` (5): where it would hand over
        wait_for(lambda: "handed over" in audit_text(store, 50) or time.monotonic() - first_refusal > 6.5
                 or cli.poll() is not None, 30, "the outage outlasting the bot's kill-switch time")
        urllib.request.urlopen(urllib.request.Request(f"{standin.url}/_standin/clear", data=b"{}", method="POST"),
                               timeout=5).read()  # the outage ends
        wait_for(lambda: venue_book(standin) == ([], [], []) or cli.poll() is not None, 45, "flat or the CLI's word")
        said, _ = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()

    assert venue_book(standin) == ([], [], []), (said, venue_book(standin))
    assert filled(standin, "ETHUSDT", "SELL") == position.qty


@pytest.mark.parametrize("reduce_only, code, msg", [
    (True, -2022, "ReduceOnly Order is rejected."),
    (False, -2019, "Margin is insufficient."),
    (False, -4164, "Order's notional must be no smaller than 20 (unless you choose reduce only)."),
])
def test_submit_when_binance_refuses_the_order_then_order_rejected_not_unbound_local(standin, venue, reduce_only,
                                                                                     code, msg):
    """DEFECT (critical, on main at 2fbf5d9; fixed on main by b46d80f): `submit` imported OrderRejectedError inside its
    closing-only branch, which made the name local to the whole function, so every refusal reaching its
    `except OrderRejectedError` raised UnboundLocalError instead — not an ExchangeError: the kill switch's guard let
    it through and close-all ended `failed` on the first -2022, -1001 or 429; entries and stops broke alike."""
    from errors import OrderRejectedError
    from models import OrderIntent, OrderSide, OrderType

    standin.fail(ORDER, status=400, body={"code": code, "msg": msg})
    intent = OrderIntent(client_order_id="ETH1-x0" if reduce_only else "ETH1-en", symbol=ETH,
                         side=OrderSide.SELL if reduce_only else OrderSide.BUY, qty=Decimal("0.01"),
                         order_type=OrderType.MARKET, reduce_only=reduce_only)

    with pytest.raises(OrderRejectedError, match=str(code)):
        venue.submit(intent)
