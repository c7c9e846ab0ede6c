"""The journal and the alerts as the supervisor runs them: one sync thread, one sender thread."""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping

from alerts.events import AlertKind, Delivery
from alerts.sender import AlertSender, apprise_notifier, describe
from clock import Clock
from errors import ConfigError
from journal.store import Journal, journal_path
from journal.sync import JournalSync

log = logging.getLogger("journal")

ALERT_URLS_ENV = "TB_ALERT_URLS"


def alert_urls(settings: Any, environ: Mapping[str, str] | None = None) -> list[str]:
    """config.yaml's alerts.urls and TB_ALERT_URLS (space- or comma-separated), in that order."""
    environ = os.environ if environ is None else environ
    extra = [u for u in re.split(r"[\s,]+", environ.get(ALERT_URLS_ENV, "")) if u]
    return [*settings.alerts.urls, *extra]


def open_journal(settings: Any) -> Journal:
    return Journal(journal_path(settings.resolve_path(settings.journal.dir), settings.bot.id), settings.bot.id)


class JournalService:
    def __init__(self, settings: Any, store: Any, clock: Clock, environ: Mapping[str, str] | None = None):
        self.journal = open_journal(settings)
        urls = alert_urls(settings, environ)
        try:
            notify = apprise_notifier(urls) if urls else None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        log.info("alerts: %s", describe(urls))  # schemes only: the URLs are secrets
        a = settings.alerts
        delivery = {AlertKind(k): Delivery(v) for k, v in a.events.items()}
        self.sync = JournalSync(store, self.journal, clock, bot_id=settings.bot.id, default_mode=settings.bot.mode.value,
                                delivery=delivery, max_age_seconds=a.max_age_seconds,
                                poll_seconds=settings.journal.poll_seconds, daily_summary=a.daily_summary)
        self.sender = AlertSender(self.journal, notify, clock, retry_seconds=a.retry_seconds, dedupe_seconds=a.dedupe_seconds)

    def start(self) -> "JournalService":
        self.sync.start()
        self.sender.start()
        return self

    def stop(self) -> None:
        self.sync.stop()
        self.sender.send_due()  # what the last pass raised, once, before the process ends
        self.sender.stop()
        self.journal.close()
