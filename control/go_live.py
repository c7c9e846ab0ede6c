"""The go-live gate: live trading starts only when every condition of the seed protocol is met.

`evaluate` is pure: it takes the evidence (`Evidence`) and the thresholds (the `live:` section, which may
only ask for more than the seed) and answers every condition with its figure, met or not. `gather` reads
the evidence from a bot's store; `bot --mode live` and `start --mode live` refuse with the unmet lines,
even when the venue cannot be reached (a venue that cannot be checked is one more unmet line).

Conditions:
- keys: BINANCE_API_KEY and BINANCE_API_SECRET are set (only whether they are; never their text);
- venue: the venue's start-up checks passed (on mainnet: no withdrawal permission, IP restricted);
- paper: at least 5 closed paper trades, all closed cleanly (no liquidation, none found closed by the
  venue behind the bot's back); win rate and average win vs loss shown;
- ghost: at least 100 scored signals, accuracy above 55 % at the longest horizon, average win above
  average loss;
- approval: the operator typed the acknowledgement (`approval_text`), stored with time and figures; it
  holds only while no limit in force is looser than the figure approved (tightening keeps it; raising a
  limit back up asks for a new approval). Every `live:` limit is approved, each tightening its own way
  (`APPROVED_LIMITS`): a maximum down, a minimum up, the symbols to fewer, the blackout hours to more.

The staged protocol (first trade then 30 minutes of watching; after 3 successful trades; after a
profitable week) is tracked as stages and shown; no stage raises a hard limit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping, Sequence

from models import AuditEvent, ExitReason, Mode, Trade

SEED_MIN_PAPER_TRADES = 5
SEED_MIN_GHOST_SIGNALS = 100
SEED_MIN_GHOST_ACCURACY_PCT = Decimal("55")
WATCH_AFTER_FIRST_TRADE_MS = 30 * 60_000
KEY_VARIABLES = ("BINANCE_API_KEY", "BINANCE_API_SECRET")
UNCLEAN_EXITS = frozenset({ExitReason.LIQUIDATION, ExitReason.RECONCILED})

REVIEW_TEXT = "I have reviewed this week's losses"
VENUE_NOT_RUN = "venue checks"  # the condition standing for venue checks no live start has asked for yet


def approval_text(max_position_usdt: Decimal, max_daily_loss_usdt: Decimal) -> str:
    """What the operator types before real money moves: the limits in force and where the kill switch is."""
    return (
        f"I accept a {max_position_usdt:f} USDT maximum position and a {max_daily_loss_usdt:f} USDT daily loss limit; "
        "the kill switch is KILL SWITCH in the dashboard sidebar and main.py close-all"
    )

_SEED = {
    "min_paper_trades": ("SEED_MIN_PAPER_TRADES", SEED_MIN_PAPER_TRADES),
    "min_ghost_signals": ("SEED_MIN_GHOST_SIGNALS", SEED_MIN_GHOST_SIGNALS),
    "min_ghost_accuracy_pct": ("SEED_MIN_GHOST_ACCURACY_PCT", SEED_MIN_GHOST_ACCURACY_PCT),
}


def looser_than_seed(values: Mapping[str, Any]) -> list[str]:
    """The go-live thresholds in `values` that ask for less evidence than the seed protocol."""
    return [
        f"live.{name} = {values[name]} is below the seed protocol's {constant} = {seed}; config may only raise it"
        for name, (constant, seed) in _SEED.items()
        if name in values and values[name] < seed
    ]


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    met: bool
    figure: str


@dataclass(frozen=True, slots=True)
class Evidence:
    keys_present: bool
    venue_checks: Sequence[Condition] | None  # None: the venue could not be checked (why in venue_note)
    venue_note: str
    paper_trades: Sequence[Trade]
    ghost_outcomes: Sequence[Mapping[str, str]]  # the scorer's outcome records
    ghost_horizon: str  # e.g. "60m": the longest horizon, the one judged
    approval: Mapping[str, Any] | None  # the stored approval (text, by, ts_ms, figures)
    live_trades: Sequence[Trade] = field(default_factory=tuple)


class Tighter:
    """Which way a limit tightens: what an approval of one figure also approves."""
    LOWER = "lower"  # a maximum: any smaller value in force is approved too
    HIGHER = "higher"  # a minimum (a balance floor, a spacing): any larger value is approved too
    FEWER = "fewer"  # a set one may trade in (symbols): any subset is approved
    MORE = "more"  # a set one may not trade in (blackout hours): any superset is approved


# Every `live:` limit an approval is given for, and which way it tightens. A limit left out here could be
# loosened under an approval given for a tighter one; tests/unit/test_go_live.py checks every limit of
# LiveSettings is here (the go-live evidence thresholds are checked by the gate itself, not approved).
LIVE_LIMITS: Mapping[str, str] = {
    "max_position_usdt": Tighter.LOWER,
    "max_daily_loss_usdt": Tighter.LOWER,
    "max_weekly_loss_usdt": Tighter.LOWER,
    "max_loss_per_trade_usdt": Tighter.LOWER,
    "max_leverage": Tighter.LOWER,
    "max_margin_use_pct": Tighter.LOWER,
    "liquidation_alert_pct": Tighter.LOWER,  # alerting at a higher share of the way to liquidation is later
    "liquidation_close_pct": Tighter.LOWER,
    "max_positions": Tighter.LOWER,
    "max_orders_per_minute": Tighter.LOWER,
    "max_trades_per_day": Tighter.LOWER,
    "price_band_pct": Tighter.LOWER,
    "max_price_age_seconds": Tighter.LOWER,
    "min_entry_spacing_seconds": Tighter.HIGHER,
    "min_balance_usdt": Tighter.HIGHER,
    "symbols": Tighter.FEWER,
    "blackout_hours_utc": Tighter.MORE,
}

# The `risk:` figures live trades under too (risk/limits.effective_limits: each the tighter of `risk:` and the
# hard limit), approved as "in_live.<field>": raising `risk.max_position_pct` under the hard limit loosens
# live trading as much as a `live:` limit does. The test checks every RiskLimits field not taken from `live:`.
IN_LIVE = "in_live."
RISK_IN_LIVE: Mapping[str, str] = {
    "max_open_positions": Tighter.LOWER,
    "max_position_pct": Tighter.LOWER,
    "max_total_exposure_pct": Tighter.LOWER,
    "max_margin_use_pct": Tighter.LOWER,
    "daily_loss_limit_pct": Tighter.LOWER,
    "weekly_loss_limit_pct": Tighter.LOWER,
    "min_liquidation_distance_pct": Tighter.HIGHER,
    "leverage": Tighter.LOWER,  # the leverage traded at (`venue.leverage`, capped)
}
APPROVED_LIMITS: Mapping[str, str] = {**LIVE_LIMITS, **{IN_LIVE + name: way for name, way in RISK_IN_LIVE.items()}}
_SETS = (Tighter.FEWER, Tighter.MORE)


def limits_in_force(settings: Any) -> dict[str, Any]:
    """Every figure live trading runs under with these settings, by its approval name."""
    from risk.limits import effective_limits

    live = settings.live
    in_live = effective_limits(settings.risk, settings.venue.leverage, Mode.LIVE, live)
    return {**{name: getattr(live, name) for name in LIVE_LIMITS},
            **{IN_LIVE + name: getattr(in_live, name) for name in RISK_IN_LIVE}}


def _figure(value: Any) -> Any:
    """A limit as an approval records it: sets as their members joined by commas, in order."""
    if isinstance(value, (tuple, list, set, frozenset)):
        return ",".join(sorted(str(v) for v in value))
    return value


def approval_figures(settings: Any) -> dict[str, Any]:
    """What an approval records beside its text: every limit live trades under (`limits_in_force`) and where
    the kill switch is."""
    return {**{name: _figure(value) for name, value in limits_in_force(settings).items()},
            "kill_switch": "dashboard sidebar KILL SWITCH; main.py close-all"}


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_paper_trades: int = SEED_MIN_PAPER_TRADES
    min_ghost_signals: int = SEED_MIN_GHOST_SIGNALS
    min_ghost_accuracy_pct: Decimal = SEED_MIN_GHOST_ACCURACY_PCT
    limits: Mapping[str, Any] = field(default_factory=dict)  # APPROVED_LIMITS in force; empty: not compared

    @classmethod
    def from_settings(cls, settings: Any) -> "Thresholds":
        live = settings.live
        return cls(live.min_paper_trades, live.min_ghost_signals, live.min_ghost_accuracy_pct,
                   limits_in_force(settings))


@dataclass(frozen=True, slots=True)
class GateResult:
    conditions: tuple[Condition, ...]

    @property
    def passed(self) -> bool:
        return all(c.met for c in self.conditions)

    @property
    def unmet(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if not c.met)

    @property
    def could_pass(self) -> bool:
        """Whether a live start could pass: every condition met but the venue's checks, when no live start
        has asked the venue yet (a live start asks it first, and is refused if they fail)."""
        return all(c.met or c.name == VENUE_NOT_RUN for c in self.conditions)

    def refusal(self) -> str:
        lines = [f"live trading refused: {len(self.unmet)} of {len(self.conditions)} go-live conditions unmet"]
        lines += [f"  - {c.name}: {c.figure}" for c in self.unmet]
        return "\n".join(lines)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _averages(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    """Average win and average loss (as a positive number); 0 where there is none."""
    wins = [v for v in values if v > 0]
    losses = [-v for v in values if v < 0]
    avg_win = sum(wins, Decimal(0)) / len(wins) if wins else Decimal(0)
    avg_loss = sum(losses, Decimal(0)) / len(losses) if losses else Decimal(0)
    return avg_win, avg_loss


def paper_condition(trades: Sequence[Trade], minimum: int) -> Condition:
    closed = [t for t in trades if t.mode is Mode.PAPER]
    unclean = [t for t in closed if t.exit_reason in UNCLEAN_EXITS]
    pnls = [t.pnl for t in closed]
    avg_win, avg_loss = _averages(pnls)
    wins = sum(1 for p in pnls if p > 0)
    rate = Decimal(wins * 100) / len(closed) if closed else Decimal(0)
    figure = (
        f"{len(closed)} closed paper trades (need ≥ {minimum}), {len(unclean)} not closed cleanly"
        f"{' (' + ', '.join(sorted({t.exit_reason.value for t in unclean})) + ')' if unclean else ''}; "
        f"win rate {rate:.1f} %, average win {_money(avg_win)} vs average loss {_money(avg_loss)} USDT"
    )
    return Condition("paper validated", len(closed) >= minimum and not unclean, figure)


def ghost_condition(outcomes: Sequence[Mapping[str, str]], horizon: str, t: Thresholds) -> Condition:
    returns = [Decimal(o[f"ret_{horizon}"]) for o in outcomes if o.get(f"ret_{horizon}")]
    right = sum(1 for r in returns if r > 0)
    accuracy = Decimal(right * 100) / len(returns) if returns else Decimal(0)
    avg_win, avg_loss = _averages(returns)
    met = len(returns) >= t.min_ghost_signals and accuracy > t.min_ghost_accuracy_pct and avg_win > avg_loss
    figure = (
        f"{len(returns)} scored signals (need ≥ {t.min_ghost_signals}), accuracy at {horizon} {accuracy:.1f} % "
        f"(need > {t.min_ghost_accuracy_pct} %), average win {avg_win:.4f} % vs average loss {avg_loss:.4f} % "
        "(need win > loss)"
    )
    return Condition("ghost validated", met, figure)


def evaluate(evidence: Evidence, thresholds: Thresholds) -> GateResult:
    conditions = [
        Condition(
            "API keys",
            evidence.keys_present,
            "BINANCE_API_KEY and BINANCE_API_SECRET are set" if evidence.keys_present
            else "BINANCE_API_KEY and BINANCE_API_SECRET must both be set in the environment",
        )
    ]
    if evidence.venue_checks is None:
        conditions.append(Condition(VENUE_NOT_RUN, False, f"not run: {evidence.venue_note}"))
    else:
        conditions.extend(evidence.venue_checks)
    conditions.append(paper_condition(evidence.paper_trades, thresholds.min_paper_trades))
    conditions.append(ghost_condition(evidence.ghost_outcomes, evidence.ghost_horizon, thresholds))
    conditions.append(approval_condition(evidence.approval, thresholds.limits))
    return GateResult(tuple(conditions))


def approval_condition(approval: Mapping[str, Any] | None, in_force: Mapping[str, Any]) -> Condition:
    """Met when an approval is recorded and no limit in force is looser than the figure it approved (a
    figure it does not name, or cannot be read, counts as looser: approve again)."""
    if approval is None:
        return Condition("approval", False, "not recorded: run `main.py approve-live` and type the acknowledgement it shows")
    recorded = f"recorded by {approval.get('by')} at ts_ms {approval.get('ts_ms')}"
    missing = [name for name in in_force if approval.get(name) is None]
    looser = [line for name, value in in_force.items()
              if name not in missing and (line := _looser(name, value, approval.get(name))) is not None]
    parts = []
    if looser:
        parts.append("for tighter limits than those in force now (" + "; ".join(looser) + ")")
    if missing:  # an approval from before these limits were approved (an older version), or hand-edited
        shown = "; ".join(f"{name} {_figure(in_force[name])}" for name in missing)
        parts.append(f"without {len(missing)} limit(s) in force now ({shown}; not in the approval)")
    if parts:
        return Condition("approval", False, f"{recorded} " + " and ".join(parts) + ": run `main.py approve-live` again")
    return Condition("approval", True, recorded)


def _hour(text: str) -> str:
    """An hour as an approval compares it: "01", " 1" and "1" are one hour."""
    return str(int(text.strip()))


def _looser(name: str, value: Any, approved: Any) -> str | None:
    """Why `value` in force is looser than the figure approved for `name`, or None when it is not."""
    tighter = APPROVED_LIMITS.get(name, Tighter.LOWER)
    if approved is None:
        return f"{name} {_figure(value)} (not in the approval)"
    if tighter in _SETS:
        member = _hour if name == "blackout_hours_utc" else str.strip
        try:
            now = {member(str(v)) for v in value}
            was = {member(m) for m in str(approved).split(",") if m.strip()}
        except ValueError:
            return f"{name} {_figure(value)} (the approval's {approved!r} cannot be read)"
        extra = sorted(now - was) if tighter == Tighter.FEWER else sorted(was - now)
        if not extra:
            return None
        return (f"{name} adds {', '.join(extra)} (approved: {approved or 'none'})" if tighter == Tighter.FEWER
                else f"{name} drops {', '.join(extra)} (approved: {approved})")
    try:
        figure = Decimal(str(approved))
    except (ArithmeticError, ValueError):
        return f"{name} {value} (the approval's {approved!r} is not a number)"
    if not figure.is_finite():  # NaN or Infinity approves nothing
        return f"{name} {value} > {approved} approved"
    if tighter == Tighter.LOWER and Decimal(str(value)) > figure:
        return f"{name} {value} > {approved} approved"
    if tighter == Tighter.HIGHER and Decimal(str(value)) < figure:
        return f"{name} {value} < {approved} approved"
    return None


# ---------------------------------------------------------------------------------- staged protocol


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    reached: bool
    detail: str


def stages(live_trades: Sequence[Trade], now_ms: int) -> tuple[Stage, ...]:
    """Where the seed's staged protocol stands. Shown, never a reason to raise a limit."""
    trades = sorted(live_trades, key=lambda t: t.exit_ms)
    first = trades[0] if trades else None
    watched = first is not None and now_ms - first.exit_ms >= WATCH_AFTER_FIRST_TRADE_MS
    good = [t for t in trades if t.pnl > 0 and t.exit_reason not in UNCLEAN_EXITS]
    week_ms = 7 * 86_400_000
    recent = [t for t in trades if t.exit_ms >= now_ms - week_ms]
    week_pnl = sum((t.pnl for t in recent), Decimal(0))
    profitable_week = first is not None and now_ms - first.entry_ms >= week_ms and week_pnl > 0
    return (
        Stage("first live trade", first is not None, "none yet" if first is None else f"closed, P&L {_money(first.pnl)} USDT"),
        Stage("30 minutes watched after it", watched,
              "waiting for the first trade" if first is None else ("done" if watched else "watching")),
        Stage("3 successful trades", len(good) >= 3, f"{len(good)} of 3"),
        Stage("a profitable week", profitable_week, f"last 7 days P&L {_money(week_pnl)} USDT"),
    )


