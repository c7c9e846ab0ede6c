"""The command line: parse, load config, dispatch. Nothing imports this module.

    python main.py up                     everything: embedded Redis, supervisor + bot, dashboard
    python main.py bot --mode ghost       the bot process alone (--venue binance-demo: paper orders to Binance demo)
    python main.py supervise              the supervisor alone (starts the bot in bot.mode)
    python main.py dashboard              the dashboard alone
    python main.py status [--json]        the bot's state (exit 0 healthy, 1 not, 2 Redis unreachable)
    python main.py halt | resume | close-all | close SYMBOL | open SYMBOL --side S --notional N
    python main.py start --mode M | stop  through the supervisor (live: only through the go-live gate)
    python main.py approve-live | review  the typed go-live approval / weekly-loss review
    python main.py download --symbol ... candles to CSV

Errors from the project's hierarchy (errors.py) become one line on stderr and an exit code:
2 for configuration and Redis problems, 1 for everything else. No tracebacks for expected failures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from errors import StateStoreError, TradingBotError
from models import CommandStatus, CommandType, Mode
from settings import PROJECT_ROOT, Settings, load_settings, one_line, redis_url

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


# ---------------------------------------------------------------------------------------- helpers


def _settings(args: argparse.Namespace) -> Settings:
    venue = getattr(args, "venue", None)
    if venue:
        # through the environment, so a supervisor's bot (a child process) trades on the same venue
        os.environ["TB_VENUE__PAPER_VENUE"] = venue
    return load_settings(args.config)


def _store(settings: Settings):
    from state import StateStore

    return StateStore.open(
        redis_url(settings), settings.bot.id, stream_maxlen=settings.redis.stream_maxlen, audit_maxlen=settings.redis.audit_maxlen
    )


def _python() -> str:
    return sys.executable


def _config_args(args: argparse.Namespace) -> list[str]:
    return ["--config", str(Path(args.config).resolve())] if args.config else []


# ----------------------------------------------------------------------------------- processes


def cmd_bot(args: argparse.Namespace) -> int:
    from bot.runtime import BotRuntime, format_summary

    settings = _settings(args)
    mode = Mode(args.mode or settings.bot.mode.value)
    if mode is Mode.LIVE:
        refused = _go_live_refusal(settings)
        if refused is not None:
            return refused
    elif mode is Mode.PAPER and settings.venue.paper_venue != "sim":
        from venues.binance_connection import venue_named

        venue_named(settings.venue.paper_venue).credentials(os.environ)  # missing keys: exit 2 before Redis
    store = _store(settings)
    runtime = BotRuntime(settings, store, mode=mode)
    runtime.install_signal_handlers()
    print(f"bot {settings.bot.id}: {mode.value} mode, market data {runtime.data_source}", flush=True)
    if "auto:" in runtime.data_source:
        print(f"WARNING: {runtime.data_source}", file=sys.stderr, flush=True)
    summary = runtime.run()
    print(format_summary(summary), flush=True)
    return EXIT_OK


def _go_live_refusal(settings: Settings) -> int | None:
    """None when the go-live gate passes; else the exit code after printing every unmet condition (2 without
    API keys, 1 without the evidence). Works without Redis and without the venue: each is one more unmet line."""
    from control import go_live

    if not go_live.keys_present():
        print("error: live mode needs BINANCE_API_KEY and BINANCE_API_SECRET in the environment", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = _store(settings)
    except TradingBotError as exc:
        store = _Unreadable(str(exc))
    result = go_live.check_with_venue(store, settings)
    if result.passed:
        return None
    print(result.refusal(), file=sys.stderr)
    return EXIT_FAIL


class _Unreadable:
    """A store that could not be opened: every read says why, so the gate lists it as unmet."""

    def __init__(self, why: str):
        self.why = why

    def __getattr__(self, name: str):
        raise StateStoreError(self.why)


def cmd_supervise(args: argparse.Namespace) -> int:
    from bot_manager import Supervisor

    settings = _settings(args)
    store = _store(settings)
    supervisor = Supervisor(settings, store, config_path=Path(args.config).resolve() if args.config else None)

    def handle(_signum, _frame):
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    start_mode = None if args.no_bot else Mode(args.mode or settings.bot.mode.value)
    print(f"supervisor for bot {settings.bot.id}: starting the bot in {start_mode.value if start_mode else 'no'} mode", flush=True)
    supervisor.run(start_mode)
    return EXIT_OK


def _dashboard_command(address: str, port: int) -> list[str]:
    # through dashboard_server: Streamlit behind the Host/Origin guard, never `streamlit run` bare
    return [_python(), str(PROJECT_ROOT / "dashboard_server.py"), "--address", address, "--port", str(port)]


def _dashboard_address(args: argparse.Namespace) -> str:
    """The --address, refused (ConfigError) off loopback without TB_DASHBOARD_PASSWORD, before anything starts."""
    from dashboard_access import check_exposure

    check_exposure(args.address, os.environ)
    return args.address


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = _settings(args)
    address = _dashboard_address(args)
    redis_url(settings)  # a bad REDIS_URL or password setting: one line here, not a page that says so
    port = args.port or settings.dashboard.port
    env = dict(os.environ, TB_BOT__ID=settings.bot.id)
    if args.config:
        env["TB_CONFIG"] = str(Path(args.config).resolve())
    command = _dashboard_command(address, port)
    os.chdir(PROJECT_ROOT)
    # exec, not a child: a SIGTERM to this pid reaches the server instead of orphaning it
    os.execve(command[0], command, env)


def cmd_up(args: argparse.Namespace) -> int:
    """Everything in the foreground; Ctrl+C (or SIGTERM) stops every child cleanly."""
    from embedded_redis import start_embedded_redis
    from redis_auth import auth_from_env
    from state import connect

    settings = _settings(args)
    address = _dashboard_address(args)
    env = dict(os.environ)
    auth = auth_from_env(env)
    redis_url(settings, env)  # a bad REDIS_URL or password setting stops us before anything starts
    redis = None
    if not env.get("REDIS_URL"):
        redis = start_embedded_redis(settings.redis.embedded_port, settings.resolve_path(settings.redis.data_dir), auth=auth)
        # the URL without the password: children add TB_REDIS_PASSWORD from their environment
        env["REDIS_URL"] = redis.url
        locked = f"password, ACL user {auth.username or 'default'}" if auth else "no password"
        print(f"redis: {'reusing' if redis.reused else 'started'} embedded Redis at {redis.url} ({locked}; "
              f"data in {settings.redis.data_dir})", flush=True)
    connect(redis_url(settings, env))
    env["TB_BOT__ID"] = settings.bot.id
    if args.config:
        env["TB_CONFIG"] = str(Path(args.config).resolve())
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def stop_all(_signum=None, _frame=None):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    try:
        supervise = [_python(), str(PROJECT_ROOT / "main.py"), "supervise", *(_config_args(args))]
        if args.mode:
            supervise += ["--mode", args.mode]
        children.append(("supervisor", subprocess.Popen(supervise, cwd=PROJECT_ROOT, env=env, start_new_session=True)))
        port = args.port or settings.dashboard.port
        children.append(("dashboard", subprocess.Popen(_dashboard_command(address, port), cwd=PROJECT_ROOT, env=env,
                                                       start_new_session=True)))
        host = f"[{address}]" if ":" in address else address
        print(f"dashboard: http://{host}:{port}   (Ctrl+C stops everything)", flush=True)
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with code {child.returncode}; stopping everything", file=sys.stderr, flush=True)
                    stopping = True
            time.sleep(0.2)
    finally:
        for name, child in reversed(children):
            _terminate(child, settings.control.stop_grace_seconds + 5)
        if redis is not None:
            redis.stop()
        print("all stopped", flush=True)
    return EXIT_OK


def _terminate(child: subprocess.Popen, grace_s: float) -> None:
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        child.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


# -------------------------------------------------------------------------------------- status


STATUS_TRADES_READ = 5000  # the newest trades `status` reads for realised P&L, count and win rate


def _realised(store, mode: str | None, now_ms: int) -> dict:
    """Realised P&L today (since 00:00 UTC) and in all, trade count and win rate of the bot's mode, from its
    newest STATUS_TRADES_READ trades (`complete` says whether that is every trade it has)."""
    read = store.read_trades(STATUS_TRADES_READ)
    complete = store.stream_length("trades") <= len(read)
    trades = [t for t in read if t.mode.value == mode] if mode else read
    day = now_ms - now_ms % 86_400_000
    wins = sum(1 for t in trades if t.pnl > 0)
    return {
        "realised_pnl_today": str(sum((t.pnl for t in trades if t.exit_ms >= day), Decimal(0))),
        "realised_pnl_total": str(sum((t.pnl for t in trades), Decimal(0))),
        "trades": len(trades),
        "trades_complete": complete,
        "win_rate_pct": f"{Decimal(wins) / len(trades) * 100:.1f}" if trades else None,
    }


def _levels(store, mode: str | None) -> dict[str, dict]:
    """Each open trade's stop and take-profit as the bot remembers them, by symbol."""
    from stores import Memory

    memory = Memory.GHOST_TRADES if mode == Mode.GHOST.value else Memory.OPEN_TRADES
    out = {}
    for symbol, raw in store.recall(memory).items():
        state = raw.get("state") if isinstance(raw, dict) else None
        if isinstance(state, dict):
            out[symbol] = {"stop": state.get("stop"), "take_profit": state.get("take_profit")}
    return out


