"""The Teams digest's chart: the card's Image loads it from the bot's own GET /charts/<token>.png,
served from the database by any replica until it expires."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.config.settings import Settings
from digests.week import IsoWeek
from handlers.teams.card_budget import TEAMS_MESSAGE_LIMIT
from tests import teams_harness  # noqa: E402
from tests.harness import running_bot
from tests.support.fake_connector import FakeConnector, card_of
from tests.support.fake_slack import FakeSlack
from tests.teams_harness import CONDUCT, TeamsBotUnderTest, running_teams_bot
from tests.test_teams_triage import flag

# The Teams fixtures, by assignment: pytest finds fixtures among a module's names.
connector = teams_harness.connector

PUBLIC = "https://loopkeeper.example.com/bot"


@pytest.fixture
async def charted_bot(
    database_url: str, slack: FakeSlack, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    async with running_teams_bot(
        database_url, slack, connector, tmp_path, public_url=PUBLIC + "/"
    ) as bot:
        yield bot


async def posted_card(bot: TeamsBotUnderTest) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flags one output, posts this week's digest now; the Teams card and its activity."""
    await flag(bot)
    digest = bot.routing.digests[0]
    week = IsoWeek.containing(bot.clock.now(), digest.schedule.timezone)
    await bot.runtime.digests.post_now(digest, week)
    await bot.deliver()
    [post] = [s for s in bot.connector.to(CONDUCT) if s.kind == "send"]
    card = card_of(post.activity)
    assert card is not None
    return card, post.activity


def images(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in card["body"] if e.get("type") == "Image"]


async def test_the_card_shows_the_chart_the_bot_serves(charted_bot: TeamsBotUnderTest) -> None:
    bot = charted_bot
    card, activity = await posted_card(bot)

    [image] = images(card)
    url = image["url"]
    assert url.startswith(f"{PUBLIC}/charts/") and url.endswith(".png")
    token = url.removeprefix(f"{PUBLIC}/charts/").removesuffix(".png")
    assert len(token) >= 43  # secrets.token_urlsafe(32): 256 random bits
    assert image["altText"]
    assert len(json.dumps(activity).encode()) < TEAMS_MESSAGE_LIMIT

    async with bot.http.get(f"{bot.base_url}/charts/{token}.png") as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        assert (await response.read()).startswith(b"\x89PNG\r\n\x1a\n")

    # Another digest gets another chart, at another unguessable address.
    week = IsoWeek.containing(bot.clock.now(), bot.routing.digests[0].schedule.timezone)
    bot.clock.advance(timedelta(minutes=1))
    await bot.runtime.digests.post_now(bot.routing.digests[0], week)
    await bot.deliver()
    urls = [
        images(card_of(s.activity) or {"body": []})[0]["url"]
        for s in bot.connector.to(CONDUCT)
        if s.kind == "send"
    ]
    assert len(set(urls)) == 2


async def test_any_replica_serves_it_until_it_expires(
    charted_bot: TeamsBotUnderTest, database_url: str, slack: FakeSlack
) -> None:
    card, _ = await posted_card(charted_bot)
    path = urlsplit(images(card)[0]["url"]).path.removeprefix("/bot")

    async with running_bot(database_url, slack, teams="off") as replica:
        replica.clock.set(charted_bot.clock.now() + timedelta(days=29))
        async with replica.http.get(replica.base_url + path) as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"\x89PNG")
        replica.clock.set(charted_bot.clock.now() + timedelta(days=30, seconds=1))
        async with replica.http.get(replica.base_url + path) as response:
            assert response.status == 404
            assert "expired" in (await response.json())["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/charts/" + "A" * 43 + ".png",  # well formed, never issued
        "/charts/" + "A" * 43,
        "/charts/short.png",
        "/charts/" + "A" * 5000 + ".png",
        "/charts/%00%ff.png",
        "/charts/..%2F..%2Fetc%2Fpasswd.png",
        "/charts/'%20OR%201=1--.png",
        "/charts/",
    ],
)
async def test_unknown_or_malformed_tokens_are_404_never_5xx(
    charted_bot: TeamsBotUnderTest, path: str
) -> None:
    async with charted_bot.http.get(charted_bot.base_url + path) as response:
        assert response.status == 404


async def test_without_a_public_url_the_card_has_no_image_and_a_log_line_says_why(
    database_url: str,
    slack: FakeSlack,
    connector: FakeConnector,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Emulator mode, as the harness runs Teams: said at DEBUG (a WARNING with real credentials).
    with caplog.at_level(logging.DEBUG, logger="bot.app.main"):
        async with running_teams_bot(database_url, slack, connector, tmp_path) as bot:
            card, _ = await posted_card(bot)

    assert images(card) == []
    [line] = [r.getMessage() for r in caplog.records if "LOOPKEEPER_PUBLIC_URL" in r.getMessage()]
    assert "no chart" in line


@pytest.mark.parametrize(
    "url", ["loopkeeper.example.com", "ftp://x.example", "https://", "https://x.example/?a=1"]
)
def test_a_public_url_that_cannot_work_is_one_line_to_fix(url: str) -> None:
    settings = Settings(_env_file=None, public_url=url)  # type: ignore[call-arg]
    [problem] = settings.problems()
    assert problem.startswith("LOOPKEEPER_PUBLIC_URL must be the bot's base URL")


def test_production_wants_https_for_the_public_url() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, env="production", teams="off", public_url="http://x.example"
    )
    assert "LOOPKEEPER_PUBLIC_URL must use https in production" in settings.problems()
