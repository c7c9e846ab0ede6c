"""A Binance answer other than 200, raised anywhere inside the stand-in and turned into the HTTP reply by
the server: one type, so every module answers errors the way Binance does ({"code": -1121, "msg": ...})."""

from __future__ import annotations

from typing import Any


class BinanceReply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {body}")
        self.status, self.body, self.headers = status, body, dict(headers or {})


def error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> BinanceReply:
    return BinanceReply(status, {"code": code, "msg": msg}, headers)


def mandatory(name: str) -> BinanceReply:
    return error(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