def collect_status(settings: Settings, store) -> dict:
    from clock import SystemClock
    from state import BotStatus, bot_status, heartbeat_age_s

    state = store.read_state()
    now = SystemClock().now_ms()
    age = heartbeat_age_s(state, now)
    health = bot_status(state, now, settings.control.heartbeat_timeout_seconds)
    account = store.read_account()
    halt = store.read_halt()
    errors = [e.message for e in store.read_audit(200, kinds=["error"])][-5:]
    mode = state.get("mode") or None
    risk = store.read_risk()
    levels = _levels(store, mode)
    return {
        "bot_id": store.bot_id,
        "mode": mode,
        "venue": state.get("venue") or None,
        "trading_state": store.trading_state().value,
        "running": health is BotStatus.RUNNING,
        "health": health.value,
        "heartbeat_age_s": round(age, 3) if age is not None else None,
        "data_source": state.get("data_source") or None,
        "feed_stale": state.get("feed_stale") == "1",
        "halt_reason": halt.reason if halt else None,
        "positions": [
            {"symbol": p.symbol, "side": p.side.value, "qty": str(p.qty), "entry_price": str(p.entry_price),
             "mark_price": str(p.mark_price), "unrealized_pnl": str(p.unrealized_pnl),
             "stop": levels.get(p.symbol, {}).get("stop"), "take_profit": levels.get(p.symbol, {}).get("take_profit"),
             "liquidation_price": str(p.liquidation_price) if p.liquidation_price is not None else None,
             "leverage": p.leverage}
            for p in store.read_positions()
        ],
        "open_orders": [
            {"client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side.value, "type": o.order_type.value,
             "qty": str(o.qty), "price": str(o.price or o.stop_price or "")}
            for o in store.read_orders()
        ],
        "equity": str(account.equity) if account else None,
        "margin_used": str(account.margin_used) if account else None,
        "margin_use_pct": risk.get("margin_use_pct") or None,
        "pnl_today": state.get("pnl_today") or "0",
        **_realised(store, mode, now),
        "metrics": store.read_metrics(mode) if mode else None,
        "risk": risk,
        "last_errors": errors,
        "pid": int(state["pid"]) if state.get("pid") else None,
        "data_gaps": int(state.get("data_gaps") or 0),
        "last_gaps": [g.get("text", "") for g in store.read_gaps(5)],
    }


