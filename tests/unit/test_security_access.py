"""Pure rules of who gets in: the Redis login from the environment, and the dashboard's address, Host,
Origin and password checks (the real servers are in tests/integration/test_security_*.py)."""

from __future__ import annotations

import pytest
from redis.connection import parse_url

from dashboard_access import HostGuard, check_exposure, is_loopback, loopback_hosts, password_matches
from errors import ConfigError
from redis_auth import RedisAuth, auth_from_env, with_auth


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("10.0.0.1", False), ("example.com", False),
    ("", False),
])
def test_is_loopback_when_given_an_address_then_only_the_loopback_interface_counts(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize("environ", [{}, {"TB_DASHBOARD_PASSWORD": ""}])
def test_check_exposure_when_wide_address_and_no_password_then_config_error(environ):
    with pytest.raises(ConfigError, match="0.0.0.0 is reachable from the network: set TB_DASHBOARD_PASSWORD"):
        check_exposure("0.0.0.0", environ)


def test_check_exposure_when_loopback_or_password_then_allowed():
    check_exposure("127.0.0.1", {})
    check_exposure("0.0.0.0", {"TB_DASHBOARD_PASSWORD": "pw"})


@pytest.mark.parametrize("given, matches", [("s3cret", True), ("s3cre", False), ("s3cret ", False), ("S3CRET", False),
                                            ("", False), ("s3creté", False)])
def test_password_matches_when_compared_then_only_the_exact_password(given, matches):
    assert password_matches(given, {"TB_DASHBOARD_PASSWORD": "s3cret"}) is matches


def test_password_matches_when_none_is_configured_then_nothing_matches():
    assert password_matches("", {}) is False


LOOPBACK = HostGuard(None, allowed_hosts=loopback_hosts(8502))
WIDE = HostGuard(None, allowed_hosts=None)


@pytest.mark.parametrize("guard, host, origin, refusal", [
    (LOOPBACK, "127.0.0.1:8502", None, None),
    (LOOPBACK, "localhost:8502", "http://localhost:8502", None),
    (LOOPBACK, "[::1]:8502", "https://[::1]:8502", None),
    (LOOPBACK, "127.0.0.1", None, (400, "host not allowed")),  # a browser always sends a non-default port
    (LOOPBACK, "127.0.0.1:8503", None, (400, "host not allowed")),
    (LOOPBACK, "evil.example:8502", "http://evil.example:8502", (400, "host not allowed")),
    (LOOPBACK, None, None, (400, "host not allowed")),
    (LOOPBACK, "127.0.0.1:8502", "http://evil.example", (403, "origin not allowed")),
    (LOOPBACK, "127.0.0.1:8502", "http://127.0.0.1:8503", (403, "origin not allowed")),
    (LOOPBACK, "127.0.0.1:8502", "null", (403, "origin not allowed")),
    (LOOPBACK, "127.0.0.1:8502", "ws://127.0.0.1:8502", (403, "origin not allowed")),
    (WIDE, "dashboard.lan:8502", "http://dashboard.lan:8502", None),
    (WIDE, "dashboard.lan:8502", "http://evil.example", (403, "origin not allowed")),
    (WIDE, "", None, (400, "host not allowed")),
])
def test_host_guard_when_a_request_arrives_then_only_its_own_host_and_origin_pass(guard, host, origin, refusal):
    assert guard.refusal(host, origin) == refusal


@pytest.mark.parametrize("environ, auth", [
    ({}, None),
    ({"TB_REDIS_PASSWORD": "pw"}, RedisAuth("pw")),
    ({"TB_REDIS_PASSWORD": "pw", "TB_REDIS_USERNAME": "tradebot"}, RedisAuth("pw", "tradebot")),
])
def test_auth_from_env_when_set_then_read(environ, auth):
    assert auth_from_env(environ) == auth


@pytest.mark.parametrize("environ, message", [
    ({"TB_REDIS_USERNAME": "tradebot"}, "TB_REDIS_USERNAME is set but TB_REDIS_PASSWORD is not"),
    ({"TB_REDIS_PASSWORD": ""}, "TB_REDIS_PASSWORD is set but empty"),
    ({"TB_REDIS_PASSWORD": "pw", "TB_REDIS_USERNAME": ""}, "TB_REDIS_USERNAME = ''"),
    ({"TB_REDIS_PASSWORD": "pw", "TB_REDIS_USERNAME": 'a"b'}, "TB_REDIS_USERNAME = 'a\"b'"),
    ({"TB_REDIS_PASSWORD": "pw", "TB_REDIS_USERNAME": "x" * 65}, "TB_REDIS_USERNAME"),
])
def test_auth_from_env_when_malformed_then_one_config_error(environ, message):
    with pytest.raises(ConfigError, match=message.replace("'", ".").replace('"', ".")):
        auth_from_env(environ)


@pytest.mark.parametrize("password", ["pw", "p w", "a@b:c/d%e?f#g", "ünï", "x" * 200])
def test_with_auth_when_the_password_has_url_characters_then_redis_py_reads_it_back(password):
    url = with_auth("redis://127.0.0.1:6390/0", RedisAuth(password, "tradebot"))

    parsed = parse_url(url)

    assert (parsed["username"], parsed["password"], parsed["host"], parsed["port"]) == (
        "tradebot", password, "127.0.0.1", 6390)


def test_redis_auth_when_shown_then_the_password_is_not():
    assert "hunter2" not in repr(RedisAuth("hunter2", "tradebot"))
    assert all("hunter2" not in line for line in RedisAuth("hunter2", "tradebot").server_acl())


@pytest.mark.parametrize("url, message", [
    ("localhost:6379", "must start with redis://, rediss:// or unix://"),
    ("http://u:secret@h:1/0", "'http://\\*\\*\\*@h:1/0': must start"),
    ("redis://u:secret@h:port/0", "'redis://\\*\\*\\*@h:port/0': the port is not a number"),
])
def test_with_auth_when_the_url_is_malformed_then_config_error_without_its_password(url, message):
    with pytest.raises(ConfigError, match=message) as caught:
        with_auth(url, None)
    assert "secret" not in str(caught.value)
