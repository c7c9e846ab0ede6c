"""Binance's request signing for USER_DATA and TRADE endpoints, checked as Binance checks it.

A signed request carries the API key in the `X-MBX-APIKEY` header and `signature` = hex HMAC-SHA256, keyed
with the secret, of the query string followed by the form body (without the signature itself). `timestamp`
(ms) must be within `recvWindow` (default 5000, at most 60000) of the server's clock and not more than 1 s
ahead of it. Answers, with Binance's codes: no or malformed key -2014 (401), unknown key -2015 (401),
missing timestamp or signature -1102, recvWindow over 60000 -1131, bad signature -1022 (400), timestamp
outside the window -1021 (400).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qsl

from tests.standin.replies import error, mandatory

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000
AHEAD_TOLERANCE_MS = 1000  # Binance refuses a timestamp more than 1 s in its future
TEST_KEYS = {"standin-test-key": "standin-test-secret"}


def load_keys(path: str | Path) -> dict[str, str]:
    """A keys file: a JSON object {"api key": "secret", ...}."""
    keys = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(keys, dict) or not keys or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ValueError(f"{path}: expected a JSON object of api key -> secret strings")
    return keys


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(raw: str) -> tuple[str, str | None]:
    """The raw text minus its `signature=` parameter (order kept: the client signed that text)."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), signature


def verify(keys: Mapping[str, str], api_key: str | None, raw_query: str, raw_body: str, server_ms: int) -> None:
    """Raises the BinanceReply Binance would answer; returns when the request is properly signed."""
    if not api_key:
        raise error(401, -2014, "API-key format invalid.")
    secret = keys.get(api_key)
    if secret is None:
        raise error(401, -2015, "Invalid API-key, IP, or permissions for action.")
    query, query_signature = _without_signature(raw_query)
    body, body_signature = _without_signature(raw_body)
    signature = query_signature or body_signature
    params = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(body, keep_blank_values=True))
    if "timestamp" not in params:
        raise mandatory("timestamp")
    try:
        timestamp = int(params["timestamp"])
        recv_window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except ValueError:
        raise error(400, -1100, "Illegal characters found in parameter 'timestamp' or 'recvWindow'.") from None
    if recv_window > MAX_RECV_WINDOW_MS or recv_window <= 0:
        raise error(400, -1131, "recvWindow must be less than 60000")
    if not signature:
        raise mandatory("signature")
    if not hmac.compare_digest(sign(secret, query + body), signature.lower()):
        raise error(400, -1022, "Signature for this request is not valid.")
    if timestamp >= server_ms + AHEAD_TOLERANCE_MS or server_ms - timestamp > recv_window:
        raise error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
