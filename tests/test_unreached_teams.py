"""With Slack off, a DM about a case to someone Teams cannot find is said in the case's Teams
thread instead, naming them (inert): it used to be dead-lettered where nobody looks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.config.loading import load_routing
from storage.queues import SqlQueues
from tests import teams_harness
from tests.support.fake_connector import FakeConnector
from tests.teams_harness import (
    HELPER_BOT,
    HELPERS,
    TeamsBotUnderTest,
    slack_off_bot,
    teams_routing,
)
from tests.test_teams_triage import flag
from tests.test_teams_triage import thread as teams_thread

connector = teams_harness.connector
__all__ = ["connector"]

HIGH_ACKNOWLEDGE = timedelta(hours=4)


@pytest.fixture
async def carol_unknown(
    database_url: str, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    """Teams only; Carol, the conductor every breach is told to, is listed by e-mail only and
    is in no team the bot is in. Her name carries markdown, to be shown as written."""
    path = tmp_path / "routing.yaml"
    teams_routing(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["people"]["carol"] = {"name": "**Carol** [x](https://evil.example)", "email": "c@x.io"}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    async with slack_off_bot(database_url, connector, load_routing(path)) as bot:
        yield bot


async def test_a_breach_for_someone_teams_cannot_find_is_said_in_the_thread(
    carol_unknown: TeamsBotUnderTest,
) -> None:
    bot = carol_unknown
    case = await flag(bot, bot_id=HELPER_BOT)  # owned by Erin, who is in Teams
    await bot.runtime.timers.fire_due()
    await bot.deliver()

    bot.clock.advance(HIGH_ACKNOWLEDGE)
    await bot.runtime.timers.fire_due()
    await bot.deliver()

    said = [s.activity.get("text") or "" for s in await teams_thread(bot, case, HELPERS)]
    [line] = [t for t in said if "could not be reached on Teams" in t]
    assert line.startswith("⚠️ \\*\\*Carol\\*\\* \\[x\\]")  # inert: no bold, no link
    assert f"SLA breached: case #{case.id} was not acknowledged in time" in line
    assert await SqlQueues(bot.runtime.store.engine).outbox(dead=True) == []
