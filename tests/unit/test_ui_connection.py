"""The dashboard's settings: read once, and again as soon as what they are made from changes."""

from __future__ import annotations

import os

import pytest

import settings
import ui.connection
from errors import ConfigError
from ui.connection import current_settings


def test_current_settings_when_nothing_changed_then_the_same_settings_without_parsing_again(monkeypatch):
    monkeypatch.setenv("TB_BOT__ID", "cached-bot")

    assert current_settings() is current_settings()


def test_current_settings_when_a_tb_variable_changes_then_the_new_value_is_used(monkeypatch):
    monkeypatch.setenv("TB_BOT__ID", "first-bot")
    assert current_settings().bot.id == "first-bot"

    monkeypatch.setenv("TB_BOT__ID", "second-bot")

    assert current_settings().bot.id == "second-bot"


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text("bot:\n  id: aaaa\n")
    # the dashboard reads the project's config.yaml: pointed at this one instead (both names of it)
    monkeypatch.setattr(settings, "DEFAULT_CONFIG_PATH", path)
    monkeypatch.setattr(ui.connection, "DEFAULT_CONFIG_PATH", path)
    for name in [n for n in os.environ if n.startswith("TB_")]:
        monkeypatch.delenv(name)
    return path


def rewrite_in_place_keeping_its_time(path, text: str) -> None:
    """What `cp -p` or `rsync -a --inplace` of a file with the same time does, or two saves of the same size
    inside one tick of the kernel's coarse file clock: same inode, same size, same mtime."""
    before = path.stat()
    with open(path, "r+") as f:
        f.write(text)
        f.truncate()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_current_settings_when_config_yaml_gets_a_new_value_of_the_same_size_and_time_then_the_new_value_is_used(
        config_file):
    assert current_settings().bot.id == "aaaa"

    rewrite_in_place_keeping_its_time(config_file, "bot:\n  id: bbbb\n")

    assert current_settings().bot.id == "bbbb"


def test_current_settings_when_config_yaml_turns_bad_with_the_same_size_and_time_then_a_clear_error(config_file):
    assert current_settings().bot.id == "aaaa"

    rewrite_in_place_keeping_its_time(config_file, "bot:\n  id: a a!\n")  # not a valid bot id

    with pytest.raises(ConfigError, match="id"):
        current_settings()
