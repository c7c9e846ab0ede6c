"""The journal file: copying is idempotent, the cursor moves with the records, filters and pages work."""

from decimal import Decimal

import pytest

from journal.store import Journal, PendingAlert, Record


def _trade(key: str, ts: int, mode: str = "paper", pnl: str = "1.5") -> Record:
    return Record("trades", key, f"{ts}-0", ts, "trade", mode, "BTC/USDT:USDT", {"trade_id": key, "pnl": pnl})


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "j" / "bot.sqlite3")
    yield j
    j.close()


def test_append_when_the_same_records_come_again_then_one_row_each_and_the_cursor_moves(journal):
    first = journal.append("trades", [_trade("a", 1), _trade("b", 2)], "2-0")
    again = journal.append("trades", [_trade("a", 1), _trade("b", 2), _trade("c", 3)], "3-0")

    assert (first, again) == (2, 1)
    assert journal.cursor("trades") == "3-0"
    assert [r.record_key for r in journal.records(stream="trades")] == ["a", "b", "c"]


def test_cursor_when_nothing_was_copied_then_zero(journal):
    assert journal.cursor("audit") == "0"


def test_journal_when_reopened_then_records_and_cursor_are_still_there(tmp_path):
    path = tmp_path / "bot.sqlite3"
    j = Journal(path)
    j.append("trades", [_trade("a", 1)], "1-0")
    j.close()

    reopened = Journal(path)
    assert reopened.cursor("trades") == "1-0"
    assert reopened.records(kinds=["trade"])[0].fields["pnl"] == "1.5"
    reopened.close()


@pytest.mark.parametrize(
    "filters, keys",
    [
        ({}, ["a", "b", "c", "d"]),
        ({"from_ms": 2}, ["b", "c", "d"]),  # from: inclusive
        ({"to_ms": 3}, ["a", "b"]),  # to: exclusive
        ({"from_ms": 2, "to_ms": 3}, ["b"]),
        ({"mode": "ghost"}, ["d"]),
        ({"limit": 2}, ["a", "b"]),
        ({"limit": 2, "offset": 2}, ["c", "d"]),
        ({"newest_first": True, "limit": 1}, ["d"]),
    ],
)
def test_records_when_filtered_then_only_the_matching_ones_in_time_order(journal, filters, keys):
    journal.append("trades", [_trade("a", 1), _trade("b", 2), _trade("c", 3), _trade("d", 4, mode="ghost")], "4-0")

    assert [r.record_key for r in journal.records(kinds=["trade"], **filters)] == keys


def test_alerts_when_added_twice_then_one_and_due_until_marked_sent(journal):
    alert = PendingAlert("audit:1-0", "halt", 5, "[b paper] halt", "by cli", 0)

    assert journal.add_alert(alert) is True
    assert journal.add_alert(alert) is False
    assert [a.alert_key for a in journal.due_alerts(now_ms=10)] == ["audit:1-0"]
    journal.mark_alert("audit:1-0", "sent", now_ms=10)
    assert journal.due_alerts(now_ms=10) == []
    assert journal.last_alert_ms("halt", "[b paper] halt", "by cli") == 10


def test_alerts_when_retry_is_later_then_not_due_before_it(journal):
    journal.add_alert(PendingAlert("k", "halt", 5, "t", "b", 0))
    journal.mark_alert("k", "pending", now_ms=10, next_try_ms=2_010, error="refused")

    assert journal.due_alerts(now_ms=2_009) == []
    assert journal.due_alerts(now_ms=2_010)[0].attempts == 1


def test_count_when_filtered_by_kind_then_counts_those(journal):
    journal.append("trades", [_trade("a", 1), _trade("b", 2)], "2-0")
    assert journal.count(kinds=["trade"]) == 2
    assert journal.count(kinds=["signal"]) == 0
    assert Decimal(journal.records(kinds=["trade"])[1].fields["pnl"]) == Decimal("1.5")


def test_journal_when_the_file_predates_the_book_column_then_it_is_added_and_old_rows_kept(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE records (stream TEXT NOT NULL, record_key TEXT NOT NULL, entry_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
        " kind TEXT NOT NULL, mode TEXT NOT NULL, symbol TEXT NOT NULL DEFAULT '', fields TEXT NOT NULL,"
        " PRIMARY KEY (stream, record_key));"
        "INSERT INTO records VALUES ('trades', 'old', '1-0', 1, 'trade', 'paper', 'BTC/USDT:USDT', '{\"pnl\": \"2\"}');"
    )
    db.commit()
    db.close()

    journal = Journal(path)
    journal.append("trades", [Record("trades", "new", "2-0", 2, "trade", "paper", "BTC/USDT:USDT", {"pnl": "3"}, "paper:sim")], "2-0")

    assert [r.record_key for r in journal.records(kinds=["trade"])] == ["old", "new"]
    assert [r.record_key for r in journal.records(kinds=["trade"], book="paper:sim")] == ["new"]
    journal.close()
