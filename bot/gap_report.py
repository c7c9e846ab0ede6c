"""Gaps in the market data, reported where a trader looks: the `gaps` stream, the decision log and the
state hash (`data_gaps`, `last_gap`: `main.py status` and the dashboard's banner).

The sources already find every run of missing candles (marketdata.gaps.GapLog) but kept them to
themselves, so two real exchange outages went unseen; indicators and ghost returns across such a hole
are not what they seem, and the trader must know when it was.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from marketdata.gaps import Gap
from stores import EngineStore


def describe_gap(gap: Mapping[str, Any]) -> str:
    hole = Gap(int(gap["from_ms"]), int(gap["to_ms"]), int(gap["missing"]))
    return f"{gap['symbol']}: market data gap, {hole}"


class GapReporter:
    """Reports each gap of one source once per process; a gap not written (Redis down) is retried."""

    def __init__(self, store: EngineStore, source: str, audit: Callable[..., None]):
        self.store = store
        self.source = source
        self.audit = audit
        self._reported = 0

    def report(self, gaps: Sequence[Mapping[str, Any]]) -> list[str]:
        """The gaps the source found since the last call (`gaps` is all of them so far); their texts."""
        texts = []
        for gap in gaps[self._reported:]:
            text = describe_gap(gap)
            self.store.record_gap({**gap, "source": self.source, "text": text})
            self.audit("gap", text, symbol=gap["symbol"], from_ms=gap["from_ms"], to_ms=gap["to_ms"],
                       missing=gap["missing"], level="warning",
                       alert="data_gap", gap_key=f"{gap['symbol']}:{gap['from_ms']}:{gap['to_ms']}")  # indicators and ghost returns across the hole are not what they seem
            self.store.write_state(last_gap=text)
            self._reported += 1  # each one as it is written: an outage half-way retries only the rest
            texts.append(text)
        return texts
