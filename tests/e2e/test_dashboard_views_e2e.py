"""The dashboard's views in a real browser over state seeded in Redis: tables at 1280 px, a chart's zoom
across refreshes, switching the mode of a running bot, and two bots on one Redis."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Frame, Page, expect

from e2e_helpers import CommandAnswerer, DashboardPage, Heartbeat, now_ms
from models import (
    Account, Book, Candle, CommandStatus, ExitReason, Mode, Order, OrderSide, OrderStatus, OrderType, Position, Side, Trade,
)
from state import StateStore
from stores import Memory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

UI_TIMEOUT_MS = 30_000
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
# The columns the issue found cut off the right edge, by the column that tells the table apart
KEY_COLUMNS = {
    "Exit reason": ["Symbol", "Side", "P&L (USDT)", "Return", "Fees", "Exit reason", "Held", "Entry", "Exit"],
    "Taken": ["Symbol", "Side", "Taken", "5m return", "15m return", "60m return", "Made (USDT)"],
    "Reduce-only": ["Symbol", "Side", "Type", "Qty", "Price", "Stop", "Filled", "Reduce-only", "Status"],
    "Take-profit": ["Symbol", "Side", "Qty", "Entry", "Price", "P&L (USDT)", "P&L %", "Stop", "Take-profit"],
}


def _candles(symbol: str, start_ms: int, n: int, price: str = "95000.0") -> list[Candle]:
    p = Decimal(price)
    return [Candle(symbol, "1m", start_ms + i * 60_000, p, p + 20, p - 20, p + (i % 7) - 3, Decimal(5 + i % 9))
            for i in range(n)]


@pytest.fixture(scope="module")
def seeded(e2e_store: StateStore):
    """A paper bot with everything the tabs show; its heartbeat kept fresh."""
    now = now_ms()
    store = e2e_store
    store.write_state(mode="paper", venue="sim", trading_state="ACTIVE", heartbeat_ms=now, running="1",
                      data_source="synthetic", feed_stale="0", started_at_ms=now - 3_600_000)
    store.write_account(Account(Decimal("10250.75"), Decimal("31.5"), Decimal("812.4"), Decimal("9469.85")))
    store.write_positions([Position(BTC, Side.LONG, Decimal("0.021"), Decimal("95000.1"), leverage=3,
                                    mark_price=Decimal("95100"), unrealized_pnl=Decimal("2.1"),
                                    isolated_margin=Decimal("665"), liquidation_price=Decimal("63650.1"),
                                    opened_ms=now - 600_000)])
    store.remember(Memory.OPEN_TRADES, BTC, {"state": {
        "symbol": BTC, "side": "long", "qty": "0.021", "entry_price": "95000.1", "entry_ms": now - 600_000,
        "stop": "93100.1", "take_profit": "97850.1", "initial_stop": "93100.1", "peak_price": "95100",
        "breakeven_moved": False, "trailing_active": False, "strategy": "ema_trend", "trade_id": "open"}, "extra": {}})
    store.write_orders([Order("protect-BTC", BTC, OrderSide.SELL, OrderType.STOP_MARKET, Decimal("0.021"),
                              OrderStatus.NEW, stop_price=Decimal("93100.1"), reduce_only=True, created_ms=now)])
    for i in range(8):
        store.append_trade(Trade(f"t{i}", ETH, Side.SHORT, Decimal("1.25"), Decimal("1812.34"), Decimal("1803.21"),
                                 now - (i + 2) * 600_000, now - (i + 1) * 600_000, Decimal("11.41"), Decimal("1.81"),
                                 Decimal("9.60") - i * 3, ExitReason.VOLUME_EXHAUSTION, Mode.PAPER,
                                 strategy="mean_reversion", venue="sim"))
    for i in range(6):
        signal_id = f"s{i}"
        store.append_signal({"kind": "signal", "signal_id": signal_id, "symbol": SOL, "side": "long", "strength": "0.7",
                             "strategy": "momentum_spike", "reason": "jump", "price": "145.12", "ts_ms": now - i * 60_000,
                             "taken": False, "why_not": "max_positions: 3 open"})
        store.append_signal({"kind": "outcome", "signal_id": signal_id, "symbol": SOL, "side": "long",
                             "ts_ms": now - i * 60_000, "ret_5m": "0.12", "ret_15m": "-0.3", "ret_60m": "0.5"})
    store.push_candles(_candles(BTC, now - 120 * 60_000, 120))
    store.append_equity(now - 60_000, Decimal("10219.25"), Decimal("10219.25"), Decimal("0"))
    store.append_equity(now, Decimal("10282.25"), Decimal("10250.75"), Decimal("31.5"))
    heartbeat = Heartbeat(store).start()
    yield store
    heartbeat.stop()


def _grids(page: Page) -> list[dict]:
    """Each visible table: the headers it has in view (a grid only puts those in the DOM; of an HTML table,
    ui/light_table.py, those that start left of its right edge) and its widths."""
    return page.evaluate("""() => [
        ...[...document.querySelectorAll('[data-testid=stDataFrame]')]
        .filter(e => e.offsetParent !== null)
        .map(e => {
            const scroller = e.querySelector('.dvn-scroller');
            return {headers: [...e.querySelectorAll('th')].map(h => h.textContent.trim()),
                    visible: scroller ? scroller.clientWidth : 0, total: scroller ? scroller.scrollWidth : 0};
        }),
        ...[...document.querySelectorAll('.tb-table')]
        .filter(e => e.offsetParent !== null)
        .map(e => {
            const edge = e.getBoundingClientRect().right;
            return {headers: [...e.querySelectorAll('th')].filter(h => h.getBoundingClientRect().left < edge)
                        .map(h => h.textContent.trim()),
                    visible: e.clientWidth, total: e.scrollWidth};
        })]""")


@pytest.mark.parametrize("tab", ["Account", "Paper", "Ghost"])
def test_tables_when_viewed_at_1280_px_then_no_key_column_is_cut_off(page: Page, dashboard_url, seeded, tab):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{dashboard_url}/?tab={tab}")
    expect(page.locator("[data-testid=stDataFrame], .tb-table").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_function(  # every grid has laid out its columns
        "() => [...document.querySelectorAll('[data-testid=stDataFrame]')].filter(e => e.offsetParent !== null)"
        ".every(e => e.querySelectorAll('th').length > 0)", timeout=UI_TIMEOUT_MS)

    checked = 0
    for grid in _grids(page):
        marker = next((m for m in KEY_COLUMNS if m in grid["headers"]), None)
        if marker is None:
            continue
        checked += 1
        keys = [k for k in KEY_COLUMNS[marker] if k in grid["headers"] or not k.endswith("return")]
        missing = [k for k in keys if k not in grid["headers"]]
        assert not missing, f"{tab}: {missing} not in view at 1280 px ({grid})"
        # the grid puts a column in the DOM once it starts in view: a column after the last key column in
        # the DOM (or no horizontal scroll at all) means the last key column is whole
        last = grid["headers"].index(keys[-1])
        assert last + 1 < len(grid["headers"]) or grid["total"] <= grid["visible"] + 1, f"{tab}: {grid}"
    assert checked >= 1, f"{tab}: no table with key columns found: {_grids(page)}"


def _chart(page: Page, key: str) -> Frame:
    """The frame a chart is drawn in (ui/live_chart.py), once its plot is on screen."""
    frame_element = page.locator(f".st-key-chart_{key} iframe")
    expect(frame_element).to_be_visible(timeout=UI_TIMEOUT_MS)
    frame = frame_element.element_handle().content_frame()
    assert frame is not None
    expect(frame.locator(".js-plotly-plot .main-svg").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    return frame


def _plot_state(frame: Frame) -> dict:
    return frame.locator(".js-plotly-plot").first.evaluate(
        "gd => ({range: gd._fullLayout.xaxis.range.map(String), x: Array.from(gd.data[0].x, String),"
        " auto: gd._fullLayout.xaxis.autorange, draws: Number(document.body.dataset.draws || 0)})")


def _zoom(page: Page, frame: Frame) -> dict:
    chart = frame.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()  # in the page's coordinates, frame included
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=8)
    page.mouse.up()
    frame.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.autorange === false",
                            timeout=UI_TIMEOUT_MS)
    return _plot_state(frame)


def _minute(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def test_chart_when_zoomed_then_the_zoom_survives_refreshes(page: Page, dashboard_url, seeded):
    page.goto(f"{dashboard_url}/?tab=Paper")
    frame = _chart(page, "paper_candles")
    before = _plot_state(frame)
    zoomed = _zoom(page, frame)
    assert zoomed["range"] != before["range"]

    page.wait_for_timeout(3500)  # three refreshes (1 s each in these tests), the heartbeat moving on
    after = _plot_state(frame)
    assert (after["range"], after["auto"]) == (zoomed["range"], False)


def test_chart_when_zoomed_and_new_candles_arrive_then_they_are_drawn_and_the_zoom_stays(page: Page, dashboard_url,
                                                                                        seeded):
    page.goto(f"{dashboard_url}/?tab=Paper")
    frame = _chart(page, "paper_candles")
    zoomed = _zoom(page, frame)
    newest = max(c.open_time_ms for c in seeded.read_candles(BTC))

    for batch in range(3):  # three refreshes, each with new candles in Redis
        newest += 60_000
        seeded.push_candles(_candles(BTC, newest, 1, "95010.0"))
        frame.wait_for_function("m => Array.from(document.querySelector('.js-plotly-plot').data[0].x, String)"
                                ".some(x => x.replace('T', ' ').startsWith(m))", arg=_minute(newest),
                                timeout=UI_TIMEOUT_MS)
        drawn = _plot_state(frame)
        assert (drawn["range"], drawn["auto"]) == (zoomed["range"], False), f"after batch {batch}"
    assert drawn["draws"] >= zoomed["draws"] + 3
    assert len(drawn["x"]) > len(zoomed["x"])


def test_chart_when_hovered_and_new_candles_drawn_then_the_hover_label_comes_back(page: Page, dashboard_url, seeded):
    page.goto(f"{dashboard_url}/?tab=Paper")
    frame = _chart(page, "paper_candles")
    box = frame.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    label = frame.locator(".hoverlayer .legend, .hoverlayer .hovertext").first  # "x unified": a legend box
    expect(label).to_be_visible(timeout=UI_TIMEOUT_MS)
    drawn = _plot_state(frame)["draws"]

    newest = max(c.open_time_ms for c in seeded.read_candles(BTC)) + 60_000
    seeded.push_candles(_candles(BTC, newest, 1, "95020.0"))
    frame.wait_for_function("n => Number(document.body.dataset.draws) > n", arg=drawn, timeout=UI_TIMEOUT_MS)

    expect(label).to_be_visible(timeout=2_000)  # the mouse never moved: only the redraw could bring it back


def test_start_when_running_in_another_mode_then_confirmed_once_and_stop_then_start_sent(page: Page, dashboard_url,
                                                                                        seeded):
    ui = DashboardPage.open(page, dashboard_url)
    ui.expect_status("Mode", "paper")
    expect(ui.sidebar.get_by_role("combobox", name="Mode")).to_have_value("paper")  # shows the running mode
    try:
        with CommandAnswerer(seeded, CommandStatus.DONE, elapsed_ms=4.0) as bot:
            ui.choose_mode("ghost")
            ui.sidebar.get_by_role("button", name="START", exact=True).click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text("Switching stops it")).to_be_visible(timeout=UI_TIMEOUT_MS)
            assert bot.seen == []
            dialog.get_by_role("button", name="Stop and start in ghost", exact=True).click()
            expect(ui.result.get_by_text("started in ghost")).to_be_visible(timeout=UI_TIMEOUT_MS)
        assert [(f["type"], json.loads(f["args"])) for f in bot.seen] == [("stop", {}), ("start", {"mode": "ghost"})]
    finally:
        seeded.write_state(mode="paper", running="1")


def test_bot_selector_when_switching_between_two_bots_then_views_and_commands_stay_apart(page: Page, dashboard_url,
                                                                                         seeded):
    other = StateStore(seeded.client, seeded.bot_id + "x")
    other.write_state(mode="ghost", venue="none", trading_state="ACTIVE", heartbeat_ms=now_ms(), running="1",
                      data_source="synthetic")
    other.write_account(Account(Decimal("5555.55"), Decimal("0"), Decimal("0"), Decimal("5555.55")))
    beat = Heartbeat(other).start()
    try:
        ui = DashboardPage.open(page, dashboard_url)
        expect(ui.main.get_by_text("10,282.25")).to_be_visible(timeout=UI_TIMEOUT_MS)
        selector = ui.sidebar.get_by_role("combobox").first
        selector.click()
        page.get_by_role("option").filter(has_text=f"{other.bot_id} · ghost").click()
        expect(ui.main.get_by_text("5,555.55").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        ui.expect_status("Mode", "ghost")
        expect(ui.main.get_by_text("10,282.25")).to_have_count(0)

        with CommandAnswerer(seeded, CommandStatus.DONE) as first, CommandAnswerer(other, CommandStatus.DONE) as second:
            ui.press("HALT")
            ui.expect_result("Result: done")
        assert ([f["type"] for f in second.seen], first.seen) == (["halt"], []), (page.url, other.client.xrange(other.key("commands")), seeded.client.xrange(seeded.key("commands"))[-2:])
        assert other.read_halt() is not None and seeded.read_halt() is None
        assert f"bot={other.bot_id}" in page.url  # the page can be linked to
    finally:
        beat.stop()
        other.wipe()


def _line_chart(page: Page, key: str) -> Frame:
    """The frame an equity chart is drawn in (ui/line_chart.py, uPlot), once it has drawn."""
    frame_element = page.locator(f".st-key-chart_{key} iframe")
    expect(frame_element).to_be_visible(timeout=UI_TIMEOUT_MS)
    frame = frame_element.element_handle().content_frame()
    assert frame is not None
    frame.wait_for_function("() => Number(document.body.dataset.draws) >= 1 && window.plots && window.plots.length == 2",
                            timeout=UI_TIMEOUT_MS)
    return frame


def _line_state(frame: Frame) -> dict:
    return frame.evaluate("() => ({views: window.plots.map(u => [u.scales.x.min, u.scales.x.max]),"
                          " last: window.plots[0].data[0][window.plots[0].data[0].length - 1],"
                          " draws: Number(document.body.dataset.draws)})")


def test_equity_chart_when_zoomed_and_new_points_arrive_then_they_are_drawn_and_both_panels_keep_the_zoom(
        page: Page, dashboard_url, seeded):
    book = Book.of("paper", "sim")
    start = now_ms() - 40 * 60_000
    for i in range(40):  # a curve to zoom into, a minute a point
        seeded.append_equity(start + i * 60_000, Decimal("10000") + i, Decimal("10000"), Decimal(i), book=book)
    page.goto(f"{dashboard_url}/?tab=Account")
    frame = _line_chart(page, "account_equity")
    before = _line_state(frame)
    over = frame.locator(".u-over").first
    over.scroll_into_view_if_needed()
    box = over.bounding_box()  # in the page's coordinates, frame included
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.30, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.50, y, steps=8)
    page.mouse.up()
    frame.wait_for_function("v => window.plots[0].scales.x.max < v", arg=before["views"][0][1], timeout=UI_TIMEOUT_MS)
    zoomed = _line_state(frame)
    assert zoomed["views"][0] == zoomed["views"][1]  # the drawdown panel zoomed with the equity one

    newest = now_ms() + 60_000
    seeded.append_equity(newest, Decimal("10100"), Decimal("10000"), Decimal("100"), book=book)
    frame.wait_for_function("t => window.plots[0].data[0].includes(t)", arg=newest / 1000, timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(2500)  # more refreshes (1 s each in these tests)
    after = _line_state(frame)
    assert after["views"] == zoomed["views"] and after["last"] == newest / 1000
    assert after["draws"] > zoomed["draws"]

    frame.locator(".u-over").first.dblclick()  # the reset: the whole curve again, the new point in view
    frame.wait_for_function("t => window.plots[0].scales.x.max >= t", arg=newest / 1000, timeout=UI_TIMEOUT_MS)
