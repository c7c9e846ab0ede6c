"""The go-live gate: every condition with its figure, each threshold at its boundary; the staged protocol."""

from __future__ import annotations

from decimal import Decimal

import pytest

from control import go_live
from control.go_live import Condition, Evidence, Thresholds, evaluate
from models import ExitReason, Mode, Side, Trade

D = Decimal
VENUE_OK = (Condition("venue checks", True, "no withdrawal permission; IP restricted"),)
APPROVAL = {"by": "cli", "ts_ms": "1"}


def trade(pnl: str, reason: ExitReason = ExitReason.TAKE_PROFIT, mode: Mode = Mode.PAPER, exit_ms: int = 1000) -> Trade:
    return Trade("t", "BTC/USDT:USDT", Side.LONG, D("0.001"), D("60000"), D("60100"), 0, exit_ms, D(pnl), D(0), D(pnl),
                 reason, mode)


def outcomes(right: int, wrong: int, win: str = "0.5", loss: str = "-0.3") -> list[dict[str, str]]:
    return [{"kind": "outcome", "ret_60m": win}] * right + [{"kind": "outcome", "ret_60m": loss}] * wrong


def evidence(**overrides) -> Evidence:
    base = dict(keys_present=True, venue_checks=VENUE_OK, venue_note="", paper_trades=[trade("2")] * 3 + [trade("-1")] * 2,
                ghost_outcomes=outcomes(56, 44), ghost_horizon="60m", approval=APPROVAL)
    base.update(overrides)
    return Evidence(**base)


def unmet(e: Evidence) -> list[str]:
    return [c.name for c in evaluate(e, Thresholds()).unmet]


def test_evaluate_when_every_condition_is_met_then_the_gate_passes():
    assert evaluate(evidence(), Thresholds()).passed


def test_evaluate_when_nothing_is_there_then_every_condition_is_listed_with_its_figure():
    result = evaluate(evidence(keys_present=False, venue_checks=None, venue_note="venue unreachable", paper_trades=[],
                               ghost_outcomes=[], approval=None), Thresholds())

    assert [c.name for c in result.unmet] == ["API keys", "venue checks", "paper validated", "ghost validated", "approval"]
    text = result.refusal()
    assert text.startswith("live trading refused: 5 of 5 go-live conditions unmet")
    assert "not run: venue unreachable" in text
    assert "0 closed paper trades (need ≥ 5)" in text and "0 scored signals (need ≥ 100)" in text


@pytest.mark.parametrize(("count", "met"), [(4, False), (5, True), (6, True)])
def test_evaluate_when_paper_trades_around_5_then_met_from_5(count, met):
    assert ("paper validated" in unmet(evidence(paper_trades=[trade("1")] * count))) is not met


def test_evaluate_when_a_paper_trade_was_liquidated_then_paper_unmet_and_named():
    result = evaluate(evidence(paper_trades=[trade("1")] * 5 + [trade("-9", ExitReason.LIQUIDATION)]), Thresholds())

    assert [c.name for c in result.unmet] == ["paper validated"]
    assert "1 not closed cleanly (liquidation)" in result.unmet[0].figure


def test_evaluate_when_paper_figures_then_win_rate_and_average_win_vs_loss_shown():
    figure = evaluate(evidence(), Thresholds()).conditions[2].figure

    assert "win rate 60.0 %, average win 2.00 vs average loss 1.00 USDT" in figure


@pytest.mark.parametrize(("right", "wrong", "met"), [(55, 45, False), (56, 44, True), (56, 43, False)])
def test_evaluate_when_ghost_accuracy_around_55_pct_over_100_signals_then_met_above(right, wrong, met):
    # 55 of 100 is not above 55 %; 56 of 100 is; 56 of 99 is above 55 % but under 100 signals
    assert ("ghost validated" in unmet(evidence(ghost_outcomes=outcomes(right, wrong)))) is not met


def test_evaluate_when_the_average_ghost_win_is_not_above_the_average_loss_then_unmet():
    assert unmet(evidence(ghost_outcomes=outcomes(60, 40, win="0.3", loss="-0.3"))) == ["ghost validated"]


def test_evaluate_when_config_asks_for_more_trades_then_the_stricter_threshold():
    result = evaluate(evidence(), Thresholds(min_paper_trades=10))

    assert [c.name for c in result.unmet] == ["paper validated"]