def _money(raw: str | None) -> str:
    """A USDT amount for people: two decimals, thousands separators; '—' when unknown."""
    if raw in (None, ""):
        return "—"
    return f"{Decimal(raw):,.2f}"


def print_status(status: dict) -> None:
    age = f"{status['heartbeat_age_s']:.1f}s ago" if status["heartbeat_age_s"] is not None else "never"
    trading = status["trading_state"]
    if status["health"] == "stopped" and trading != "HALTED":
        trading = f"last {trading}"  # a stopped bot is not trading: never shown as if it were
    print(f"bot {status['bot_id']}: {status['health']} — {status['mode']} mode, venue {status['venue']}, {trading}")
    if status["halt_reason"]:
        print(f"  halted: {status['halt_reason']}")
    print(f"  heartbeat {age}; data {status['data_source']}{' (STALE)' if status['feed_stale'] else ''}")
    margin = f"; margin used {_money(status['margin_used'])} USDT" if status["margin_used"] else ""
    if status["margin_use_pct"]:
        margin += f" ({Decimal(status['margin_use_pct']):.1f} % of equity)"
    print(f"  equity {_money(status['equity'])} USDT{margin}; P&L today {_money(status['pnl_today'])} (equity change)")
    of = "" if status["trades_complete"] else f" (newest {status['trades']:,} read)"
    win = f"{status['win_rate_pct']} %" if status["win_rate_pct"] is not None else "—"
    print(f"  realised P&L today {_money(status['realised_pnl_today'])}, in all {_money(status['realised_pnl_total'])} "
          f"USDT; {status['trades']:,} trades{of}, win rate {win}")
    print(f"  positions: {len(status['positions'])}")
    for p in status["positions"]:
        print(f"    {p['side']} {p['qty']} {p['symbol']} @ {p['entry_price']} (uP&L {_money(p['unrealized_pnl'])}); "
              f"stop {p['stop'] or '—'}, take-profit {p['take_profit'] or '—'}, liquidation {p['liquidation_price'] or '—'}")
    print(f"  open orders: {len(status['open_orders'])}")
    for o in status["open_orders"]:
        print(f"    {o['client_order_id']}: {o['type']} {o['side']} {o['qty']} {o['symbol']} {o['price']}")
    if status["data_gaps"]:
        print(f"  market data gaps: {status['data_gaps']}; latest:")
        for text in status["last_gaps"]:
            print(f"    {text}")
    if status["last_errors"]:
        print("  last errors:")
        for e in status["last_errors"]:
            print(f"    {e}")


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        store = _store(settings)
        status = collect_status(settings, store)
    except StateStoreError as exc:
        if args.json:
            print(json.dumps({"bot_id": settings.bot.id, "error": str(exc), "running": False}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(status, default=str))
    else:
        print_status(status)
    return EXIT_OK if status["running"] else EXIT_FAIL


# ------------------------------------------------------------------------------------ commands


def _send(args: argparse.Namespace, command_type: CommandType, cmd_args: dict) -> int:
    from control.client import send_command, wait_result

    settings = _settings(args)
    store = _store(settings)
    command = send_command(store, command_type, cmd_args, issued_by="cli")
    result = wait_result(store, command.command_id, args.timeout)
    if result is None or not result.status.is_final:
        state = "accepted but not finished" if result else "no answer"
        if command_type is CommandType.HALT:
            print(f"HALTED (durable flag set); {state} from the bot within {args.timeout:g}s")
            return EXIT_OK
        print(f"{command_type.value}: {state} within {args.timeout:g}s (is the supervisor running?)", file=sys.stderr)
        return EXIT_FAIL
    line = f"{command_type.value}: {result.status.value} in {result.elapsed_ms:.0f} ms by {result.handled_by} — {result.detail}"
    if result.status is CommandStatus.DONE:
        print(line)
        return EXIT_OK
    print(line, file=sys.stderr)
    return EXIT_FAIL


def cmd_simple(command_type: CommandType):
    def run(args: argparse.Namespace) -> int:
        return _send(args, command_type, {})

    return run


def cmd_close(args: argparse.Namespace) -> int:
    return _send(args, CommandType.CLOSE, {"symbol": args.symbol})


def cmd_open(args: argparse.Namespace) -> int:
    return _send(args, CommandType.OPEN, {"symbol": args.symbol, "side": args.side, "notional": args.notional})


def cmd_start(args: argparse.Namespace) -> int:
    if args.mode == Mode.LIVE.value:
        refused = _go_live_refusal(_settings(args))
        if refused is not None:
            return refused
    return _send(args, CommandType.START, {"mode": args.mode})


def _typed(prompt: str, expected: str, given: str | None) -> str:
    from control.go_live import check_typed

    if given is None:
        print(f"{prompt}\ntype exactly:\n  {expected}")
        given = sys.stdin.readline()
    check_typed(given, expected)
    return expected


def cmd_approve_live(args: argparse.Namespace) -> int:
    """The go-live approval: the operator types the acknowledgement; stored with time and figures."""
    import json as _json

    from clock import SystemClock
    from control import go_live

    settings = _settings(args)
    live = settings.live
    text = go_live.approval_text(live.max_position_usdt, live.max_daily_loss_usdt)
    try:
        _typed("Live trading moves real money under these limits.", text, args.ack)
    except ValueError as exc:
        print(f"approve-live: refused: {exc}", file=sys.stderr)
        return EXIT_FAIL
    store = _store(settings)
    record = go_live.approval_record(text, "cli", SystemClock().now_ms(), go_live.approval_figures(settings))
    store.write_state(go_live_approval=_json.dumps(record))
    store.audit(go_live.approval_event(record))
    print(f"approve-live: recorded at ts_ms {record['ts_ms']}")
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    """A weekly loss halt waits for this: the operator's typed review, recorded, then a resume."""
    from clock import SystemClock
    from control.go_live import REVIEW_TEXT
    from control.trading_state import TradingStateControl

    settings = _settings(args)
    try:
        _typed("A weekly loss limit halted the bot.", REVIEW_TEXT, args.ack)
    except ValueError as exc:
        print(f"review: refused: {exc}", file=sys.stderr)
        return EXIT_FAIL
    store = _store(settings)
    TradingStateControl(store, SystemClock()).record_review("cli", REVIEW_TEXT)
    print("review: recorded")
    return _send(args, CommandType.RESUME, {})


def _alive(pid: str | None) -> bool:
    """A process with this pid runs on this host (the state hash may name one that died long ago)."""
    try:
        number = int(pid or 0)
    except ValueError:
        return False
    if number <= 0:
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def cmd_reset(args: argparse.Namespace) -> int:
    """A clean paper or ghost account: every record of this bot id goes (state, trades, signals, equity,
    audit, the simulated venue) and so does its run marker file, so the next start is a first start and
    not "state lost". Refused while the bot or its supervisor runs, and for a live bot."""
    from clock import SystemClock
    from state import BotStatus, bot_status

    settings = _settings(args)
    store = _store(settings)
    state = store.read_state()
    mode = state.get("mode") or settings.bot.mode
    if mode == Mode.LIVE.value:
        print(f"reset: refused: bot {settings.bot.id} trades live; its records are the only history of real money",
              file=sys.stderr)
        return EXIT_FAIL
    now = SystemClock().now_ms()
    running = bot_status(state, now, settings.control.heartbeat_timeout_seconds) is BotStatus.RUNNING
    if running or _alive(state.get("pid")):
        print(f"reset: refused: bot {settings.bot.id} is running; stop it first (main.py stop)", file=sys.stderr)
        return EXIT_FAIL
    if _alive(state.get("supervisor_pid")):
        print(f"reset: refused: a supervisor (pid {state['supervisor_pid']}) watches bot {settings.bot.id}; stop it first",
              file=sys.stderr)
        return EXIT_FAIL
    if not args.yes:
        print(f"This deletes every record of bot {settings.bot.id} ({mode} mode): trades, signals, equity, the decision "
              "log and the simulated account. Type the bot id to confirm: ", end="", flush=True)
        if sys.stdin.readline().strip() != settings.bot.id:
            print("reset: not confirmed; nothing deleted", file=sys.stderr)
            return EXIT_FAIL
    deleted = store.wipe()
    marker = settings.resolve_path(settings.redis.run_marker_dir) / f"{settings.bot.id}.json"
    marker.unlink(missing_ok=True)
    print(f"reset: bot {settings.bot.id}: {deleted} Redis key(s) deleted; the next start begins a clean {mode} account")
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from bot.backtest_cli import run_backtest_cli

    return run_backtest_cli(args)


def cmd_export(args: argparse.Namespace) -> int:
    from journal.export import run_export_cli

    return run_export_cli(args)


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.period_report import run_report_cli

    return run_report_cli(args)


def cmd_journal(args: argparse.Namespace) -> int:
    """Copy what Redis holds into the journal now (the supervisor does this every second), then count."""
    from clock import SystemClock
    from journal.export import WHAT
    from journal.service import JournalService

    settings = _settings(args)
    service = JournalService(settings, _store(settings), SystemClock())
    try:
        new = service.sync.sync_once()
        counts = {what: service.journal.count(stream=stream, kinds=kinds) for what, (stream, kinds) in WHAT.items()}
    finally:
        service.journal.close()
    print(f"journal {service.journal.path}: {new} new record(s); " + ", ".join(f"{n} {w}" for w, n in counts.items()))
    return EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    from marketdata.download import run_download_cli

    return run_download_cli(args)


# -------------------------------------------------------------------------------------- parser


_EXAMPLES = """examples:
  main.py up                                 Redis, supervisor with the bot (ghost) and the dashboard
  main.py up --mode paper                    the same, the bot trading paper on the simulated venue
  main.py status                             state, P&L, positions with stop/take-profit/liquidation
  main.py status --json | jq .metrics        the same for scripts, with the metrics and the risk report
  main.py halt                               no new risk (exits still run); main.py resume to go on
  main.py close-all                          KILL SWITCH: halt, cancel every order, close every position
  main.py start --mode paper                 ask the supervisor to start the bot (main.py stop to stop it)
  TB_BOT__ID=bot2 main.py status             another bot on the same Redis
  main.py backtest --data ../shared/data/klines --symbols BTC/USDT:USDT --report out.html
"""

_ADDRESS_HELP = "dashboard interface (default 127.0.0.1); any other needs TB_DASHBOARD_PASSWORD"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Crypto trading bot: ghost → paper → live, with a kill switch.",
                                     epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=os.environ.get("TB_CONFIG"), help="config file (default: config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_text: str, timeout: float | None = None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)")
        if timeout is not None:
            p.add_argument("--timeout", type=float, default=timeout, help=f"seconds to wait for the result (default {timeout:g})")
        p.set_defaults(func=func)
        return p

    modes = [m.value for m in Mode]
    venues = ["sim", "binance-demo", "binance-spot-testnet", "binance-live"]
    venue_help = ("where paper orders go (default: venue.paper_venue); a Binance venue needs its key pair in the "
                  "environment: BINANCE_DEMO_API_KEY/_SECRET, BINANCE_TESTNET_API_KEY/_SECRET, BINANCE_API_KEY/_SECRET")
    p = add("up", cmd_up, "start everything: embedded Redis (unless REDIS_URL), supervisor with the bot, dashboard")
    p.add_argument("--mode", choices=modes, help="the bot's mode (default: bot.mode)")
    p.add_argument("--port", type=int, help="dashboard port (default: dashboard.port)")
    p.add_argument("--address", default="127.0.0.1", help=_ADDRESS_HELP)
    p = add("bot", cmd_bot, "run the bot process alone (against REDIS_URL or the embedded Redis)")
    p.add_argument("--mode", choices=modes, help="ghost | paper | live (default: bot.mode)")
    p.add_argument("--venue", choices=venues, help=venue_help)
    p = add("supervise", cmd_supervise, "run the supervisor (bot_manager), which starts and watches the bot")
    p.add_argument("--mode", choices=modes, help="mode of the bot it starts (default: bot.mode)")
    p.add_argument("--venue", choices=venues, help=venue_help)
    p.add_argument("--no-bot", action="store_true", help="start no bot; wait for a start command")
    p = add("dashboard", cmd_dashboard, "run the Streamlit dashboard alone")
    p.add_argument("--port", type=int, help="port (default: dashboard.port)")
    p.add_argument("--address", default="127.0.0.1", help=_ADDRESS_HELP)
    p = add("status", cmd_status, "print the bot's state; exit 0 healthy, 1 not running, 2 Redis unreachable")
    p.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add("halt", cmd_simple(CommandType.HALT), "HALT: durable halt flag, entry orders cancelled; exits still run", 10)
    add("resume", cmd_simple(CommandType.RESUME), "back to ACTIVE (refused while a loss-limit halt is in force)", 10)
    add("close-all", cmd_simple(CommandType.CLOSE_ALL), "KILL SWITCH: halt, cancel every order, close every position", 15)
    p = add("close", cmd_close, "close one position reduce-only", 10)
    p.add_argument("symbol", help="e.g. BTC/USDT:USDT")
    p = add("open", cmd_open, "manual entry (passes the same risk gate as any signal)", 10)
    p.add_argument("symbol", help="e.g. BTC/USDT:USDT")
    p.add_argument("--side", required=True, choices=["long", "short"])
    p.add_argument("--notional", required=True, help="size in USDT")
    p = add("start", cmd_start, "ask the supervisor to start the bot", 40)
    p.add_argument("--mode", required=True, choices=modes)
    add("stop", cmd_simple(CommandType.STOP), "graceful stop: entry orders cancelled, positions stay", 30)
    p = add("approve-live", cmd_approve_live, "the go-live approval: type the acknowledgement of the live limits")
    p.add_argument("--ack", help="the acknowledgement's text (otherwise asked for)")
    p = add("review", cmd_review, "record the review a weekly loss halt waits for, then resume", 10)
    p.add_argument("--ack", help="the review's text (otherwise asked for)")
    p = add("reset", cmd_reset, "start over: delete this bot's paper or ghost records (asks first; refused in live)")
    p.add_argument("--yes", action="store_true", help="do not ask for the bot id")
    p = add("backtest", cmd_backtest, "the same engine over candle files, in memory at full speed (no Redis)")
    p.add_argument("--strategy", help="NAME[,NAME…] (default: strategy.enabled)")
    p.add_argument("--data", required=True, help="a candle CSV or a folder of them (e.g. ../shared/data/klines)")
    p.add_argument("--symbols", help="SYM[,SYM…]: which symbols (a single file: its symbol)")
    p.add_argument("--from", dest="date_from", help="first candle, UTC (e.g. 2025-05-10)")
    p.add_argument("--to", dest="date_to", help="end (exclusive), UTC")
    p.add_argument("--warmup", type=int, help="candles that only warm the engine (default market_data.backfill_candles; 0: trade from the first)")
    p.add_argument("--json", action="store_true", help="one JSON object: metrics, trades, parameters, data_range…")
    p.add_argument("--report", help="write a self-contained HTML report here")
    p = add("export", cmd_export, "export the durable journal (var/journal): trades, signals, orders or audit as CSV or Parquet")
    p.add_argument("--what", required=True, choices=["trades", "signals", "orders", "audit"])
    p.add_argument("--from", dest="date_from", help="from this time, UTC (e.g. 2025-05-10)")
    p.add_argument("--to", dest="date_to", help="until this time (exclusive), UTC")
    p.add_argument("--mode", choices=modes, help="only records of this mode")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", help="file to write (default: standard output)")
    p = add("report", cmd_report, "HTML report (and a trades CSV) of a month or a week, from the journal")
    p.add_argument("--period", choices=["month", "week"], default="month")
    p.add_argument("--month", help="YYYY-MM (default: the newest month with a trade)")
    p.add_argument("--week", help="YYYY-Www, ISO week (default: the newest week with a trade)")
    p.add_argument("--mode", choices=modes, help="whose book: ghost, paper (on venue.paper_venue) or live (default: bot.mode)")
    p.add_argument("--out", default="reports", help="folder (default: reports/)")
    p.add_argument("--benchmark", help="candle CSV to compare with (default: BTC 1h from Binance's public API)")
    p.add_argument("--exchange-url", dest="exchange_url", default=None, help=argparse.SUPPRESS)
    add("journal", cmd_journal, "copy Redis's streams into the journal now and count its records")
    p = add("download", cmd_download, "download candles with ccxt into CSV (resumable)")
    p.add_argument("--symbol", required=True, help="e.g. BTC/USDT:USDT")
    p.add_argument("--timeframe", default="1m")
    p.add_argument("--days", type=float, default=30)
    p.add_argument("--out", default="data/")
    p.add_argument("--exchange-url", dest="exchange_url", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TradingBotError as exc:
        # one line whatever the message holds: a config value can carry newlines and control characters
        print(f"error: {one_line(str(exc), 500)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
