"""One SQLite file per bot id: the records copied from the Redis streams, and the alerts waiting to be sent.

A record is keyed by (stream, record key): the stream entry's id, or for a trade its trade id, so a trade
that Redis lost and the bot wrote again (after a FLUSHALL) is still one row. Copying is idempotent: a
catch-up after a crash may read entries again and changes nothing. The cursor per stream is the newest
entry id copied; it lives in the same transaction as the records it covers, so a crash between the two
cannot skip anything.

WAL mode: the supervisor's sync thread writes while `main.py export`, the report and the dashboard read.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    stream     TEXT NOT NULL,     -- trades, signals, audit, command_results
    record_key TEXT NOT NULL,     -- the stream entry id; a trade's trade id
    entry_id   TEXT NOT NULL,
    ts_ms      INTEGER NOT NULL,  -- the record's own time where it has one, else the entry id's
    kind       TEXT NOT NULL,     -- trade, signal, outcome, command_result, or the audit kind (order, fill, skip, state…)
    mode       TEXT NOT NULL,     -- ghost, paper, live: the trade's own, else the bot's when it was copied
    symbol     TEXT NOT NULL DEFAULT '',
    fields     TEXT NOT NULL,     -- the entry's fields as JSON
    book       TEXT NOT NULL DEFAULT '',  -- a trade's book (models.Book key: ghost, paper:sim…)
    PRIMARY KEY (stream, record_key)
);
CREATE TABLE IF NOT EXISTS cursors (stream TEXT PRIMARY KEY, entry_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    alert_key  TEXT PRIMARY KEY,  -- the record it came from: one alert per record, however often copied
    kind       TEXT NOT NULL,
    ts_ms      INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL,     -- pending, sent, silent (recorded only), suppressed (a repeat inside the window), unsent (no URL)
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_try_ms INTEGER NOT NULL DEFAULT 0,
    sent_ms    INTEGER,
    error      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added after a journal file may have been written: added to an older file when it is opened.
ADDED_COLUMNS = {"records": [("book", "TEXT NOT NULL DEFAULT ''")]}
INDEXES = """
CREATE INDEX IF NOT EXISTS records_by_kind_time ON records (kind, ts_ms);
CREATE INDEX IF NOT EXISTS records_by_stream_time ON records (stream, ts_ms);
CREATE INDEX IF NOT EXISTS records_by_book_time ON records (book, kind, ts_ms);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (status, next_try_ms);
"""


@dataclass(frozen=True, slots=True)
class Record:
    stream: str
    record_key: str
    entry_id: str
    ts_ms: int
    kind: str
    mode: str
    symbol: str
    fields: dict[str, Any]
    book: str = ""


@dataclass(frozen=True, slots=True)
class PendingAlert:
    alert_key: str
    kind: str
    ts_ms: int
    title: str
    body: str
    attempts: int


def journal_path(directory: str | Path, bot_id: str) -> Path:
    return Path(directory) / f"{bot_id}.sqlite3"


class Journal:
    """The journal file of one bot. Thread-safe: one connection, one lock (writes are batched, so the
    lock is held for one transaction per sync, milliseconds)."""

    def __init__(self, path: str | Path, bot_id: str | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash
        self._db.executescript(SCHEMA)
        for table, columns in ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns:
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
        self._db.executescript(INDEXES)
        if bot_id is not None:  # the file is one bot's: its records carry its id through this
            self.set_meta("bot_id", bot_id)
        self.bot_id = bot_id or self.meta("bot_id") or self.path.stem

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---------------------------------------------------------------------------- writing

    def cursor(self, stream: str) -> str:
        """The newest entry id copied from `stream`, "0" when none was."""
        with self._lock:
            row = self._db.execute("SELECT entry_id FROM cursors WHERE stream = ?", (stream,)).fetchone()
        return row[0] if row else "0"

    def append(self, stream: str, records: Sequence[Record], cursor: str, alerts: Iterable[PendingAlert] = ()) -> int:
        """Records of one stream up to `cursor`, and the alerts they raise, in one transaction; the
        number of records that were new."""
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO records VALUES (?,?,?,?,?,?,?,?,?)",
                [(r.stream, r.record_key, r.entry_id, r.ts_ms, r.kind, r.mode, r.symbol,
                  json.dumps(r.fields, separators=(",", ":"), default=str), r.book) for r in records],
            )
            added = self._db.total_changes - before
            self._db.executemany(
                "INSERT OR IGNORE INTO alerts (alert_key, kind, ts_ms, title, body, status) VALUES (?,?,?,?,?,'pending')",
                [(a.alert_key, a.kind, a.ts_ms, a.title, a.body) for a in alerts],
            )
            self._db.execute("INSERT INTO cursors VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET entry_id = excluded.entry_id",
                             (stream, cursor))
        return added

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    # ----------------------------------------------------------------------------- alerts

    def add_alert(self, alert: PendingAlert, status: str = "pending") -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO alerts (alert_key, kind, ts_ms, title, body, status) VALUES (?,?,?,?,?,?)",
                (alert.alert_key, alert.kind, alert.ts_ms, alert.title, alert.body, status),
            )
            return cur.rowcount == 1

    def due_alerts(self, now_ms: int, limit: int = 50) -> list[PendingAlert]:
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_key, kind, ts_ms, title, body, attempts FROM alerts "
                "WHERE status = 'pending' AND next_try_ms <= ? ORDER BY ts_ms, alert_key LIMIT ?", (now_ms, limit),
            ).fetchall()
        return [PendingAlert(*row) for row in rows]

    def mark_alert(self, alert_key: str, status: str, *, now_ms: int, next_try_ms: int = 0, error: str = "") -> None:
        with self._lock:
            self._db.execute(
                "UPDATE alerts SET status = ?, attempts = attempts + ?, next_try_ms = ?, error = ?, "
                "sent_ms = CASE WHEN ? = 'sent' THEN ? ELSE sent_ms END WHERE alert_key = ?",
                (status, 1 if status in ("sent", "pending", "failed") else 0, next_try_ms, error[:500], status, now_ms, alert_key),
            )

    def last_alert_ms(self, kind: str, title: str, body: str) -> int | None:
        """When the same alert (kind, title and text) was last sent: a repeat inside the window is suppressed."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(sent_ms) FROM alerts WHERE kind = ? AND title = ? AND body = ? AND status = 'sent'",
                (kind, title, body),
            ).fetchone()
        return row[0] if row and row[0] is not None else None

    def alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_key, kind, ts_ms, title, body, status, attempts, sent_ms, error FROM alerts "
                "ORDER BY ts_ms DESC, alert_key DESC LIMIT ?", (limit,),
            ).fetchall()
        names = ("alert_key", "kind", "ts_ms", "title", "body", "status", "attempts", "sent_ms", "error")
        return [dict(zip(names, row)) for row in rows]

    # ------------------------------------------------------------------------------- meta

    def meta(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                             (name, value))

    # ---------------------------------------------------------------------------- reading

    @staticmethod
    def _where(stream: str | None, kinds: Sequence[str] | None, from_ms: int | None, to_ms: int | None,
               mode: str | None, book: str | None = None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for clause, value in (("stream = ?", stream), ("ts_ms >= ?", from_ms), ("ts_ms < ?", to_ms), ("mode = ?", mode),
                              ("book = ?", book)):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        if kinds:
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            args += list(kinds)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def records(self, *, stream: str | None = None, kinds: Sequence[str] | None = None, from_ms: int | None = None,
                to_ms: int | None = None, mode: str | None = None, book: str | None = None, offset: int = 0,
                limit: int | None = None, newest_first: bool = False) -> list[Record]:
        """Records matching every filter given, in time order (newest first when asked), a page of them
        with `offset` and `limit`."""
        where, args = self._where(stream, kinds, from_ms, to_ms, mode, book)
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT stream, record_key, entry_id, ts_ms, kind, mode, symbol, fields, book FROM records{where} "
               f"ORDER BY ts_ms {order}, entry_id {order} LIMIT ? OFFSET ?")
        with self._lock:
            rows = self._db.execute(sql, [*args, limit if limit is not None else -1, offset]).fetchall()
        return [Record(s, key, entry, ts, kind, m, sym, json.loads(fields), b)
                for s, key, entry, ts, kind, m, sym, fields, b in rows]

    def count(self, *, stream: str | None = None, kinds: Sequence[str] | None = None, from_ms: int | None = None,
              to_ms: int | None = None, mode: str | None = None, book: str | None = None) -> int:
        where, args = self._where(stream, kinds, from_ms, to_ms, mode, book)
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM records{where}", args).fetchone()[0])
