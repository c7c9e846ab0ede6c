"""The validation checklists of the product plan, ticked from the records, never by hand.

Paper: at least 5 trades, all closed cleanly, running without a crash, the win rate, average win above
average loss. Ghost: at least 100 signals in 24 hours, accuracy above 55 %, average win above average
loss. Pure functions: records in, checks out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from models import ExitReason, Trade
from state import BotStatus
from ui.status import format_age, format_money, format_ts, parse_int
from ui.summaries import HorizonAccuracy, is_outcome

PAPER_MIN_TRADES = 5
PAPER_MIN_WIN_RATE = Decimal("0.5")
GHOST_MIN_SIGNALS_24H = 100
GHOST_MIN_ACCURACY = 0.55
DAY_MS = 24 * 3600 * 1000
# Closes the bot did not choose: the venue liquidated it, or it vanished from the venue unnoticed
UNCLEAN_EXITS = frozenset({ExitReason.LIQUIDATION, ExitReason.RECONCILED})


@dataclass(frozen=True, slots=True)
class Check:
    label: str
    passed: bool
    detail: str


def _averages(trades: Sequence[Trade]) -> tuple[Decimal | None, Decimal | None]:
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl <= 0]
    avg_win = sum(wins, Decimal(0)) / len(wins) if wins else None
    avg_loss = sum(losses, Decimal(0)) / len(losses) if losses else None
    return avg_win, avg_loss


def _win_vs_loss(trades: Sequence[Trade]) -> Check:
    avg_win, avg_loss = _averages(trades)
    label = "Average win above average loss"
    if avg_win is None:
        return Check(label, False, "no winning trade yet")
    if avg_loss is None:
        return Check(label, True, f"average win {format_money(avg_win)} USDT, no losing trade")
    return Check(label, avg_win > -avg_loss,
                 f"average win {format_money(avg_win)} USDT, average loss {format_money(-avg_loss)} USDT")


def paper_checklist(trades: Sequence[Trade], state: Mapping[str, str], status: BotStatus, now_ms: int) -> list[Check]:
    """`trades` are the paper trades; `state` the bot's state hash (started_at_ms, last_crash_ms)."""
    n = len(trades)
    unclean = [t for t in trades if t.exit_reason in UNCLEAN_EXITS]
    wins = sum(1 for t in trades if t.pnl > 0)
    started = parse_int(state.get("started_at_ms")) or 0
    crashed = parse_int(state.get("last_crash_ms")) or 0
    first_trade = min((t.entry_ms for t in trades), default=0)
    since = min(t for t in (first_trade, started) if t) if (first_trade or started) else 0
    crash_in_run = crashed > 0 and crashed >= since
    if status is not BotStatus.RUNNING:
        uptime = Check("Running without a crash", False, f"the bot is {status.value}")
    elif crash_in_run:
        uptime = Check("Running without a crash", False, f"crashed at {format_ts(crashed)}, after paper trading began")
    else:
        up = (now_ms - started) / 1000 if started else None
        uptime = Check("Running without a crash", True, f"up {format_age(up)}, no crash recorded")
    win_rate = Decimal(wins) / n if n else None
    return [
        Check(f"At least {PAPER_MIN_TRADES} trades", n >= PAPER_MIN_TRADES, f"{n} completed"),
        Check("All closed cleanly", n > 0 and not unclean,
              "no trade yet" if n == 0 else (f"{len(unclean)} closed by {', '.join(sorted({t.exit_reason.value for t in unclean}))}"
                                             if unclean else "every exit chosen by the bot")),
        uptime,
        Check(f"Win rate at least {PAPER_MIN_WIN_RATE * 100:.0f} %", win_rate is not None and win_rate >= PAPER_MIN_WIN_RATE,
              "no trade yet" if win_rate is None else f"{win_rate * 100:.1f} % ({wins} of {n})"),
        _win_vs_loss(trades),
    ]


def signals_in_window(records: Iterable[Mapping[str, str]], window_ms: int = DAY_MS) -> tuple[int, int]:
    """(signals in the `window_ms` up to the newest signal, newest signal's time): market time, so a
    replay is judged on its own clock."""
    times = [parse_int(r.get("ts_ms")) or 0 for r in records if not is_outcome(r)]
    if not times:
        return 0, 0
    newest = max(times)
    return sum(1 for t in times if t > newest - window_ms), newest


def ghost_checklist(records: Sequence[Mapping[str, str]], accuracy: Sequence[HorizonAccuracy],
                    ghost_trades: Sequence[Trade]) -> list[Check]:
    """Accuracy is judged at the longest horizon scored (the one a trade would mostly live through)."""
    count, _ = signals_in_window(records)
    scored = [a for a in accuracy if a.accuracy is not None]
    if scored:
        longest = scored[-1]
        acc = longest.accuracy or 0.0
        accuracy_check = Check(f"Accuracy above {GHOST_MIN_ACCURACY * 100:.0f} %", acc > GHOST_MIN_ACCURACY,
                               f"{acc * 100:.1f} % at {longest.horizon} ({longest.correct} of {longest.scored})")
    else:
        accuracy_check = Check(f"Accuracy above {GHOST_MIN_ACCURACY * 100:.0f} %", False, "no signal scored yet")
    return [
        Check(f"At least {GHOST_MIN_SIGNALS_24H} signals in 24 h", count >= GHOST_MIN_SIGNALS_24H,
              f"{count} in the 24 h up to the newest signal"),
        accuracy_check,
        _win_vs_loss(ghost_trades),
    ]