# -------------------------------------------------------------------------------------- recording


def approval_record(text: str, by: str, ts_ms: int, figures: Mapping[str, Any]) -> dict[str, str]:
    return {"text": text, "by": by, "ts_ms": str(ts_ms), **{k: str(v) for k, v in figures.items()}}


def approval_event(record: Mapping[str, str]) -> AuditEvent:
    return AuditEvent("approval", int(record["ts_ms"]), f"go-live approval recorded by {record['by']}: {record['text']}",
                      {**record, "alert": "go_live_approval"})  # alerts/events.py sends it


def check_typed(typed: str, expected: str) -> None:
    """An acknowledgement must be typed exactly (spaces at its ends aside): ValueError names the text."""
    if typed.strip() != expected:
        raise ValueError(f"the acknowledgement does not match; type exactly: {expected}")


def keys_present(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return all(env.get(name, "").strip() for name in KEY_VARIABLES)


def read_approval(state: Mapping[str, str]) -> dict[str, Any] | None:
    raw = state.get("go_live_approval")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def gather(store: Any, settings: Any, *, venue_checks: Sequence[Condition] | None, venue_note: str) -> Evidence:
    """The evidence as the bot's store holds it (raises StateStoreError when Redis cannot be read)."""
    trades = store.read_trades(count=10_000)
    outcomes = [r for r in store.read_signals(count=100_000) if r.get("kind") == "outcome"]
    horizon = f"{max(settings.ghost.horizons_minutes)}m"
    return Evidence(
        keys_present=keys_present(),
        venue_checks=venue_checks,
        venue_note=venue_note,
        paper_trades=[t for t in trades if t.mode is Mode.PAPER],
        ghost_outcomes=outcomes,
        ghost_horizon=horizon,
        approval=read_approval(store.read_state()),
        live_trades=[t for t in trades if t.mode is Mode.LIVE],
    )


def venue_conditions(restrictions: Mapping[str, Any]) -> tuple[Condition, ...]:
    """The mainnet key's checks from Binance's GET /sapi/v1/account/apiRestrictions answer: a key that may
    withdraw, or that works from any IP address, is not a key to trade real money with."""
    withdrawals = bool(restrictions.get("enableWithdrawals", True))
    ip_restricted = bool(restrictions.get("ipRestrict", False))
    futures = bool(restrictions.get("enableFutures", False))
    return (
        Condition("no withdrawal permission", not withdrawals,
                  "the key cannot withdraw" if not withdrawals else "the key may withdraw: remove the permission"),
        Condition("IP restricted", ip_restricted,
                  "the key works only from listed IP addresses" if ip_restricted else "the key works from any IP address"),
        Condition("futures enabled", futures, "USDⓈ-M futures allowed" if futures else "the key may not trade futures"),
    )


def ask_venue(settings: Any, environ: Mapping[str, str] | None = None) -> tuple[tuple[Condition, ...] | None, str]:
    """The live venue's key checks, asked of the venue itself (GET /sapi/v1/account/apiRestrictions through
    the live venue client, at `venue.binance_url` when set), or None and why it could not be asked — the
    gate then lists the venue checks as unmet, so it also refuses when the venue cannot be reached."""
    from clock import SystemClock
    from errors import TradingBotError

    if not keys_present(environ):
        return None, "no API keys to ask the venue with"
    try:
        from venues.binance import CcxtVenueClient

        v = settings.venue
        client = CcxtVenueClient("binance-live", SystemClock(), environ=environ, base_url=v.binance_url,
                                 timeout_s=v.request_timeout_seconds)
        try:
            return venue_conditions(client.key_restrictions()), ""
        finally:
            client.close()
    except TradingBotError as exc:
        return None, f"the live venue could not be asked: {exc}"


def check_with_venue(store: Any, settings: Any, environ: Mapping[str, str] | None = None) -> GateResult:
    """The whole gate, the venue asked first: what `bot --mode live` and a live start go by. The venue's
    answer is kept in the state hash (`venue_checks`), so the dashboard shows it without asking itself."""
    checks, note = ask_venue(settings, environ)
    try:
        store.write_state(venue_checks=json.dumps({
            "checks": [[c.name, c.met, c.figure] for c in checks] if checks is not None else None, "note": note}))
    except Exception:  # an unreadable Redis is one more unmet line of the gate itself
        pass
    return check(store, settings, venue_checks=checks, venue_note=note)


def recorded_venue_checks(state: Mapping[str, str]) -> tuple[tuple[Condition, ...] | None, str]:
    """What the last `check_with_venue` heard from the venue (the dashboard's view of the gate)."""
    try:
        value = json.loads(state.get("venue_checks") or "null")
        checks = value.get("checks")
        note = str(value.get("note") or "")
    except (ValueError, AttributeError):
        return None, "no live start has asked the venue yet"
    if checks is None:
        return None, note or "no live start has asked the venue yet"
    return tuple(Condition(str(n), bool(m), str(f)) for n, m, f in checks), ""


def check(store: Any, settings: Any, venue_checks: Sequence[Condition] | None = None,
          venue_note: str = "") -> GateResult:
    """The gate as `bot --mode live`, `start --mode live` and the dashboard see it. The venue's own start-up
    checks (permissions, IP restriction) belong to the live venue client, which is opened only after the
    gate passes; until one reports them they count as not run, so the gate stays closed."""
    try:
        evidence = gather(store, settings, venue_checks=venue_checks, venue_note=venue_note or
                          "no live venue client has reported its start-up checks (permissions, IP restriction)")
    except Exception as exc:  # Redis unreachable: the evidence is unknown, so the gate is closed
        return GateResult((Condition("evidence", False, f"cannot be read from Redis: {exc}"),
                           Condition("API keys", keys_present(), "set" if keys_present() else "not set")))
    return evaluate(evidence, Thresholds.from_settings(settings))
