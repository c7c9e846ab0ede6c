"""Turning several strategies' opinions into at most one entry per symbol.

Two rules, both recorded as Denials so the dashboard can show why a signal did not trade:
- a signal weaker than `min_confidence` is dropped ("low_confidence"); 0 keeps every signal;
- when the confident signals for one symbol point in different directions, the strategies disagree and
  none of them trades ("conflicting_signals") — doing nothing is the honest answer to a split vote.
When several strategies agree, the strongest signal is kept and its reason names the others, so the
engine never opens the same position twice for one candle.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from models import Denial, Signal


def aggregate(signals: Sequence[Signal], min_confidence: float) -> tuple[list[Signal], list[Denial]]:
    """Kept signals (one per symbol, in first-seen symbol order) and the denials for the rest."""
    denials: list[Denial] = []
    by_symbol: dict[str, list[Signal]] = {}
    for s in signals:
        if s.strength < min_confidence:
            denials.append(
                Denial(
                    "low_confidence",
                    f"{s.symbol} {s.side.value} from {s.strategy}: strength {s.strength:.2f} "
                    f"< min_confidence {min_confidence:.2f}",
                )
            )
            continue
        by_symbol.setdefault(s.symbol, []).append(s)

    kept: list[Signal] = []
    for symbol, group in by_symbol.items():
        sides = {s.side for s in group}
        if len(sides) > 1:
            votes = ", ".join(f"{s.strategy} {s.side.value} ({s.strength:.2f})" for s in group)
            denials.append(Denial("conflicting_signals", f"{symbol}: strategies disagree: {votes}"))
            continue
        best = max(group, key=lambda s: s.strength)
        others = [s.strategy for s in group if s is not best]
        if others:
            best = dataclasses.replace(best, reason=f"{best.reason}; confirmed by {', '.join(others)}")
        kept.append(best)
    return kept, denials
