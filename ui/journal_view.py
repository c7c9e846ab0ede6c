"""What the dashboard shows from outside Redis: older trades from the durable journal, and the reports.

Redis keeps the newest `redis.stream_maxlen` trades and loses everything in a FLUSHALL; the journal
(var/journal/<bot>.sqlite3, journal/) keeps them all. The Paper and Ghost tabs page through the journal's
trades of their book that Redis no longer holds, so a long run or a flushed Redis still shows its whole
history. The dashboard only reads: it never creates a journal file."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import streamlit as st

from journal.store import Journal, journal_path
from models import Book, Trade, from_record
from settings import Settings
from ui.tables import trades_table
from ui.widgets import show_table

PAGE = 100
REPORTS_SHOWN = 6


@st.cache_resource(show_spinner=False)
def _open(path: str) -> Journal:
    return Journal(path)


def open_journal(settings: Settings) -> Journal | None:
    path = journal_path(settings.resolve_path(settings.journal.dir), settings.bot.id)
    return _open(str(path)) if path.is_file() else None


def older_trades(journal: Journal, book: Book, in_redis: list[Trade], offset: int, limit: int) -> tuple[list[Trade], int]:
    """A page (newest first) of the book's trades in the journal older than every trade Redis still holds
    (Redis keeps the newest), and how many there are in all."""
    before = min((t.exit_ms for t in in_redis), default=None)
    total = journal.count(kinds=["trade"], book=book.key, to_ms=before)
    page = journal.records(kinds=["trade"], book=book.key, to_ms=before, newest_first=True, offset=offset, limit=limit)
    return [from_record(Trade, r.fields) for r in page], total


def render_older_trades(settings: Settings, book: Book, in_redis: list[Trade], places: Mapping[str, int | None],
                        key: str) -> None:
    journal = open_journal(settings)
    if journal is None:
        return
    _, total = older_trades(journal, book, in_redis, 0, 0)
    if not total:
        return
    st.subheader("Older trades, from the journal")
    pages = (total + PAGE - 1) // PAGE
    page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key=f"{key}_page"))
    trades, _ = older_trades(journal, book, in_redis, (page - 1) * PAGE, PAGE)
    st.caption(f"{total:,} trade(s) of {book.label} that Redis no longer holds (its stream keeps the newest "
               f"{settings.redis.stream_maxlen:,}; a flushed Redis keeps none) · newest first · {PAGE} a page")
    show_table(trades_table(trades, places, presorted=True), "No older trades.", key=f"{key}_table")


def latest_reports(settings: Settings, limit: int = REPORTS_SHOWN) -> list[Path]:
    """The newest HTML reports `main.py report` wrote for this bot (default folder reports/)."""
    folder = settings.resolve_path("reports")
    if not folder.is_dir():
        return []
    mine = [p for p in folder.glob(f"{settings.bot.id}_*.html") if p.is_file()]
    return sorted(mine, key=lambda p: p.stat().st_mtime, reverse=True)[:limit]


def render_reports(settings: Settings) -> None:
    reports = latest_reports(settings)
    st.subheader("Reports")
    if not reports:
        st.caption("No reports yet: `main.py report --period month` (or week) writes them under reports/.")
        return
    for path in reports:
        left, right = st.columns([4, 1])
        left.markdown(f"`{path.name}` · {path.stat().st_size / 1024:,.0f} kB")
        right.download_button("Open", path.read_bytes(), file_name=path.name, mime="text/html", key=f"report_{path.name}",
                              on_click="ignore")