@pytest.mark.parametrize(("typed", "ok"), [("  " + go_live.REVIEW_TEXT + "\n", True), ("I reviewed", False)])
def test_check_typed_when_the_acknowledgement_differs_then_refused_with_the_text(typed, ok):
    if ok:
        go_live.check_typed(typed, go_live.REVIEW_TEXT)
    else:
        with pytest.raises(ValueError, match="type exactly: I have reviewed"):
            go_live.check_typed(typed, go_live.REVIEW_TEXT)


def test_approval_text_when_config_tightened_then_it_names_the_limits_in_force():
    text = go_live.approval_text(D("30"), D("10"))

    assert "30 USDT maximum position" in text and "10 USDT daily loss limit" in text and "KILL SWITCH" in text


@pytest.mark.parametrize(
    ("trades", "now_ms", "reached"),
    [([], 0, [False, False, False, False]),
     ([trade("1", mode=Mode.LIVE, exit_ms=0)], 29 * 60_000, [True, False, False, False]),
     ([trade("1", mode=Mode.LIVE, exit_ms=0)], 30 * 60_000, [True, True, False, False]),
     ([trade("1", mode=Mode.LIVE, exit_ms=i) for i in range(3)], 8 * 86_400_000 - 1, [True, True, True, False]),
     ([trade("1", mode=Mode.LIVE, exit_ms=7 * 86_400_000)], 8 * 86_400_000, [True, True, False, True])],
)
def test_stages_when_live_trades_accumulate_then_the_protocol_advances(trades, now_ms, reached):
    assert [s.reached for s in go_live.stages(trades, now_ms)] == reached


@pytest.mark.parametrize(
    ("restrictions", "unmet_names"),
    [({"enableWithdrawals": False, "ipRestrict": True, "enableFutures": True}, []),
     ({"enableWithdrawals": True, "ipRestrict": True, "enableFutures": True}, ["no withdrawal permission"]),
     ({"enableWithdrawals": False, "ipRestrict": False, "enableFutures": True}, ["IP restricted"]),
     ({}, ["no withdrawal permission", "IP restricted", "futures enabled"])],  # an answer without them fails closed
)
def test_venue_conditions_when_the_key_may_withdraw_or_is_not_ip_restricted_then_unmet(restrictions, unmet_names):
    conditions = go_live.venue_conditions(restrictions)

    assert [c.name for c in conditions if not c.met] == unmet_names
    assert unmet(evidence(venue_checks=conditions)) == unmet_names


@pytest.mark.parametrize(("approved", "in_force", "met"), [
    ("50", "50", True),
    ("50", "40", True),        # tightened since the approval
    ("50", "50.01", False),    # raised again
    ("50.0000", "50", True),
    ("NaN", "50", False),      # a garbled figure approves nothing
    ("sNaN", "50", False),
    ("Infinity", "50", False),
    ("1,000", "50", False),
    ("", "50", False),
])
def test_approval_condition_when_the_figure_approved_is_any_then_met_only_if_no_limit_is_looser(approved, in_force, met):
    from control.go_live import approval_condition

    condition = approval_condition({"by": "cli", "ts_ms": "1", "max_position_usdt": approved},
                                   {"max_position_usdt": Decimal(in_force)})

    assert condition.met is met, condition.figure


def test_approved_limits_when_live_settings_listed_then_every_limit_is_approved_one_way():
    from settings import LiveSettings

    evidence_thresholds = set(go_live._SEED)
    assert set(LiveSettings.model_fields) - evidence_thresholds == set(go_live.LIVE_LIMITS)


def test_approved_limits_when_risk_limits_listed_then_every_one_not_taken_from_live_is_approved():
    import dataclasses

    from risk.limits import RiskLimits

    from_live = {"max_leverage", "max_order_notional", "usdt", "max_price_age_s"}  # live: figures, approved as such
    assert {f.name for f in dataclasses.fields(RiskLimits)} - from_live == set(go_live.RISK_IN_LIVE)


