"""Runs the Binance stand-in as a process of its own, beside a bot process:

    python -m tests.standin --port 18080 --keys-file keys.json [--venue demo|mainnet] [--market-start-ms MS]
                            [--permissions JSON] [--countdown-cancels-algo] [--advance-every-s S]

The server runs on the wall clock (a bot signs with it); the market replays the recorded candles from
--market-start-ms (default 2025-05-20 00:00 UTC) and moves on POST /_standin/advance (or every
--advance-every-s seconds). Keys also come from
STANDIN_KEYS (a JSON object {"api key": "secret"}) when no file is named. It prints one line,
`binance stand-in listening on http://127.0.0.1:PORT (demo)`, and serves until SIGTERM or Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from clock import SystemClock
from tests.standin.binance_standin import DEFAULT_NOW_MS, BinanceStandin
from tests.standin.signing import load_keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standin", description="Local Binance USDⓈ-M stand-in")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed)")
    parser.add_argument("--keys-file", help='JSON {"api key": "secret"}; default: $STANDIN_KEYS')
    parser.add_argument("--venue", choices=("demo", "mainnet"), default="demo")
    parser.add_argument("--market-start-ms", type=int, default=DEFAULT_NOW_MS)
    parser.add_argument("--permissions", type=json.loads, default=None, metavar="JSON",
                        help='mainnet apiRestrictions, e.g. \'{"enableWithdrawals": true, "ipRestrict": false}\'')
    parser.add_argument("--advance-every-s", type=float, default=None, metavar="S",
                        help="move the market by one recorded candle every S seconds (default: only on request)")
    parser.add_argument("--countdown-cancels-algo", action="store_true",
                        help="a countdownCancelAll that runs out also cancels algo (protective) orders")
    args = parser.parse_args(argv)
    try:
        if args.keys_file:
            keys = load_keys(args.keys_file)
        elif os.environ.get("STANDIN_KEYS"):
            keys = json.loads(os.environ["STANDIN_KEYS"])
        else:
            keys = {}
    except (OSError, ValueError) as exc:
        print(f"stand-in: cannot read keys: {exc}", file=sys.stderr)
        return 2
    standin = BinanceStandin(clock=SystemClock(), keys=keys, venue=args.venue, market_start_ms=args.market_start_ms,
                             countdown_cancels_algo=args.countdown_cancels_algo, permissions=args.permissions,
                             port=args.port, advance_every_s=args.advance_every_s).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"binance stand-in listening on {standin.url} ({args.venue})", flush=True)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
