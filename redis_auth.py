"""Who Redis lets in: one scheme for the embedded and for an external Redis.

    TB_REDIS_PASSWORD   the password (unset: a Redis without one)
    TB_REDIS_USERNAME   an ACL user name; unset means Redis's `default` user (what `requirepass` sets)

`main.py up` starts the embedded Redis with this user and password; every process adds them to the
Redis URL it connects to (REDIS_URL, else the embedded Redis), so the URL that is printed, logged or
handed to a child never carries the password. A REDIS_URL with its own `user:password@` (a managed
Redis's URL) is used as it is, but not together with TB_REDIS_PASSWORD: two passwords, one of them
stale, is the confusion this refuses.

The environment is the only place the password lives: never config.yaml, Redis, a command line or a log.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import quote, urlsplit

from errors import ConfigError

PASSWORD_ENV = "TB_REDIS_PASSWORD"
USERNAME_ENV = "TB_REDIS_USERNAME"
URL_SCHEMES = ("redis", "rediss", "unix")
_USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")  # safe unquoted in a redis.conf ACL line and in a URL


@dataclass(frozen=True)
class RedisAuth:
    password: str = field(repr=False)  # repr=False: a RedisAuth in a traceback or log line shows no password
    username: str | None = None

    def server_acl(self) -> list[str]:
        """ACL lines for redis.conf: the password as its SHA-256, so not even Redis keeps it in clear."""
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        if self.username in (None, "default"):
            return [f"user default on resetpass #{digest} ~* &* +@all"]
        return ["user default off resetpass", f"user {self.username} on resetpass #{digest} ~* &* +@all"]


def auth_from_env(environ: Mapping[str, str]) -> RedisAuth | None:
    password = environ.get(PASSWORD_ENV)
    username = environ.get(USERNAME_ENV)
    if password is None:
        if username is not None:
            raise ConfigError(f"{USERNAME_ENV} is set but {PASSWORD_ENV} is not: an ACL user needs a password")
        return None
    if password == "":
        raise ConfigError(f"{PASSWORD_ENV} is set but empty: unset it, or give the password")
    if username is not None and not _USERNAME.fullmatch(username):
        raise ConfigError(f"{USERNAME_ENV} = {username!r}: an ACL user name is letters, digits, '.', '_' and '-'")
    return RedisAuth(password, username)


def url_has_credentials(url: str) -> bool:
    return "@" in url.partition("://")[2]


def check_url(url: str) -> None:
    """A URL redis-py can use, or one ConfigError that shows the URL without its credentials."""
    scheme, sep, rest = url.partition("://")
    shown = f"{scheme}://***@{rest.rsplit('@', 1)[1]}" if sep and "@" in rest else url
    if not sep or scheme not in URL_SCHEMES:
        raise ConfigError(f"REDIS_URL = {shown!r}: must start with redis://, rediss:// or unix://")
    try:
        urlsplit(url).port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        raise ConfigError(f"REDIS_URL = {shown!r}: the port is not a number") from None


def with_auth(url: str, auth: RedisAuth | None) -> str:
    """`url` with `auth`'s user and password (percent-encoded, as redis-py decodes them)."""
    check_url(url)
    if auth is None:
        return url
    if url_has_credentials(url):
        raise ConfigError(f"REDIS_URL carries a user:password and {PASSWORD_ENV} is set too: keep one of them")
    scheme, _, rest = url.partition("://")
    user = quote(auth.username, safe="") if auth.username else ""
    return f"{scheme}://{user}:{quote(auth.password, safe='')}@{rest}"
