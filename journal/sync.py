"""Copies the Redis streams into the journal, in batches, off the trading loop — and raises the alerts.

The supervisor runs one `JournalSync` thread. Each pass reads every journaled stream after the journal's
cursor (1000 entries a read) and writes them with their alerts in one transaction per batch; at start-up
the first pass is the catch-up, so whatever Redis acknowledged while no sync ran (the supervisor was down,
the bot ran alone) reaches the journal. Redis trouble is waited out: the cursor stays where it was.

Alerts come from records as they are copied (alerts.events), except for records older than
`alerts.max_age_seconds` (a catch-up over yesterday's audit must not page anyone), plus a daily summary
of the previous UTC day's trades once that day is over.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any, Mapping

from alerts.events import DEFAULT_DELIVERY, AlertKind, Delivery, alert_for
from clock import Clock
from errors import StateStoreError
from journal.polling import PollingThread
from journal.store import Journal, PendingAlert, Record
from models import Book

log = logging.getLogger("journal")

BATCH = 1000
DAY_MS = 86_400_000


def _record(stream: str, entry_id: str, fields: Mapping[str, str], mode: str) -> Record:
    entry_ms = int(entry_id.split("-", 1)[0])
    if stream == "trades":
        trade_mode = fields.get("mode") or mode
        try:
            book = Book.of(trade_mode, fields.get("venue") or "").key
        except ValueError:
            book = ""
        return Record(stream, fields.get("trade_id") or entry_id, entry_id, int(fields.get("exit_ms") or entry_ms),
                      "trade", trade_mode, fields.get("symbol", ""), dict(fields), book)
    if stream == "audit":
        try:
            data = json.loads(fields.get("data") or "{}")
        except ValueError:
            data = {"unreadable": fields.get("data")}
        parsed = dict(fields) | {"data": data}
        symbol = data.get("symbol", "") if isinstance(data, dict) else ""
        # a fill read again after a crash is audited again: keyed by the fill, it stays one row
        # and a gap found again after a restart (the back-fill sees the same hole) is one row and one alert
        key = (f"fill:{data['fill_key']}" if isinstance(data, dict) and data.get("fill_key")
               else f"gap:{data['gap_key']}" if isinstance(data, dict) and data.get("gap_key") else entry_id)
        return Record(stream, key, entry_id, int(fields.get("ts_ms") or entry_ms), fields.get("kind") or "audit",
                      mode, str(symbol or ""), parsed)
    if stream == "signals":
        kind = "signal_outcome" if any(k.startswith("correct_") for k in fields) else "signal"
        return Record(stream, entry_id, entry_id, int(fields.get("ts_ms") or entry_ms), kind, fields.get("mode") or mode,
                      fields.get("symbol", ""), dict(fields))
    return Record(stream, entry_id, entry_id, int(fields.get("ts_ms") or entry_ms), "command_result", mode, "", dict(fields))


class JournalSync(PollingThread):
    thread_name = "journal-sync"

    def __init__(self, store: Any, journal: Journal, clock: Clock, *, bot_id: str, default_mode: str,
                 delivery: Mapping[AlertKind, Delivery] | None = None, max_age_seconds: float = 600.0,
                 poll_seconds: float = 1.0, daily_summary: bool = True):
        super().__init__(poll_seconds, log)
        self.store = store
        self.journal = journal
        self.clock = clock
        self.bot_id = bot_id
        self.default_mode = default_mode
        self.delivery = dict(DEFAULT_DELIVERY) | dict(delivery or {})
        self.max_age_ms = int(max_age_seconds * 1000)
        self.daily_summary = daily_summary
        self.copied = 0

    # ----------------------------------------------------------------------------- thread

    def poll_once(self) -> int:
        return self.sync_once()

    def on_error(self, exc: Exception) -> None:
        if isinstance(exc, StateStoreError):
            self.log.warning("journal: Redis unavailable (%s); the journal catches up when it answers", exc)
        else:
            super().on_error(exc)

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        try:
            self.sync_once()  # what the last seconds wrote
        except StateStoreError:
            pass

    # ------------------------------------------------------------------------------ a pass

    def _mode(self) -> str:
        """The mode records without one of their own are tagged with: the one the supervisor started the
        bot in (it writes that before the bot's first record), else the bot's own."""
        try:
            state = self.store.read_state()
            return state.get("supervised_mode") or state.get("mode") or self.default_mode
        except StateStoreError:
            return self.default_mode

    def sync_once(self) -> int:
        """One pass over every journaled stream; the number of new records."""
        from state import JOURNALED_STREAMS

        mode = self._mode()
        new = 0
        for stream in JOURNALED_STREAMS:
            cursor = self.journal.cursor(stream)
            while True:
                entries = self.store.read_stream_after(stream, cursor, BATCH)
                if not entries:
                    break
                records = [_record(stream, e.entry_id, e.fields, mode) for e in entries]
                cursor = entries[-1].entry_id
                new += self.journal.append(stream, records, cursor, self._alerts(records, mode))
                if len(entries) < BATCH:
                    break
        if self.daily_summary:
            self._summarise_yesterday(mode)
        self.copied += new
        return new

    def _alerts(self, records: list[Record], mode: str) -> list[PendingAlert]:
        now = self.clock.now_ms()
        out = []
        for r in records:
            alert = alert_for(r.stream, r.fields, bot_id=self.bot_id, mode=r.mode or mode)
            if alert is None:
                continue
            delivery = self.delivery.get(alert.kind, Delivery.ON)
            # age by Redis's clock at XADD (the entry id): a replay's records carry market time
            if delivery is Delivery.OFF or now - int(r.entry_id.split("-", 1)[0]) > self.max_age_ms:
                continue
            pending = PendingAlert(f"{r.stream}:{r.record_key}", alert.kind.value, r.ts_ms, alert.title, alert.body, 0)
            if delivery is Delivery.SILENT:
                self.journal.add_alert(pending, status="silent")
            else:
                out.append(pending)
        return out

    def _summarise_yesterday(self, mode: str) -> None:
        """Once the UTC day is over: its trades, P&L and win rate, as one alert."""
        if self.delivery.get(AlertKind.DAILY_SUMMARY) is Delivery.OFF:
            return
        now = self.clock.now_ms()
        day_start = now - now % DAY_MS - DAY_MS
        day = dt.datetime.fromtimestamp(day_start / 1000, dt.timezone.utc).date().isoformat()
        if self.journal.meta("daily_summary_done") == day:
            return
        since = self.journal.meta("since_ms")
        if since is None:
            self.journal.set_meta("since_ms", str(now))
            since = str(now)
        if int(since) >= day_start + DAY_MS:
            return  # the journal did not exist during that day: nothing to summarise
        trades = self.journal.records(kinds=["trade"], from_ms=day_start, to_ms=day_start + DAY_MS)
        pnl = sum((Decimal(t.fields.get("pnl") or "0") for t in trades), Decimal("0"))
        fees = sum((Decimal(t.fields.get("fees") or "0") for t in trades), Decimal("0"))
        wins = sum(1 for t in trades if Decimal(t.fields.get("pnl") or "0") > 0)
        rate = f"{wins / len(trades) * 100:.0f} %" if trades else "n/a"
        body = (f"{day} (UTC): {len(trades)} trade(s), net P&L {pnl:,.2f} USDT (fees {fees:,.2f} USDT), "
                f"win rate {rate}")
        title = f"[{self.bot_id} {mode}] daily summary: {day}"
        alert = PendingAlert(f"daily_summary:{day}", AlertKind.DAILY_SUMMARY.value, now, title, body, 0)
        silent = self.delivery.get(AlertKind.DAILY_SUMMARY) is Delivery.SILENT
        self.journal.add_alert(alert, status="silent" if silent else "pending")
        self.journal.set_meta("daily_summary_done", day)
