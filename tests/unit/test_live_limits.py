"""Live trading's hard limits: config may only tighten them, and the pre-trade gate holds every one at its
boundary; a hypothesis property holds them for any sequence of intents, prices and fills."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

from errors import ConfigError
from models import Mode, Position, Side, TradingState
from risk import live_limits as hard
from risk.gate import PreTradeCheck, check_order
from risk.limits import effective_limits
from settings import LiveSettings, RiskSettings, load_settings

D = Decimal
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
LIVE = effective_limits(RiskSettings(), leverage=5, mode=Mode.LIVE)
NOON = int(datetime(2025, 5, 12, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)


def at(hour: int, minute: int = 0, second: float = 0) -> int:
    return int(datetime(2025, 5, 12, hour, minute, tzinfo=timezone.utc).timestamp() * 1000 + second * 1000)


def entry(**overrides) -> PreTradeCheck:
    """A live entry that passes: 0.4 ETH at 100 = 40 USDT, stop 2 % under, on a 1 000 USDT account at noon."""
    base = dict(
        trading_state=TradingState.ACTIVE, symbol=ETH, side=Side.LONG, qty=D("0.4"), price=D("100"), reduce_only=False,
        equity=D("1000"), wallet_balance=D("1000"), positions=(), price_age_s=0.0, stale_after_s=120.0,
        daily_pnl=D("0"), weekly_pnl=D("0"), margin_used=D("0"), leverage=1, now_ms=NOON, mark_price=D("100"),
        stop_price=D("98"),
    )
    base.update(overrides)
    return PreTradeCheck(**base)


def code(c: PreTradeCheck, limits=LIVE) -> str | None:
    denial = check_order(c, limits)
    return None if denial is None else denial.reason_code


def held(symbol: str, qty: str = "0.1", price: str = "100") -> Position:
    return Position(symbol, Side.LONG, D(qty), D(price), leverage=1, mark_price=D(price))


# ------------------------------------------------------------------------- config only tightens


@pytest.mark.parametrize(
    ("field", "value", "constant"),
    [
        ("max_position_usdt", "50.01", "LIVE_MAX_POSITION_USDT"),
        ("max_leverage", 2, "LIVE_MAX_LEVERAGE"),
        ("max_loss_per_trade_usdt", "5.01", "LIVE_MAX_LOSS_PER_TRADE_USDT"),
        ("max_daily_loss_usdt", "25.01", "LIVE_MAX_DAILY_LOSS_USDT"),
        ("max_weekly_loss_usdt", "100.01", "LIVE_MAX_WEEKLY_LOSS_USDT"),
        ("max_margin_use_pct", "50.01", "LIVE_MAX_MARGIN_USE_PCT"),
        ("liquidation_alert_pct", "80.01", "LIVE_LIQUIDATION_ALERT_PCT"),
        ("liquidation_close_pct", "90.01", "LIVE_LIQUIDATION_CLOSE_PCT"),
        ("max_positions", 3, "LIVE_MAX_POSITIONS"),
        ("min_entry_spacing_seconds", "59.9", "LIVE_MIN_ENTRY_SPACING_S"),
        ("max_orders_per_minute", 7, "LIVE_MAX_ORDERS_PER_MINUTE"),
        ("price_band_pct", "1.01", "LIVE_MAX_PRICE_BAND_PCT"),
        ("max_price_age_seconds", "5.1", "LIVE_MAX_PRICE_AGE_S"),
        ("max_trades_per_day", 21, "LIVE_MAX_TRADES_PER_DAY"),
        ("min_balance_usdt", "49.99", "LIVE_MIN_BALANCE_USDT"),
        ("min_paper_trades", 4, "SEED_MIN_PAPER_TRADES"),
        ("min_ghost_signals", 99, "SEED_MIN_GHOST_SIGNALS"),
        ("min_ghost_accuracy_pct", "54.9", "SEED_MIN_GHOST_ACCURACY_PCT"),
    ],
)
def test_load_settings_when_a_live_value_is_looser_than_its_hard_limit_then_start_up_names_the_constant(
    tmp_path, field, value, constant
):
    path = tmp_path / "config.yaml"
    path.write_text(f"live:\n  {field}: {value}\n")

    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})

    assert constant in str(err.value) and f"live.{field}" in str(err.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_position_usdt", "50"), ("max_position_usdt", "49.99"), ("max_leverage", 1), ("max_daily_loss_usdt", "10"),
     ("min_entry_spacing_seconds", "60"), ("min_entry_spacing_seconds", "120"), ("max_positions", 1),
     ("min_balance_usdt", "200"), ("min_ghost_accuracy_pct", "60")],
)
def test_live_settings_when_a_value_is_at_or_tighter_than_its_hard_limit_then_accepted(field, value):
    live = LiveSettings(**{field: D(value) if isinstance(value, str) else value})

    assert getattr(live, field) == (D(value) if isinstance(value, str) else value)


@pytest.mark.parametrize(
    ("symbols", "ok"),
    [((BTC, ETH), True), ((BTC,), True), ((BTC, ETH, SOL, "ADA/USDT:USDT", "XRP/USDT:USDT"), True),
     ((BTC, "DOGE/USDT:USDT"), False)],
)
def test_live_settings_when_symbols_leave_the_allowed_set_then_refused(symbols, ok):
    if ok:
        assert LiveSettings(symbols=symbols).symbols == symbols
    else:
        with pytest.raises(ValueError, match="DOGE/USDT:USDT, outside LIVE_SYMBOLS"):
            LiveSettings(symbols=symbols)


@pytest.mark.parametrize(("hours", "ok"), [((22, 23, 0, 1), True), ((21, 22, 23, 0, 1, 2), True), ((22, 23, 0), False)])
def test_live_settings_when_blackout_hours_drop_one_then_refused(hours, ok):
    if ok:
        assert LiveSettings(blackout_hours_utc=hours).blackout_hours_utc == hours
    else:
        with pytest.raises(ValueError, match="leaves out 1 of LIVE_BLACKOUT_HOURS_UTC"):
            LiveSettings(blackout_hours_utc=hours)


def test_effective_limits_when_live_with_tighter_config_then_the_tighter_values():
    limits = effective_limits(RiskSettings(), 5, Mode.LIVE, LiveSettings(max_position_usdt=D("30"), max_positions=1))

    assert (limits.usdt.max_position_usdt, limits.max_open_positions, limits.leverage) == (D("30"), 1, 1)


# ----------------------------------------------------------------------------- gate boundaries


def test_check_order_when_a_live_entry_is_within_every_limit_then_it_passes():
    assert code(entry()) is None


@pytest.mark.parametrize(("qty", "expected"), [("0.4999", None), ("0.5", None), ("0.5001", "order_too_large")])
def test_check_order_when_position_value_around_50_usdt_then_denied_above(qty, expected):
    # 0.4999 / 0.5 / 0.5001 ETH at 100 = 49.99 / 50.00 / 50.01 USDT; the stop keeps the trade's loss under 5 USDT
    assert code(entry(qty=D(qty), stop_price=D("99"))) == expected


@pytest.mark.parametrize(("held_qty", "expected"), [("0.0999", None), ("0.1", None), ("0.1001", "position_too_large")])
def test_check_order_when_adding_to_a_position_would_pass_50_usdt_then_denied_above(held_qty, expected):
    # 0.4 more on top of what is held: 49.99 / 50.00 / 50.01 USDT in all
    c = entry(positions=(held(ETH, held_qty),), margin_used=D(held_qty) * 100, stop_price=D("99"))

    assert code(c) == expected


@pytest.mark.parametrize(("mark", "expected"), [("124.97", None), ("125", None), ("125.03", "order_too_large")])
def test_check_order_when_the_mark_is_above_the_order_price_then_the_position_is_valued_at_the_mark(mark, expected):
    # 0.4 ETH: 49.99 / 50.00 / 50.01 USDT at the mark; the order's own price of 100 would hide it
    assert code(entry(mark_price=D(mark), stop_price=D("99.5"))) == expected


@pytest.mark.parametrize(("open_symbols", "expected"), [((), None), ((BTC,), None), ((BTC, SOL), "max_positions")])
def test_check_order_when_the_3rd_position_would_open_then_denied(open_symbols, expected):
    positions = tuple(held(s) for s in open_symbols)

    assert code(entry(positions=positions, margin_used=D(10) * len(positions))) == expected


@pytest.mark.parametrize(("seconds", "expected"), [(59.9, "entry_spacing"), (60.0, None), (60.1, None)])
def test_check_order_when_entries_are_around_60_s_apart_then_denied_under(seconds, expected):
    assert code(entry(recent_entries_ms=(NOON - int(seconds * 1000),))) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [(at(21, 59, 59.999), None), (at(22), "blackout"), (at(23, 59), "blackout"), (at(0, 30), "blackout"),
     (at(1, 59, 59.999), "blackout"), (at(2), None)],
)
def test_check_order_when_an_entry_falls_around_the_blackout_hours_then_denied_inside(now, expected):
    assert code(entry(now_ms=now)) == expected


def test_check_order_when_blackout_and_the_order_is_reduce_only_then_the_exit_passes():
    c = entry(now_ms=at(22, 30), side=Side.SHORT, reduce_only=True, positions=(held(ETH, "0.4"),))

    assert code(c) is None


@pytest.mark.parametrize(
    ("margin_used", "qty", "expected"),
    # equity 1 000 at 1x: 460 held + 40 new = 500 = 50.00 %; 460.1 + 40 = 50.01 %
    [("459.9", "0.4", None), ("460", "0.4", None), ("460.1", "0.4", "margin_too_high")],
)
def test_check_order_when_margin_use_after_the_order_around_50_pct_then_denied_above(margin_used, qty, expected):
    limits = dataclasses.replace(LIVE, max_position_pct=D("100"), max_total_exposure_pct=D("1000"))

    assert code(entry(margin_used=D(margin_used), qty=D(qty)), limits) == expected


@pytest.mark.parametrize(("symbol", "expected"), [(BTC, None), (ETH, None), (SOL, "symbol_not_allowed")])
def test_check_order_when_live_symbol_not_on_the_whitelist_then_denied(symbol, expected):
    assert code(entry(symbol=symbol, qty=D("0.0004"), price=D("100000"), mark_price=D("100000"),
                      stop_price=D("98000"))) == expected


@pytest.mark.parametrize(("stop", "expected"), [("87.51", None), ("87.5", None), ("87.49", "loss_per_trade"), (None, "no_stop")])
def test_check_order_when_a_stop_out_would_lose_around_5_usdt_then_denied_above(stop, expected):
    # 0.4 at 100 with no costs: a stop at 87.51 / 87.5 / 87.49 loses 4.996 / 5.000 / 5.004 USDT
    assert code(entry(stop_price=None if stop is None else D(stop))) == expected


@pytest.mark.parametrize(("fee_rate", "slippage_bps", "expected"), [("0", "0", None), ("0.0004", "0", "loss_per_trade"),
                                                                    ("0", "2", "loss_per_trade")])
def test_check_order_when_fees_or_slippage_push_a_5_usdt_stop_out_over_then_denied(fee_rate, slippage_bps, expected):
    c = entry(stop_price=D("87.5"), fee_rate=D(fee_rate), slippage_bps=D(slippage_bps))

    assert code(c) == expected


@pytest.mark.parametrize(("pnl", "expected"), [("-24.99", None), ("-25", "loss_limit"), ("-25.01", "loss_limit")])
def test_check_order_when_the_day_has_lost_around_25_usdt_then_denied_from_25(pnl, expected):
    assert code(entry(daily_pnl=D(pnl), equity=D("10000"), wallet_balance=D("10000"))) == expected


@pytest.mark.parametrize(("pnl", "expected"), [("-99.99", None), ("-100", "loss_limit")])
def test_check_order_when_the_week_has_lost_around_100_usdt_then_denied_from_100(pnl, expected):
    assert code(entry(weekly_pnl=D(pnl), equity=D("10000"), wallet_balance=D("10000"))) == expected


@pytest.mark.parametrize(("age", "expected"), [(4.9, None), (5.0, None), (5.1, "stale_price")])
def test_check_order_when_the_mark_is_around_5_s_old_then_denied_beyond(age, expected):
    assert code(entry(price_age_s=age)) == expected


@pytest.mark.parametrize(("price_age", "mark_age", "expected"), [
    (60.0, 4.9, None), (60.0, 5.0, None), (60.0, 5.1, "stale_price"),  # a 1m feed between candles, a fresh mark
    (120.0, 0.1, None), (120.1, 0.1, "stale_price"),  # the feed itself still goes stale at stale_after_s
])
def test_check_order_when_the_mark_was_asked_for_then_its_own_age_counts_not_the_last_candles(price_age, mark_age, expected):
    assert code(entry(price_age_s=price_age, mark_age_s=mark_age)) == expected


def test_check_order_when_live_has_no_mark_then_no_order():
    assert code(entry(mark_price=None)) == "no_mark"


@pytest.mark.parametrize(("limit", "expected"), [("101", None), ("101.01", "price_band"), ("98.99", "price_band")])
def test_check_order_when_a_limit_price_is_around_the_1_pct_band_then_denied_outside(limit, expected):
    assert code(entry(is_limit=True, price=D(limit), qty=D("0.3"), stop_price=D("97"))) == expected


@pytest.mark.parametrize(("balance", "expected"), [("49.99", "low_balance"), ("50", None)])
def test_check_order_when_the_wallet_is_around_the_minimum_balance_then_denied_under(balance, expected):
    limits = dataclasses.replace(LIVE, max_position_pct=D("100"), max_total_exposure_pct=D("1000"), max_margin_use_pct=D("100"))

    assert code(entry(wallet_balance=D(balance), equity=D(balance), qty=D("0.2")), limits) == expected


@pytest.mark.parametrize(("entries_today", "expected"), [(19, None), (20, "trades_per_day")])
def test_check_order_when_the_day_has_seen_around_20_entries_then_the_breaker_denies(entries_today, expected):
    # one every 10 minutes from 08:00; the last well over 60 s ago
    recent = tuple(at(8) + i * 600_000 for i in range(entries_today))

    assert code(entry(recent_entries_ms=recent, now_ms=at(20))) == expected


@pytest.mark.parametrize(("in_last_minute", "expected"), [(2, None), (3, "order_rate")])
def test_check_order_when_the_throttle_has_seen_n_entries_in_60_s_then_denied(in_last_minute, expected):
    limits = dataclasses.replace(LIVE, usdt=dataclasses.replace(LIVE.usdt, max_orders_per_minute=3, min_entry_spacing_s=D(0)))
    recent = tuple(NOON - 1000 * (i + 1) for i in range(in_last_minute))

    assert code(entry(recent_entries_ms=recent), limits) == expected


def test_check_order_when_the_venue_minimum_is_above_the_order_then_denied_not_rounded_up():
    # BTC's venue minimum is 0.001 BTC ≈ 77 USDT: a 50 USDT order is refused, never rounded up to it
    c = entry(symbol=BTC, qty=D("0.00064"), price=D("77000"), mark_price=D("77000"), stop_price=D("76000"),
              min_qty=D("0.001"), min_notional=D("100"))

    assert code(c) == "below_min_notional"


def test_check_order_when_redis_or_the_venue_cannot_be_read_then_fail_closed():
    assert code(entry(unreadable="the venue's positions")) == "fail_closed"


def test_check_order_when_paper_without_usdt_limits_then_none_of_them_apply():
    paper = effective_limits(RiskSettings(), leverage=1, mode=Mode.PAPER)
    c = entry(symbol=SOL, qty=D("20"), now_ms=at(23), mark_price=None, equity=D("100000"), wallet_balance=D("100000"))

    assert code(c, paper) is None


def test_tradable_symbols_when_the_venue_minimum_is_above_the_cap_then_dropped_with_a_line():
    kept, dropped = hard.tradable_symbols(
        {BTC: (D("0.001"), D("100"), D("77000")), ETH: (D("0.001"), D("20"), D("2500"))}, D("50"))

    assert kept == [ETH]
    assert dropped == [f"{BTC}: dropped: the venue minimum order 0.001 × 77000 = 77.00 USDT (MIN_NOTIONAL 100) "
                       "is above the 50 USDT position cap"]


# ------------------------------------------------------------------------------------- property

intents = st.lists(
    st.tuples(
        st.sampled_from([BTC, ETH]),
        st.sampled_from([Side.LONG, Side.SHORT]),
        st.decimals("0.0001", "2", places=4),  # qty
        st.decimals("10", "200", places=2),  # price
        st.booleans(),  # reduce-only
        st.sampled_from([TradingState.ACTIVE, TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED]),
        st.integers(1, 1000),  # leverage asked
    ),
    max_size=40,
)


@hsettings(max_examples=300, deadline=None)
@given(intents)
def test_check_order_when_any_sequence_of_intents_prices_and_fills_then_no_live_position_passes_50_usdt_or_1x(seq):
    book: dict[str, D] = {}  # signed qty per symbol, filled at the order's price
    marks: dict[str, D] = {}
    now = NOON
    for symbol, side, qty, price, reduce_only, state, leverage in seq:
        now += 61_000
        marks[symbol] = price
        positions = tuple(
            Position(s, Side.LONG if q > 0 else Side.SHORT, abs(q), marks[s], leverage=1, mark_price=marks[s])
            for s, q in book.items() if q != 0
        )
        margin = sum((p.notional for p in positions), D(0))
        c = entry(symbol=symbol, side=side, qty=qty, price=price, mark_price=price, reduce_only=reduce_only,
                  trading_state=state, leverage=leverage, positions=positions, margin_used=margin, now_ms=now,
                  stop_price=price * D("0.99") if side is Side.LONG else price * D("1.01"))
        if check_order(c, LIVE) is not None:
            continue
        if state is TradingState.HALTED:
            assert reduce_only, "only reduce-only orders are accepted while HALTED"
        assert leverage <= 1 or reduce_only or _reduces(book.get(symbol, D(0)), side, qty)
        before = book.get(symbol, D(0))
        after = before + side.sign * qty
        if reduce_only:  # the venue never lets a reduce-only order flip or grow a position
            after = before + side.sign * min(qty, abs(before)) if before * side.sign < 0 else before
        book[symbol] = after
        if not _reduces(before, side, qty) and not reduce_only:
            assert abs(after) * price <= D(50), f"{symbol} position {abs(after) * price} USDT after an accepted order"


def _reduces(before: D, side: Side, qty: D) -> bool:
    return before * side.sign < 0 and qty <= abs(before)
