"""Delivers the journal's pending alerts through apprise, on a thread of its own.

Why a thread that reads the journal's alert table, not a call where the event happens: sending never
blocks or fails the trading loop (it does not even run in the bot process), an alert raised while the
receiver is down waits in the table — across restarts — and goes out when the receiver is back, and
`alert_key` makes each record's alert one row, so it is sent once. A failure is retried with backoff
(`alerts.retry_seconds`, the last step repeating) and logged without the URL; the same alert (kind, title
and text) within `alerts.dedupe_seconds` of one already sent is recorded as suppressed instead of sent.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from clock import Clock
from journal.polling import PollingThread
from journal.store import Journal, PendingAlert

log = logging.getLogger("alerts")

Notify = Callable[[str, str], bool]  # (title, body) -> delivered to every URL


def apprise_notifier(urls: Sequence[str]) -> Notify:
    """A notifier for apprise URLs (json://host/path, tgram://…, mailto://…). apprise logs through the
    "apprise" logger, which may print a URL: it is kept at ERROR and never at DEBUG."""
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    target = apprise.Apprise()
    for url in urls:
        if not target.add(url):
            # the URL itself is the secret (tokens, passwords): name its scheme only
            scheme = url.split("://", 1)[0] if "://" in url else "?"
            raise ValueError(f"alerts: a notification URL of scheme {scheme!r} is not one apprise understands")

    def notify(title: str, body: str) -> bool:
        return bool(target.notify(title=title, body=body))

    return notify


class AlertSender(PollingThread):
    thread_name = "alert-sender"

    def __init__(self, journal: Journal, notify: Notify | None, clock: Clock, *, retry_seconds: Sequence[float],
                 dedupe_seconds: float, poll_seconds: float = 0.5):
        super().__init__(poll_seconds, log)
        self.journal = journal
        self.notify = notify
        self.clock = clock
        self.retry_seconds = tuple(retry_seconds) or (5.0,)
        self.dedupe_ms = int(dedupe_seconds * 1000)
        self.sent = 0

    def poll_once(self) -> int:
        return self.send_due()

    def send_due(self) -> int:
        """Send what is due now; the number sent."""
        sent = 0
        for alert in self.journal.due_alerts(self.clock.now_ms()):
            if self.stopping:
                break
            sent += self._send(alert)
        return sent

    def _send(self, alert: PendingAlert) -> int:
        now = self.clock.now_ms()
        last = self.journal.last_alert_ms(alert.kind, alert.title, alert.body)
        if self.dedupe_ms and last is not None and now - last < self.dedupe_ms and alert.kind != "daily_summary":
            self.journal.mark_alert(alert.alert_key, "suppressed", now_ms=now,
                                    error=f"the same alert was sent {(now - last) / 1000:.0f}s ago")
            return 0
        if self.notify is None:
            self.journal.mark_alert(alert.alert_key, "unsent", now_ms=now, error="no notification URL configured")
            return 0
        error = ""
        try:
            delivered = self.notify(alert.title, alert.body)
        except Exception as exc:  # a receiver's failure is an alert's failure, never the caller's
            delivered, error = False, type(exc).__name__
        if delivered:
            self.journal.mark_alert(alert.alert_key, "sent", now_ms=now)
            self.sent += 1
            return 1
        delay = self.retry_seconds[min(alert.attempts, len(self.retry_seconds) - 1)]
        log.warning("alert %s (%s) not delivered (attempt %d%s); retrying in %gs",
                    alert.kind, alert.alert_key, alert.attempts + 1, f": {error}" if error else "", delay)
        self.journal.mark_alert(alert.alert_key, "pending", now_ms=now, next_try_ms=now + int(delay * 1000),
                                error=error or "not delivered")
        return 0


def describe(urls: Sequence[str]) -> str:
    """What may be shown of the configured URLs: how many and their schemes."""
    schemes = sorted({u.split("://", 1)[0] for u in urls if "://" in u})
    return f"{len(urls)} URL(s): {', '.join(schemes)}" if urls else "none"


__all__ = ["AlertSender", "apprise_notifier", "describe", "Notify"]
