"""The dashboard against another checkout of it, on the same Redis, in the same browser, visits alternating:
a before/after that a loaded machine cannot tilt, since both sides pay the same load at the same moment.

    python -m benchmarks.dashboard_ab --old /tmp/old [--tab Account] [--rounds 6] [--trace] [--refresh-s 30]

`--old` is another worktree of this repository (e.g. `git worktree add --detach /tmp/old main`, with the
.venv linked in). Each round opens the page once per side in a new browser context (an empty HTTP
cache: a first visit) and once in a context kept per side (the page reopened); round 0 only warms up.
A visit ends when the status strip, the tabs, every chart of the tab (its frame has drawn: Plotly's or
uPlot's) and its tables (a grid with its canvas, or an HTML table) are drawn and the decision
log is listed. Reported: wall seconds and the
renderer's main-thread task seconds (CDP), median and min. `--trace` also records one more visit per side
with Chromium's tracing and prints the main thread's CPU time (thread time, which another process's
load does not inflate) by what it ran: which script's evaluation, React, layout. `--refresh-s` then opens
the tab on both sides at once and reports each side's panel runs while new records arrive (`--rounds 0`:
only that).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.dashboard import BOT, CHROMIUM, CHROMIUM_ARGS, ROOT, Activity, now_ms, wait_for_tables
from benchmarks.dashboard_seed import seed
from embedded_redis import free_port, start_embedded_redis
from state import StateStore, connect

CHARTS = {"Account": 1, "Paper": 3, "Ghost": 1, "Live": 0}
TABLES = {"Account": 3, "Paper": 2, "Ghost": 4, "Live": 0}  # what the seed gives each tab, at least


def _start(root: Path, redis_url: str, log: Path, timings: Path | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    env.update(REDIS_URL=redis_url, TB_BOT__ID=BOT, TB_DASHBOARD__REFRESH_SECONDS="2")
    if timings is not None:
        env.update(TB_DASHBOARD_TIMINGS=str(timings))
    python = root / ".venv" / "bin" / "python"
    process = subprocess.Popen(
        [str(python if python.exists() else sys.executable), "-m", "streamlit", "run", "dashboard.py",
         "--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the dashboard of {root} did not answer within 60 s")


def _task_seconds(cdp) -> float:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}.get("TaskDuration", 0.0)


# a chart's frame counts its draws on its body (ui/live_chart_frame, ui/line_chart_frame)
_DRAWN = "() => document.body && Number(document.body.dataset.draws || 0) > 0 ? 1 : 0"


def _drawn(page) -> int:
    """Chart frames that have drawn their chart."""
    total = 0
    for frame in page.frames:
        try:
            total += int(frame.evaluate(_DRAWN))
        except Exception:  # a frame that is going away counts nothing
            pass
    return total


def visit(context, port: int, tab: str) -> tuple[float, float]:
    from playwright.sync_api import expect

    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    before = _task_seconds(cdp)
    started = time.perf_counter()
    page.goto(f"http://127.0.0.1:{port}/?tab={tab}")
    expect(page.locator(".tb-status-bot, .st-key-status_bot").get_by_text("running", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("tab", name="Live")).to_be_visible(timeout=60_000)
    charts = CHARTS[tab]
    deadline = time.monotonic() + 60
    while _drawn(page) < charts:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {charts} charts drawn on the {tab} tab")
        time.sleep(0.02)
    wait_for_tables(page, TABLES[tab])
    expect(page.get_by_text("Decision log", exact=True)).to_be_visible(timeout=60_000)
    elapsed = time.perf_counter() - started
    busy = _task_seconds(cdp) - before
    page.close()
    return elapsed, busy


def traced_cpu(browser, port: int, tab: str, out: Path) -> str:
    """One visit in a new context under Chromium's tracing: the renderer main threads' CPU by what ran."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    browser.start_tracing(categories=["devtools.timeline", "v8", "disabled-by-default-devtools.timeline"])
    visit(context, port, tab)
    out.write_bytes(browser.stop_tracing())
    context.close()
    events = json.loads(out.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    total = 0.0
    by: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("ph") != "X" or (e.get("pid"), e.get("tid")) not in mains:
            continue
        cpu = e.get("tdur", e.get("dur", 0)) / 1000
        if e["name"] == "RunTask":
            total += cpu
        elif e["name"] in ("EvaluateScript", "v8.evaluateModule", "FunctionCall", "UpdateLayoutTree", "Layout"):
            url = ((e.get("args") or {}).get("data") or {}).get("url", "")
            by[f"{e['name']} {url.rsplit('/', 1)[-1]}".strip()] += cpu
    top = ", ".join(f"{name} {ms:.0f}" for name, ms in by.most_common(6))
    return f"main thread CPU {total:.0f} ms; of it (ms): {top}"


def refresh_runs(browser, servers: dict[str, tuple[subprocess.Popen, int]], timings: dict[str, Path], tab: str,
                 seconds: float) -> dict[str, list[float]]:
    """Both sides' pages open on `tab` at the same time, refreshing while new records arrive: each panel
    run's milliseconds (the server's own timings) of the tab's panel and both status panels, per side."""
    contexts = []
    for name, (_, port) in servers.items():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/?tab={tab}")
        page.get_by_role("tab", name="Live").wait_for(timeout=60_000)
        contexts.append(context)
    time.sleep(3)  # past the sessions' first full runs
    since = time.time()
    time.sleep(seconds)
    for context in contexts:
        context.close()
    out: dict[str, list[float]] = {}
    for name, path in timings.items():
        for line in path.read_text().splitlines() if path.exists() else []:
            ts, what, ms = line.split()
            if float(ts) >= since and what in (tab, "Status", "Bot_status"):
                out.setdefault(f"{name} {what}", []).append(float(ms))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="another worktree of this repository")
    parser.add_argument("--tab", default="Account", choices=sorted(CHARTS))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--refresh-s", type=float, default=0.0,
                        help="then this many seconds of refreshes with both sides open on the tab at once")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    sides = {"old": Path(args.old).resolve(), "new": ROOT}
    with tempfile.TemporaryDirectory(prefix="tb-dash-ab-") as tmp:
        work = Path(tmp)
        redis = start_embedded_redis(free_port(), work / "redis", persist=False)
        servers: dict[str, tuple[subprocess.Popen, int]] = {}
        try:
            store = StateStore(connect(redis.url), BOT)
            seed(store, trades=50_000, signals=100_000, audit=20_000, now_ms=now_ms())
            timings = {name: work / f"{name}.timings" for name in sides}
            for name, root in sides.items():
                servers[name] = _start(root, redis.url, work / f"{name}.log", timings[name])
            runs: dict[str, dict[str, list[tuple[float, float]]]] = {name: collections.defaultdict(list)
                                                                     for name in sides}
            loads = []
            with Activity(store), sync_playwright() as play:
                browser = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                kept = {name: browser.new_context(viewport={"width": 1280, "height": 900}) for name in sides}
                for r in range(args.rounds + 1 if args.rounds else 0):
                    for name, (_, port) in servers.items():
                        fresh = browser.new_context(viewport={"width": 1280, "height": 900})
                        for kind, context in (("empty cache", fresh), ("kept cache", kept[name])):
                            wall, busy = visit(context, port, args.tab)
                            if r:
                                runs[name][kind].append((wall, busy))
                        fresh.close()
                    loads.append(os.getloadavg()[0])
                if loads:
                    print(f"{args.tab} tab, {args.rounds} rounds, load average {min(loads):.1f}–{max(loads):.1f}")
                for name, kinds in runs.items():
                    for kind, values in kinds.items():
                        walls = [w for w, _ in values]
                        busies = [b for _, b in values]
                        print(f"  {name} ({sides[name]}), {kind}: median {statistics.median(walls):.2f} s (min "
                              f"{min(walls):.2f}); main thread busy median {statistics.median(busies):.2f} s")
                if args.refresh_s > 0:
                    runs_ms = refresh_runs(browser, servers, timings, args.tab, args.refresh_s)
                    print(f"{args.tab} tab refreshing on both sides at once for {args.refresh_s:g} s, load average "
                          f"{os.getloadavg()[0]:.1f} at the end; ms per panel run: p50 / p95 / max (runs)")
                    for label, panel_ms in sorted(runs_ms.items()):
                        panel_ms.sort()
                        p95 = panel_ms[min(len(panel_ms) - 1, round(0.95 * (len(panel_ms) - 1)))]
                        print(f"  {label:18} {statistics.median(panel_ms):7.1f} {p95:7.1f} {panel_ms[-1]:7.1f}"
                              f"  ({len(panel_ms)})")
                if args.trace:
                    for name, (_, port) in servers.items():
                        print(f"  {name} traced: {traced_cpu(browser, port, args.tab, work / f'{name}.json')}")
                browser.close()
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(15)
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