@pytest.mark.parametrize(("field", "approved_under", "then_in_force", "met"), [
    ("max_position_pct", "2", "10", False),  # a fifth of the equity per position more, under the hard limit
    ("max_position_pct", "10", "2", True),
    ("daily_loss_limit_pct", "1", "3", False),
    ("max_total_exposure_pct", "10", "50", False),
    ("max_total_exposure_pct", "10", "10", True),
    ("min_liquidation_distance_pct", "60", "50", False),  # a minimum distance loosens downwards
    ("min_liquidation_distance_pct", "50", "60", True),
])
def test_approval_condition_when_a_risk_percentage_binding_in_live_moves_then_met_only_if_tighter(
        field, approved_under, then_in_force, met):
    from settings import Settings

    before = Settings.model_validate({"risk": {field: approved_under}})
    after = Settings.model_validate({"risk": {field: then_in_force}})
    record = go_live.approval_record("text", "cli", 1, go_live.approval_figures(before))

    condition = go_live.approval_condition(record, Thresholds.from_settings(after).limits)

    assert condition.met is met, condition.figure
    if not met:
        assert f"in_live.{field}" in condition.figure


@pytest.mark.parametrize(("name", "approved", "in_force", "met"), [
    ("max_margin_use_pct", "50", D("50"), True),
    ("max_margin_use_pct", "50", D("50.1"), False),
    ("liquidation_close_pct", "90", D("85"), True),
    ("liquidation_close_pct", "90", D("95"), False),  # closing nearer liquidation is looser
    ("max_positions", "2", 1, True),
    ("max_positions", "1", 2, False),
    ("min_balance_usdt", "50", D("60"), True),         # a minimum tightens upwards
    ("min_balance_usdt", "50", D("50"), True),
    ("min_balance_usdt", "50", D("49.99"), False),
    ("min_entry_spacing_seconds", "60", D("0"), False),
    ("symbols", "BTC/USDT:USDT,ETH/USDT:USDT", ("BTC/USDT:USDT",), True),
    ("symbols", "BTC/USDT:USDT,ETH/USDT:USDT", ("ETH/USDT:USDT", "BTC/USDT:USDT"), True),
    ("symbols", "BTC/USDT:USDT,ETH/USDT:USDT", ("BTC/USDT:USDT", "SOL/USDT:USDT"), False),  # a new symbol
    ("symbols", "", ("BTC/USDT:USDT",), False),
    ("blackout_hours_utc", "0,1,22,23", (22, 23, 0, 1, 2), True),  # one more hour without trading
    ("blackout_hours_utc", "0,1,22,23", (23, 0, 1), False),          # an hour of trading more
    ("blackout_hours_utc", "", (), True),
    ("symbols", "BTC/USDT:USDT, ETH/USDT:USDT", ("BTC/USDT:USDT", "ETH/USDT:USDT"), True),  # hand-edited spaces
    ("symbols", " BTC/USDT:USDT", ("BTC/USDT:USDT",), True),
    ("symbols", "btc/usdt:usdt", ("BTC/USDT:USDT",), False),  # another market name: not approved
    ("blackout_hours_utc", "00,01,22,23", (22, 23, 0, 1), True),
    ("blackout_hours_utc", "0, 1, 22, 23", (22, 23, 0, 1), True),
    ("blackout_hours_utc", "0,1,22,x", (22, 23, 0, 1), False),  # unreadable: approve again
])
def test_approval_condition_when_a_limit_moves_then_met_only_if_it_moved_its_tighter_way(name, approved, in_force,
                                                                                       met):
    from control.go_live import approval_condition

    condition = approval_condition({"by": "cli", "ts_ms": "1", name: approved}, {name: in_force})

    assert condition.met is met, condition.figure
    if not met:
        assert name in condition.figure and "approve-live` again" in condition.figure


def test_approval_condition_when_approved_before_a_limit_was_recorded_then_approve_again():
    from control.go_live import approval_condition
    from settings import Settings

    settings = Settings()
    live = settings.live
    five = {name: str(getattr(live, name)) for name in ("max_position_usdt", "max_daily_loss_usdt",
                                                       "max_weekly_loss_usdt", "max_loss_per_trade_usdt", "max_leverage")}
    condition = approval_condition({"by": "cli", "ts_ms": "1", **five}, Thresholds.from_settings(settings).limits)

    assert not condition.met
    assert "without 20 limit(s) in force now (" in condition.figure, condition.figure
    assert "symbols BTC/USDT:USDT,ETH/USDT:USDT;" in condition.figure and "for tighter limits" not in condition.figure


def test_approval_figures_when_recorded_then_the_same_limits_hold_them():
    import json

    from control.go_live import approval_condition
    from settings import Settings

    settings = Settings()
    record = json.loads(json.dumps(go_live.approval_record("text", "cli", 1, go_live.approval_figures(settings))))

    assert approval_condition(record, Thresholds.from_settings(settings).limits).met
