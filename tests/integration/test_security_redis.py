"""A Redis with a password: real redis-server processes, the real CLI.

The password comes from TB_REDIS_PASSWORD (and TB_REDIS_USERNAME for an ACL user); the embedded
server gets it on stdin, so no command line shows it; a client without it gets one line that names
the Redis URL with its credentials hidden.
"""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

import pytest

from embedded_redis import Probe, free_port, probe, start_embedded_redis
from errors import ConfigError, StateStoreError
from redis_auth import RedisAuth, with_auth
from state import StateStore, connect
from processes import PROJECT_ROOT, PYTHON, BotFleet, Managed, process_env, run_cli, wait_for

PASSWORD = "pw-Zq7 k!@:/%x"  # a space and URL-special characters: they must survive the URL and redis.conf
USER_PASSWORD = "acl-Vb2q9"


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory):
    server = start_embedded_redis(free_port(), tmp_path_factory.mktemp("locked"), persist=False,
                                  auth=RedisAuth(PASSWORD))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory):
    server = start_embedded_redis(free_port(), tmp_path_factory.mktemp("acl"), persist=False,
                                  auth=RedisAuth(USER_PASSWORD, "tradebot"))
    yield server
    server.stop()


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_connect_when_redis_needs_a_password_and_none_is_given_then_one_line_naming_the_url(locked_redis):
    with pytest.raises(StateStoreError) as caught:
        connect(locked_redis.url)

    message = str(caught.value)
    assert message == (f"Redis at redis://127.0.0.1:{locked_redis.port}/0 needs a password: set TB_REDIS_PASSWORD "
                       f"(and TB_REDIS_USERNAME for an ACL user)")


@pytest.mark.parametrize("auth", [RedisAuth("wrong-password"), RedisAuth(PASSWORD, "nobody")],
                         ids=["wrong password", "unknown user"])
def test_connect_when_the_password_is_wrong_then_one_line_with_the_url_redacted(locked_redis, auth):
    with pytest.raises(StateStoreError) as caught:
        connect(with_auth(locked_redis.url, auth))

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"Redis at redis://***@127.0.0.1:{locked_redis.port}/0 refused the user or password")
    assert auth.password not in message and "wrong" not in message and "nobody" not in message


def test_connect_when_the_password_is_right_then_the_store_works(locked_redis):
    store = StateStore(connect(locked_redis.client_url), "sec-ok")
    store.write_state(mode="paper")

    assert store.read_state() == {"mode": "paper"}
    store.wipe()


def test_acl_user_when_configured_then_it_logs_in_and_the_default_user_is_off(acl_redis):
    assert connect(acl_redis.client_url).ping()
    with pytest.raises(StateStoreError, match="refused the user or password"):
        connect(with_auth(acl_redis.url, RedisAuth(USER_PASSWORD)))  # the same password for `default`


def test_embedded_redis_when_started_with_a_password_then_its_command_line_does_not_show_it(locked_redis, acl_redis):
    for server in (locked_redis, acl_redis):
        shown = _cmdline(server.process.pid)
        assert PASSWORD not in shown and USER_PASSWORD not in shown and "tradebot" not in shown


def test_embedded_redis_when_one_without_a_password_runs_on_the_port_and_one_is_asked_then_refused(
        redis_server, tmp_path):
    with pytest.raises(StateStoreError, match="without a password already answers .* TB_REDIS_PASSWORD is set"):
        start_embedded_redis(redis_server.port, tmp_path, persist=False, auth=RedisAuth(PASSWORD))


@pytest.mark.parametrize("auth, reason", [(None, "needs a password"), (RedisAuth("other"), "refuses TB_REDIS_PASSWORD")])
def test_embedded_redis_when_a_locked_one_runs_on_the_port_then_reused_only_with_its_password(
        locked_redis, tmp_path, auth, reason):
    with pytest.raises(StateStoreError, match=reason):
        start_embedded_redis(locked_redis.port, tmp_path, persist=False, auth=auth)

    assert start_embedded_redis(locked_redis.port, tmp_path, persist=False, auth=RedisAuth(PASSWORD)).reused


