"""`main.py export`: the journal's records as CSV or Parquet, to a file or standard output."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from analytics.periods import parse_when
from errors import ConfigError
from journal.store import Journal, Record

WHAT = {
    "trades": ("trades", ["trade"]),
    "signals": ("signals", ["signal", "signal_outcome"]),
    "orders": ("audit", ["venue_order", "fill"]),  # every order sent and every fill (the engine's "order" is an entry taken)
    "audit": ("audit", None),
}
TRADE_COLUMNS = ["trade_id", "symbol", "side", "qty", "entry_time", "entry_price", "exit_time", "exit_price",
                 "fees", "slippage", "funding", "gross_pnl", "pnl", "exit_reason", "strategy", "mode", "venue"]


def _utc(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")


def trade_row(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A trade record (models.to_record) as an export row: TRADE_COLUMNS, times in UTC."""
    row = {k: fields.get(k, "") for k in TRADE_COLUMNS}
    row["entry_time"] = _utc(int(fields.get("entry_ms") or 0))
    row["exit_time"] = _utc(int(fields.get("exit_ms") or 0))
    return row


def _row(what: str, r: Record) -> dict[str, Any]:
    if what == "trades":
        return trade_row(r.fields)
    if what == "signals":
        return {"time": _utc(r.ts_ms), "kind": r.kind, "mode": r.mode} | {k: v for k, v in r.fields.items()}
    raw = r.fields.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    base = {"time": _utc(r.ts_ms), "kind": r.kind, "mode": r.mode, "symbol": r.symbol, "message": r.fields.get("message", "")}
    if what == "orders":
        return base | {k: v for k, v in data.items() if k not in ("symbol", "mode")}
    return base | {"data": json.dumps(data, separators=(",", ":"), default=str)}


def export_frame(journal: Journal, what: str, *, from_ms: int | None = None, to_ms: int | None = None,
                 mode: str | None = None) -> pd.DataFrame:
    if what not in WHAT:
        raise ConfigError(f"--what: {what!r} is not one of {', '.join(WHAT)}")
    stream, kinds = WHAT[what]
    rows = [{"bot_id": journal.bot_id} | _row(what, r)
            for r in journal.records(stream=stream, kinds=kinds, from_ms=from_ms, to_ms=to_ms, mode=mode)]
    if what == "trades":
        return pd.DataFrame(rows, columns=["bot_id", *TRADE_COLUMNS])
    return pd.DataFrame(rows)


def run_export_cli(args: argparse.Namespace) -> int:
    from journal.service import open_journal
    from settings import load_settings

    settings = load_settings(args.config)
    from_ms, to_ms = parse_when(args.date_from, "--from"), parse_when(args.date_to, "--to")
    if from_ms is not None and to_ms is not None and to_ms <= from_ms:
        raise ConfigError(f"--to ({args.date_to}) must be after --from ({args.date_from})")
    journal = open_journal(settings)
    try:
        frame = export_frame(journal, args.what, from_ms=from_ms, to_ms=to_ms, mode=args.mode)
    finally:
        journal.close()
    if args.format == "parquet":
        buffer = io.BytesIO()
        frame.astype(str).to_parquet(buffer, index=False)  # text columns: Decimals exactly as recorded
        data = buffer.getvalue()
        if args.out:
            Path(args.out).write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
    else:
        text = frame.to_csv(index=False)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    if args.out:
        print(f"export: {len(frame)} {args.what} record(s) → {args.out}", file=sys.stderr)
    return 0
