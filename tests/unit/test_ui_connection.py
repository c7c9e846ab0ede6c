"""The dashboard's settings: read once, and again as soon as what they are made from changes."""

from __future__ import annotations

from ui.connection import current_settings


def test_current_settings_when_nothing_changed_then_the_same_settings_without_parsing_again(monkeypatch):
    monkeypatch.setenv("TB_BOT__ID", "cached-bot")

    assert current_settings() is current_settings()


def test_current_settings_when_a_tb_variable_changes_then_the_new_value_is_used(monkeypatch):
    monkeypatch.setenv("TB_BOT__ID", "first-bot")
    assert current_settings().bot.id == "first-bot"

    monkeypatch.setenv("TB_BOT__ID", "second-bot")

    assert current_settings().bot.id == "second-bot"
