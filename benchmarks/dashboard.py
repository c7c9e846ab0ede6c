"""How fast the dashboard is with a long run's records in Redis: the real Streamlit server, a real Chromium
(Debian's, through Playwright) and its own Redis on a free port. Every process it starts is ended by pid.

    python -m benchmarks.dashboard [--trades 50000] [--signals 100000] [--audit 20000] [--bots 50]
                                   [--refresh-s 30] [--soak-s 0] [--parts first,refresh,press,bots]
                                   [--out benchmarks/dashboard.md]

Measured (the issue's targets in brackets):
  first full render [< 2 s]   navigation → every panel of the page has run on the server (its `page` timing
                              line, written by dashboard.py at the end of a full run) and the browser shows
                              the status strip, the tabs, the Account cards, the equity chart drawn in its
                              frame and the tab's three tables; on a cold server (the first visit after
                              start: imports), on a warm one with an empty HTTP cache (a new browser
                              context, median of 5) and with a warm HTTP cache (one context kept, the page
                              reopened, median of 5); with the renderer's main-thread task time (CDP)
  each refresh [< 300 ms]     every auto-refresh of a panel (its st.fragment) while new records arrive
                              (an equity point a second, a trade, a signal, a candle and a log line every
                              2 s), from the server's own timings (TB_DASHBOARD_TIMINGS), with each tab
                              open in turn (only the open tab's panel runs)
  a button press [< 500 ms]   click HALT → "Result: done" on the page, answered by a stand-in for the bot;
                              and click → the status strip says HALTED [within one refresh]
  50 bots [< 2 s]             with 49 more bots' records, a new tab's first full render, and choosing
                              another bot in the selector → its page
  memory                      the Streamlit process's RSS over --soak-s seconds of auto-refresh (0: skipped)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

from benchmarks.dashboard_seed import SYMBOLS, seed
from embedded_redis import free_port, start_embedded_redis
from models import AuditEvent, Book, Candle, CommandResult, CommandStatus, ExitReason, Mode, Side, Trade
from state import StateStore, connect

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOT = "bench"
REFRESH_S = 2.0
PANELS = ("Status", "Bot_status", "Account", "Paper", "Ghost", "Live", "Decision_log")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


class Activity:
    """Stands in for a trading bot: fresh heartbeats, new records arriving, commands answered."""

    def __init__(self, store: StateStore):
        self.store = store
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._records, daemon=True),
                         threading.Thread(target=self._commands, daemon=True)]
        self.answered = 0

    def __enter__(self) -> "Activity":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)

    def _records(self) -> None:
        i = 0
        close = SYMBOLS["BTC/USDT:USDT"][0]
        equity = Decimal("10500")
        while not self._stop.wait(1.0):
            now = now_ms()
            self.store.heartbeat(now, progress_ms=now)
            equity += Decimal("0.37")
            self.store.append_equity(now, equity, equity, Decimal("0"), book=Book.of(Mode.PAPER, "sim"))
            i += 1
            if i % 2:
                continue
            self.store.push_candles([Candle("BTC/USDT:USDT", "1m", now, close, close + 5, close - 5, close + 1,
                                            Decimal("12"))])
            self.store.append_trade(Trade(f"live{i}", "ETH/USDT:USDT", Side.LONG, Decimal("0.5"), Decimal("1800"),
                                          Decimal("1803.1"), now - 60_000, now, Decimal("1.55"), Decimal("0.72"),
                                          Decimal("0.83"), ExitReason.TAKE_PROFIT, Mode.PAPER, strategy="ema_trend",
                                          venue="sim"))
            self.store.append_signal({"kind": "signal", "signal_id": f"live{i}", "symbol": "SOL/USDT:USDT",
                                      "side": "long", "strength": "0.6", "strategy": "momentum_spike", "reason": "x",
                                      "price": "145", "ts_ms": now, "taken": False, "why_not": "max_positions"})
            self.store.audit(AuditEvent("signal", now, f"signal SOL/USDT:USDT long #{i}", {"symbol": "SOL/USDT:USDT"}))

    def _commands(self) -> None:
        last = (self.store.client.xrevrange(self.store.key("commands"), count=1) or [("0-0", {})])[0][0]
        while not self._stop.is_set():
            for _, entries in self.store.client.xread({self.store.key("commands"): last}, block=100) or []:
                for entry_id, fields in entries:
                    last = entry_id
                    if fields.get("type") == "resume":
                        self.store.clear_halt()
                    self.store.write_command_result(CommandResult(fields["command_id"], CommandStatus.DONE,
                                                                  "bench-bot", "", 3.0, now_ms()))
                    self.answered += 1


class Server:
    """The dashboard as `main.py dashboard` serves it (dashboard_server.py: Streamlit behind the guard and
    the first view's preloads); `bare=True`: `streamlit run dashboard.py`, without them."""

    def __init__(self, redis_url: str, timings: Path, log: Path, bare: bool = False, root: Path = ROOT):
        self.port = free_port()
        self.timings = timings
        env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
        env.update(REDIS_URL=redis_url, TB_BOT__ID=BOT, TB_DASHBOARD__REFRESH_SECONDS=str(REFRESH_S),
                   TB_DASHBOARD_TIMINGS=str(timings), PYTHONUNBUFFERED="1")
        self._log = open(log, "wb")
        command = ([sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(self.port),
                    "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
                   if bare else [sys.executable, "dashboard_server.py", "--address", "127.0.0.1", "--port", str(self.port)])
        self.process = subprocess.Popen(command, cwd=root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as answer:
                    if answer.read().decode().strip() == "ok":
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the dashboard did not answer on /_stcore/health within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def timing_lines(self) -> list[tuple[float, str, float]]:
        if not self.timings.exists():
            return []
        out = []
        for line in self.timings.read_text().splitlines():
            ts, what, ms = line.split()
            out.append((float(ts), what, float(ms)))
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)
        self._log.close()


FLOOR_APP = """
import streamlit as st
import plotly.graph_objects as go
st.set_page_config(layout="wide")
st.title("Floor")
a, b = st.columns(2)
a.metric("Equity (USDT)", "10,000.00")
b.metric("Margin used", "0.00")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
st.markdown("Decision log")
"""


BARE_APP = """
import streamlit as st
st.set_page_config(layout="wide")
st.title("Floor")
a, b = st.columns(2)
a.metric("Equity (USDT)", "10,000.00")
st.markdown("Decision log")
"""


def floor_render(browser, play_dir: Path, source: str = FLOOR_APP, chart: bool = True) -> list[float]:
    """The same navigation to a trivial Streamlit page (two metrics and one tiny st.plotly_chart; or, bare,
    one metric and no chart): what the browser and Streamlit's own frontend cost on this machine before
    the dashboard does anything."""
    app = play_dir / ("floor.py" if chart else "bare.py")
    app.write_text(source)
    port = free_port()
    log = open(play_dir / f"{app.stem}.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        times = []
        for _ in range(4):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}")
            wait_in_page(page, "shows('[data-testid=stMetricValue]', t => true)"
                               + (" && shows('.js-plotly-plot .main-svg', t => true)" if chart else "")
                               + f" && shows('summary, p, span', {_exactly('Decision log')})")
            times.append(time.perf_counter() - started)
            context.close()
        return times[1:]  # the first visit compiles the server's script cache
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()


def _task_seconds(cdp) -> float:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}.get("TaskDuration", 0.0)


ACCOUNT_TABLES = 3  # positions, open orders, risk report: what the seed gives the Account tab


# Every timing waits in the page itself, looked at on each animation frame (~16 ms), not with Playwright's
# expect(): that one polls with a backoff reaching 500 ms between looks (0, 20, 50, 100, 100, 500, 500 …), so
# a page drawn at 1.3 s was seen at up to 1.8 s, and a press answered at 300 ms was counted as 770.
_IN_PAGE = r"""
const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0
                         && getComputedStyle(e).visibility !== 'hidden'; };
const shows = (selector, test) => [...document.querySelectorAll(selector)].some(e => visible(e) && test(e.textContent.trim()));
const drawnIn = (selector) => { const f = document.querySelector(selector);
  try { return !!(f && f.contentDocument && f.contentDocument.querySelector('body[data-draws]')); } catch (e) { return false; } };
const tables = () => [...document.querySelectorAll('[data-testid=stDataFrame]')].filter(e => e.querySelector('canvas')).length
                     + document.querySelectorAll('.tb-table table').length;
"""


def wait_in_page(page, condition: str, timeout_ms: int = 60_000) -> None:
    """Until the JavaScript expression `condition` (with _IN_PAGE's helpers) is true in the page."""
    page.wait_for_function(f"() => {{ {_IN_PAGE} return !!({condition}); }}", polling="raf", timeout=timeout_ms)


def _exactly(text: str) -> str:
    return f"t => t === {text!r}"


def _containing(*texts: str) -> str:
    return "t => " + " && ".join(f"t.includes({text!r})" for text in texts)


# the first view as a trader sees it: the strip says the bot runs, the tabs, the Account cards, the equity
# chart drawn in its frame (ui/line_chart_frame counts its draws), the tab's tables, the decision log's header
FIRST_VIEW = (f"shows('.tb-status-bot .tb-value', {_exactly('running')}) && shows('[role=tab]', {_exactly('Live')})"
              f" && shows('[data-testid=stMetricValue]', t => true) && drawnIn('.st-key-chart_account_equity iframe')"
              f" && tables() >= {{tables}} && shows('summary, p, span', {_exactly('Decision log')})")


def wait_for_tables(page, count: int) -> None:
    """Until `count` tables are drawn: a grid (st.dataframe) with its canvas, or an HTML table
    (ui/light_table.py)."""
    page.wait_for_function(f"() => [...document.querySelectorAll('[data-testid=stDataFrame]')]"
                           f".filter(e => e.querySelector('canvas')).length"
                           f" + document.querySelectorAll('.tb-table table').length >= {count}", timeout=60_000)


def first_render(browser, server: Server, context=None) -> tuple[float, float]:
    """Seconds from navigation to the page fully rendered: the server's run finished and the browser shows
    the status strip, the tabs, the Account cards, its equity chart drawn in its frame and its three tables.
    A new browser context has an empty HTTP cache (a first visit); `context` may be one kept between visits
    (a trader reopening the page). Also the renderer's main-thread task time over that span (CDP)."""
    pages_before = sum(1 for _, what, _ in server.timing_lines() if what == "page")
    own = context is None
    context = context or browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    # the renderer's counters may carry earlier pages of a kept context (one process per site): a difference
    busy_before = _task_seconds(cdp)
    started = time.perf_counter()
    page.goto(server.url)
    wait_in_page(page, FIRST_VIEW.format(tables=ACCOUNT_TABLES))
    # and the server's run finished (its timing line; the file looked at every 5 ms)
    deadline = time.monotonic() + 60
    while sum(1 for _, what, _ in server.timing_lines() if what == "page") <= pages_before:
        if time.monotonic() > deadline:
            raise RuntimeError("the server never finished the page's first run")
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    busy = _task_seconds(cdp) - busy_before
    page.close()
    if own:
        context.close()
    return elapsed, busy


def _renders(browser, server: Server, n: int, context=None) -> tuple[list[float], list[float]]:
    runs = [first_render(browser, server, context) for _ in range(n)]
    return [r[0] for r in runs], [r[1] for r in runs]


def refreshes(server: Server, since: float) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    for ts, what, ms in server.timing_lines():
        if ts >= since and what in PANELS:
            runs.setdefault(what, []).append(ms)
    return runs


def press_halt(browser, server: Server, store: StateStore, presses: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server.url)
    expect(page.get_by_role("tab", name="Live")).to_be_visible(timeout=60_000)
    answered, shown = [], []
    for _ in range(presses):
        expect(page.locator(".tb-status-trading_state").get_by_text("ACTIVE", exact=True)).to_be_visible(timeout=30_000)
        started = time.perf_counter()
        page.get_by_test_id("stSidebar").get_by_role("button", name="HALT", exact=True).click()
        # this press's answer: the area also holds the last RESUME's "Result: done" until the page reruns
        wait_in_page(page, f"shows('.st-key-command_result', {_containing('HALT · sent', 'Result: done')})", 30_000)
        answered.append(time.perf_counter() - started)
        wait_in_page(page, f"shows('.tb-status-trading_state .tb-value', {_exactly('HALTED')})", 30_000)
        shown.append(time.perf_counter() - started)
        page.get_by_test_id("stSidebar").get_by_role("button", name="RESUME", exact=True).click()
        expect(page.locator(".st-key-command_result").get_by_text("RESUME · sent")).to_be_visible(timeout=30_000)
    context.close()
    return answered, shown


def other_bot(browser, server: Server, bot_id: str) -> tuple[float, int]:
    """Seconds from choosing `bot_id` in the selector to its page rendered; how many bots it says it lists."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server.url)
    expect(page.get_by_role("tab", name="Live")).to_be_visible(timeout=60_000)
    box = page.get_by_test_id("stSidebar").get_by_role("combobox").first
    listed = int(box.get_attribute("aria-label").split("(")[1].split()[0]) if box.get_attribute("aria-label") else 0
    box.click()
    page.keyboard.type(f"{bot_id} ·")  # the list is long: type to pick, as a person would
    expect(page.get_by_role("option").filter(has_text=f"{bot_id} ·").first).to_be_visible(timeout=30_000)
    pages_before = sum(1 for _, what, _ in server.timing_lines() if what == "page")
    started = time.perf_counter()
    page.keyboard.press("Enter")
    wait_in_page(page, f"shows('summary, p, span, div', {_containing(f'Bot {bot_id} ·')})")
    deadline = time.monotonic() + 60
    while sum(1 for _, what, _ in server.timing_lines() if what == "page") <= pages_before:
        if time.monotonic() > deadline:
            raise RuntimeError("the server never finished the other bot's page")
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    context.close()
    return elapsed, listed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=50_000)
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=20_000)
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--refresh-s", type=float, default=20.0, help="seconds of refreshes per tab")
    parser.add_argument("--soak-s", type=float, default=0.0)
    parser.add_argument("--presses", type=int, default=5)
    parser.add_argument("--parts", default="first,refresh,press,bots",
                        help="what to measure, of first (the floors and first renders), refresh, press, bots")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "dashboard.md"))
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: install Debian's chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    lines: list[str] = []

    def report(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory(prefix="tb-dash-bench-") as tmp:
        work = Path(tmp)
        redis = start_embedded_redis(free_port(), work / "redis", persist=False)
        server = None
        try:
            store = StateStore(connect(redis.url), BOT)
            started = time.perf_counter()
            counts = seed(store, trades=args.trades, signals=args.signals, audit=args.audit, now_ms=now_ms())
            report(f"seeded in {time.perf_counter() - started:.1f} s: {counts}")
            with Activity(store) as bot, sync_playwright() as play:
                server = Server(redis.url, work / "timings.txt", work / "streamlit.log")
                browser = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                if "first" in parts:
                    bare = floor_render(browser, work, BARE_APP, chart=False)
                    report(f"bare floor (a Streamlit page: a title, 1 metric, 1 line; no chart) in this browser: median "
                           f"{statistics.median(bare):.2f} s (min {min(bare):.2f})")
                    floor = floor_render(browser, work)
                    report(f"floor (a trivial Streamlit page: 2 metrics, 1 tiny st.plotly_chart) in this browser: median "
                           f"{statistics.median(floor):.2f} s (min {min(floor):.2f})")
                    (cold,), (cold_busy,) = _renders(browser, server, 1)
                    warm, warm_busy = _renders(browser, server, 5)
                    kept = browser.new_context(viewport={"width": 1280, "height": 900})
                    first_render(browser, server, kept)  # fills the kept context's HTTP cache
                    cached, cached_busy = _renders(browser, server, 5, kept)
                    kept.close()
                    report("first full render (status strip, tabs, Account cards, equity chart drawn, 3 tables; the "
                           "server's run done):")
                    report(f"  cold server, empty HTTP cache: {cold:.2f} s (main thread busy {cold_busy:.2f} s)")
                    report(f"  warm server, empty HTTP cache (a first visit): median {statistics.median(warm):.2f} s "
                           f"(min {min(warm):.2f}, max {max(warm):.2f}; main thread busy {statistics.median(warm_busy):.2f} s)")
                    report(f"  warm server, warm HTTP cache (the page reopened): median {statistics.median(cached):.2f} s "
                           f"(min {min(cached):.2f}, max {max(cached):.2f}; main thread busy "
                           f"{statistics.median(cached_busy):.2f} s)")
                    server_pages = [ms for _, what, ms in server.timing_lines() if what == "page"]
                    report(f"  server time of those full runs (ms): {', '.join(f'{ms:.0f}' for ms in server_pages)}")

                if "refresh" in parts:
                    report(f"refreshes (every {REFRESH_S:g} s, new records arriving), {args.refresh_s:g} s with each tab "
                           "open (the decision log with Live), ms per panel run: p50 / p95 / max (runs)")
                    all_runs: dict[str, list[float]] = {}
                    for tab in ("Account", "Paper", "Ghost", "Live"):
                        context = browser.new_context(viewport={"width": 1280, "height": 900})
                        page = context.new_page()
                        page.goto(f"{server.url}/?tab={tab}")
                        page.get_by_role("tab", name="Live").wait_for(timeout=60_000)
                        if tab == "Live":
                            page.get_by_text("Decision log", exact=True).click()
                        time.sleep(3)  # past this session's first full run
                        since = time.time()
                        time.sleep(args.refresh_s)
                        for panel, ms in refreshes(server, since).items():
                            all_runs.setdefault(panel, []).extend(ms)
                        context.close()
                    for panel in PANELS:
                        ms = all_runs.get(panel, [])
                        report(f"  {panel:13} {pct(ms, 0.5):7.1f} {pct(ms, 0.95):7.1f} {max(ms, default=float('nan')):7.1f}"
                               f"  ({len(ms)})")
                    tab_runs = [ms for p in ("Account", "Paper", "Ghost", "Live") for ms in all_runs.get(p, [])]
                    strip = statistics.fmean(all_runs.get("Status", [0])) + statistics.fmean(all_runs.get("Bot_status", [0]))
                    report(f"  one refresh of the page (the open tab's panel + both status panels): p50 "
                           f"{pct(tab_runs, 0.5) + strip:.0f} ms, p95 {pct(tab_runs, 0.95) + strip:.0f} ms, "
                           f"max {max(tab_runs, default=float('nan')) + strip:.0f} ms")

                if "press" in parts:
                    answered, shown = press_halt(browser, server, store, args.presses)
                    report(f"HALT pressed {len(answered)}×: answered on the page p50 {pct(answered, 0.5) * 1000:.0f} ms "
                           f"(max {max(answered) * 1000:.0f}); status strip HALTED p50 {pct(shown, 0.5) * 1000:.0f} ms "
                           f"(max {max(shown) * 1000:.0f}; a refresh is {REFRESH_S * 1000:.0f} ms)")
                    report("  each press, answered (ms; the first right after the page opened, as the tabs show): "
                           + ", ".join(f"{a * 1000:.0f}" for a in answered))

                if args.bots > 1 and "bots" in parts:
                    started = time.perf_counter()
                    for n in range(1, args.bots):
                        other = StateStore(store.client, f"bench{n:02d}")
                        seed(other, trades=1000, signals=2000, audit=500, equity=500, now_ms=now_ms(), seed_value=n,
                             mode="ghost" if n % 2 else "paper")
                    report(f"{args.bots - 1} more bots seeded in {time.perf_counter() - started:.1f} s")
                    pages_before = sum(1 for _, what, _ in server.timing_lines() if what == "page")
                    many, _ = _renders(browser, server, 3)
                    many_ms = [ms for _, what, ms in server.timing_lines() if what == "page"][pages_before:]
                    switched, listed = other_bot(browser, server, f"bench{min(7, args.bots - 1):02d}")
                    report(f"with {args.bots} bots: first full render median {statistics.median(many):.2f} s (empty HTTP "
                           f"cache; server runs {', '.join(f'{ms:.0f}' for ms in many_ms)} ms); the selector lists "
                           f"{listed}; another bot's page {switched:.2f} s")

                if args.soak_s > 0:
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.goto(server.url)
                    # counted from the page's first full run: a server that has not run the page yet has not
                    # imported its modules (77 MB against ~185)
                    wait_in_page(page, FIRST_VIEW.format(tables=ACCOUNT_TABLES))
                    samples = []
                    end = time.monotonic() + args.soak_s
                    while time.monotonic() < end:
                        samples.append((time.monotonic(), server.rss_mb()))
                        time.sleep(min(30.0, max(1.0, end - time.monotonic())))
                    context.close()
                    rss = [mb for _, mb in samples]
                    half = len(rss) // 2
                    report(f"soak {args.soak_s:g} s: Streamlit RSS {rss[0]:.0f} MB at the start, {rss[-1]:.0f} MB at "
                           f"the end, max {max(rss):.0f} MB; mean of the 1st half {statistics.fmean(rss[:half] or rss):.0f}"
                           f" MB, of the 2nd {statistics.fmean(rss[half:]):.0f} MB")
                    every = max(1, len(samples) // 12)
                    report("  RSS by minute: " + ", ".join(f"{(t - samples[0][0]) / 60:.0f}: {mb:.0f}"
                                                          for t, mb in samples[::every]))
                browser.close()
                report(f"commands answered by the stand-in: {bot.answered}")
        finally:
            if server is not None:
                server.stop()
            redis.stop()
    load = os.getloadavg()
    header = [
        "# Dashboard benchmark", "",
        f"`python -m benchmarks.dashboard --trades {args.trades} --signals {args.signals} --audit {args.audit} "
        f"--bots {args.bots} --refresh-s {args.refresh_s:g} --soak-s {args.soak_s:g} --parts {args.parts}`", "",
        f"{platform.node()} · {os.cpu_count()} CPUs · load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the "
        f"end · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "", "```",
    ]
    Path(args.out).write_text("\n".join([*header, *lines, "```", ""]))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
