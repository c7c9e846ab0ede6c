"""backtrader and nautilus_trader on the same candles and EMA rules (rules.py), each in its own bench venv,
against an arbiter: the same rules in numpy with Decimal money.

    bash benchmarks/compare/setup_venvs.sh          # once: var/bench-venvs/{backtrader,nautilus}
    .venv/bin/python benchmarks/compare/run.py --csv ../shared/data/klines/binance_usdm_BTCUSDT_1m_….csv [--csv …]

Prints a table (engine, candles, round trips / fills, final equity, wall) per file, then whether every
engine agrees with the arbiter on the fills and on the final equity to the cent, and exits 1 when one does
not. --json prints every record as one JSON line instead. Each engine runs as a separate process, so its
start-up and imports are in `process_s`, not in `wall_s` (the engine's own run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `python benchmarks/compare/run.py`
from benchmarks.compare import rules  # noqa: E402

VENVS = Path(os.environ.get("BENCH_VENVS", ROOT / "var" / "bench-venvs"))  # as setup_venvs.sh
ENGINES = {"backtrader": "backtrader_ema.py", "nautilus_trader": "nautilus_ema.py"}
VENV_OF = {"backtrader": "backtrader", "nautilus_trader": "nautilus"}
CENT = Decimal("0.01")
RESULT = ("candles", "round_trips", "fills", "final_equity", "open_position")


def ema(close: np.ndarray, alpha: float) -> np.ndarray:
    # a recursion numpy cannot vectorise exactly: written as the engines write it, so the floats are bitwise equal
    step = np.frompyfunc(lambda prev, c: alpha * c + (1.0 - alpha) * prev, 2, 1)
    return step.accumulate(close.astype(object)).astype(np.float64)  # element 0 is the first close: the seed


def arbiter(path: str) -> dict:
    started = time.perf_counter()
    rows = rules.read_rows(path)
    text = [row[4] for row in rows]
    close = np.array(text, dtype=np.float64)  # float() of each text: correctly rounded, as in every engine
    run_started = time.perf_counter()
    sign = np.sign(ema(close, rules.ALPHA_FAST) - ema(close, rules.ALPHA_SLOW))
    last_nonzero = np.maximum.accumulate(np.where(sign != 0, np.arange(len(sign)), -1))
    before = np.concatenate(([0.0], np.where(last_nonzero >= 0, sign[np.maximum(last_nonzero, 0)], 0.0)[:-1]))
    up, down = (before < 0) & (sign > 0), (before > 0) & (sign < 0)
    cash, qty, fills, round_trips = rules.START_CASH, Decimal(0), 0, 0
    lot = rules.lot_of(rules.symbol_of(path))
    for i in np.flatnonzero(up | down):
        price = Decimal(text[i])
        if up[i] and not qty and (buy := rules.entry_qty(price, lot)):
            qty, cash, fills = buy, cash - buy * price * (1 + rules.FEE_RATE), fills + 1
        elif down[i] and qty:
            cash, qty = cash + qty * price * (1 - rules.FEE_RATE), Decimal(0)
            fills, round_trips = fills + 1, round_trips + 1
    equity = cash + qty * Decimal(text[-1])
    now = time.perf_counter()
    return {"engine": "arbiter (numpy)", "version": np.__version__, "symbol": rules.symbol_of(path), "file": path,
            "candles": len(rows), "round_trips": round_trips, "fills": fills, "final_equity": str(equity),
            "open_position": str(qty), "wall_s": round(now - run_started, 4), "total_s": round(now - started, 4)}


def run_engine(engine: str, path: str, repeat: int = 1) -> dict:
    """The engine's record from its best (lowest wall_s) of `repeat` runs; every run must give the same
    result, or the comparison would depend on which run was fastest."""
    python = VENVS / VENV_OF[engine] / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} is missing: run `bash benchmarks/compare/setup_venvs.sh` first")
    best: dict | None = None
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([str(python), str(HERE / ENGINES[engine]), path], capture_output=True, text=True)
        process_s = time.perf_counter() - started
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            sys.exit(f"{engine} failed on {path} (exit {done.returncode}):\n{done.stderr[-2000:]}")
        record = {**json.loads(lines[-1]), "process_s": round(process_s, 4), "runs": repeat}
        if best is not None and [record[k] for k in RESULT] != [best[k] for k in RESULT]:
            sys.exit(f"{engine} gave different results on {path} from one run to the next")
        if best is None or record["wall_s"] < best["wall_s"]:
            best = record
    assert best is not None  # repeat >= 1
    return best


def collect(paths: list[str], engines: list[str], repeat: int = 1) -> list[dict]:
    """Per file: the arbiter's record, then each engine's, each marked with whether it agrees."""
    records = []
    for path in paths:
        reference = arbiter(path)
        for record in [reference] + [run_engine(engine, path, repeat) for engine in engines]:
            records.append({**record, "agrees_with_arbiter": agrees(record, reference)})
    return records


def cents(value: str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def agrees(record: dict, reference: dict) -> bool:
    return (record.get("rejected", 0) == 0
            and record["fills"] == reference["fills"] and record["round_trips"] == reference["round_trips"]
            and cents(record["final_equity"]) == cents(reference["final_equity"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", action="append", required=True, help="a candle CSV (repeatable)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: backtrader,nautilus_trader")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine and file; the fastest is shown")
    parser.add_argument("--json", action="store_true", help="one JSON line per record instead of the table")
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if unknown := [name for name in engines if name not in ENGINES]:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")

    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    missing = [path for path in args.csv if not Path(path).is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    records = collect(args.csv, engines, args.repeat)
    all_agree = all(record["agrees_with_arbiter"] for record in records)
    if args.json:
        for record in records:
            print(json.dumps(record))
        return 0 if all_agree else 1
    print(f"{'symbol':<9} {'engine':<26} {'candles':>8} {'trips':>6} {'fills':>6} {'final equity':>22}"
          f" {'wall s':>8} {'total s':>8} {'process s':>9} {'RSS MB':>7}  agrees")
    for record in records:
        process = f"{record['process_s']:.3f}" if "process_s" in record else "-"
        print(f"{record['symbol']:<9} {record['engine'] + ' ' + record['version']:<26.26} {record['candles']:>8}"
              f" {record['round_trips']:>6} {record['fills']:>6} {Decimal(record['final_equity']):>22.8f}"
              f" {record['wall_s']:>8.3f} {record['total_s']:>8.3f} {process:>9} {record.get('peak_rss_mb', '-'):>7}"
              f"  {'yes' if record['agrees_with_arbiter'] else 'NO'}")
    print("all engines agree with the arbiter (fills, round trips, final equity to the cent)" if all_agree
          else "DISAGREEMENT: see the rows marked NO")
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
