"""LOOPKEEPER_SQLITE_FAST: the bot runs on SQLite through plain SQLAlchemy when it is off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config.settings import Settings
from storage.database import is_fast_sqlite
from storage.sqlite_inline import InlineConnection
from tests.conftest import sqlite_url
from tests.harness import running_bot
from tests.support.fake_slack import FakeSlack
from tests.test_cli_help import help_of

AI_TEXT = "The refund window is 90 days."


@pytest.mark.parametrize(("given", "read"), [("OFF", "off"), (" on ", "on"), ("", "on")])
def test_the_setting_reads_on_and_off_in_any_case_and_empty_as_the_default(
    given: str, read: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPKEEPER_SQLITE_FAST", given)
    assert Settings(_env_file=None).sqlite_fast == read  # type: ignore[call-arg]


def test_a_value_other_than_on_or_off_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SQLITE_FAST", "fast")
    with pytest.raises(ValidationError, match="'on' or 'off'"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_serve_help_says_what_the_setting_turns_off() -> None:
    text = help_of("serve")
    assert "LOOPKEEPER_SQLITE_FAST" in text
    assert "plain SQLAlchemy" in " ".join(text.split())


@pytest.mark.parametrize("fast", ["on", "off"])
async def test_a_flag_is_filed_and_delivered_with_the_fast_paths_on_or_off(
    fast: str, tmp_path: Path, slack: FakeSlack, _sqlite_template: Path
) -> None:
    shutil.copyfile(_sqlite_template, tmp_path / "loopkeeper.db")  # migrated
    url = sqlite_url(tmp_path / "loopkeeper.db")
    slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000100", "text": AI_TEXT, "bot_id": "B0SUPPORT"},
    )
    async with running_bot(url, slack, sqlite_fast=fast) as bot:
        store = bot.runtime.store
        assert is_fast_sqlite(store.engine) is (fast == "on")
        async with store.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, InlineConnection) is (fast == "on")

        response = await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100")

        assert response.status == 200
        [case] = await store.list_cases()
        assert case.output_excerpt == AI_TEXT
        assert await bot.deliver() == 3  # the confirmation, the case card, the owner's DM