def test_status_when_the_password_is_missing_then_exit_2_and_one_line(locked_redis, tmp_path):
    result = run_cli(["status"], process_env(locked_redis.url, "sec-status"))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: Redis at redis://127.0.0.1:{locked_redis.port}/0 needs a password: set TB_REDIS_PASSWORD "
        f"(and TB_REDIS_USERNAME for an ACL user)"]


def test_status_when_the_password_is_given_then_it_reads_the_bot(locked_redis):
    env = process_env(locked_redis.url, "sec-status", TB_REDIS_PASSWORD=PASSWORD)

    result = run_cli(["status", "--json"], env)

    assert result.returncode == 1, result.stderr  # Redis answered; no bot runs
    assert '"health": "stopped"' in result.stdout and PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("overrides, message", [
    ({"TB_REDIS_USERNAME": "tradebot"}, "TB_REDIS_USERNAME is set but TB_REDIS_PASSWORD is not"),
    ({"TB_REDIS_PASSWORD": ""}, "TB_REDIS_PASSWORD is set but empty"),
    ({"TB_REDIS_PASSWORD": "x", "TB_REDIS_USERNAME": "two words"}, "TB_REDIS_USERNAME = 'two words'"),
    ({"TB_REDIS_PASSWORD": "x", "REDIS_URL": "redis://u:inurl-secret@127.0.0.1:1/0"}, "keep one of them"),
    ({"REDIS_URL": "http://u:inurl-secret@127.0.0.1:1/0"}, "REDIS_URL = 'http://***@127.0.0.1:1/0': must start"),
])
def test_status_when_the_redis_login_setting_is_bad_then_exit_2_with_one_line(locked_redis, overrides, message):
    env = process_env(locked_redis.url, "sec-bad", **overrides)

    result = run_cli(["status"], env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "inurl-secret" not in result.stderr


def test_with_auth_when_the_url_carries_credentials_and_no_env_password_then_used_as_it_is():
    assert with_auth("rediss://u:p@example.com:6380/1", None) == "rediss://u:p@example.com:6380/1"
    with pytest.raises(ConfigError):
        with_auth("rediss://u:p@example.com:6380/1", RedisAuth("x"))


def test_up_when_a_redis_password_is_set_then_the_embedded_redis_requires_it_and_everything_runs(tmp_path):
    redis_port, dashboard_port = free_port(), free_port()
    env = process_env("unused", "sec-up", TB_REDIS_PASSWORD=PASSWORD, TB_REDIS__EMBEDDED_PORT=str(redis_port),
                      TB_REDIS__DATA_DIR=str(tmp_path / "redis"), TB_BOT__MODE="paper")
    del env["REDIS_URL"]  # `up` starts the embedded Redis only without one
    up = Managed("up", [PYTHON, str(PROJECT_ROOT / "main.py"), "up", "--port", str(dashboard_port)], env,
                 tmp_path / "up.log")
    fleet = None
    try:
        plain = f"redis://127.0.0.1:{redis_port}/0"
        wait_for(lambda: probe(redis_port) is not Probe.ABSENT or not up.alive(), 30, "the embedded Redis",
                 on_timeout=up.log_tail)
        with pytest.raises(StateStoreError, match="needs a password"):
            connect(plain)
        fleet = BotFleet(StateStore(connect(with_auth(plain, RedisAuth(PASSWORD))), "sec-up"), plain, tmp_path)
        fleet.wait_bot_running(60)
        wait_for(lambda: _dashboard_health(dashboard_port), 60, "the dashboard", interval_s=0.2, on_timeout=up.log_tail)
        redis_pid = next(pid for pid in _child_pids(up.pid) if "redis-server" in _cmdline(pid))
        assert PASSWORD not in _cmdline(redis_pid)
        assert PASSWORD not in up.log_path.read_text()
        assert f"started embedded Redis at {plain} (password, ACL user default;" in up.log_path.read_text()

        up.signal(signal.SIGTERM)
        wait_for(lambda: not up.alive(), 40, "up to stop everything", on_timeout=up.log_tail)
        assert probe(redis_port) is Probe.ABSENT and "all stopped" in up.log_path.read_text()
    finally:
        up.stop()
        if fleet is not None:  # ends a bot `up` could not stop (its pid from the state hash)
            fleet.cleanup()


def _dashboard_health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
            return response.read() == b"ok"
    except OSError:
        return False


def _child_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids
