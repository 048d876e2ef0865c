"""Teams gets the same surge card as Slack: posted once in the triage channel, updated in
place, a case on it acknowledged from its button (fake Bot Connector over real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from bot.core.models import CaseStatus
from tests import teams_harness
from tests.harness import INGEST_TOKEN, SIGNING_SECRET, now_utc
from tests.support.fake_connector import FakeConnector, card_of
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.teams_harness import (
    HELPERS,
    TRIAGE,
    TeamsBotUnderTest,
    account,
    card_texts,
    teams_routing,
)

connector = teams_harness.connector


@pytest.fixture
async def surge_teams_bot(
    database_url: str, slack: FakeSlack, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    path = tmp_path / "routing.yaml"
    teams_routing(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["surge"] = {"cases": 20, "within": "10m", "quiet": "30m"}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
        ingest_token=INGEST_TOKEN,
        pacing="off",  # the clock stands still here: paced messages would wait for it
    )
    clock = ManualClock(now_utc())
    runtime = await build_runtime(settings, load_routing(path), clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield TeamsBotUnderTest(
            runtime, slack, clock, str(server.make_url("")).rstrip("/"), http, connector
        )
    await server.close()
    await runtime.close()


async def test_teams_gets_one_surge_card_updated_in_place(
    surge_teams_bot: TeamsBotUnderTest, connector: FakeConnector
) -> None:
    bot = surge_teams_bot
    await bot.install(TRIAGE)
    cases = []
    for n in range(40):
        response = await bot.ingest(
            {
                "system": "support-assistant",
                "category": "hallucination",
                "trace_id": f"trace-{n}",
                "reporter": {"slack_id": f"U0R{n:04d}"},
            }
        )
        assert response.status == 201
        cases.append(int((await response.json())["case"]))
        bot.clock.advance(timedelta(seconds=2))
        if n % 10 == 9:
            await bot.deliver()
    bot.clock.advance(timedelta(seconds=30))
    await bot.deliver()

    posts = [s for s in connector.to(TRIAGE) if s.kind == "send" and card_of(s.activity)]
    surge_posts = [s for s in posts if "Surge" in card_texts(card_of(s.activity) or {})]
    assert len(posts) == 21  # 20 case cards before the surge, then one surge card
    [surge_post] = surge_posts
    assert surge_post.activity_id is not None
    card = bot.latest_card(TRIAGE, surge_post.activity_id)
    assert "40 new cases" in card_texts(card)
    assert [s for s in connector.to(TRIAGE) if s.kind == "update"]

    folded = cases[-1]
    status, answer = await bot.execute(
        account("carol"), "acknowledge", folded, {"surge": 1}, conversation=TRIAGE
    )
    assert status == 200
    assert "surge card" in str(answer)  # the surge card stays; no case card replaces it
    case = await bot.runtime.store.get_case(folded)
    assert case is not None and case.status is CaseStatus.acknowledged
    await bot.deliver()
    assert "1 acknowledged" in card_texts(bot.latest_card(TRIAGE, surge_post.activity_id))


async def test_a_teams_only_surge_escalates_without_anything_left_waiting_for_slack(
    surge_teams_bot: TeamsBotUnderTest, connector: FakeConnector
) -> None:
    bot = surge_teams_bot
    await bot.install(HELPERS)
    for n in range(25):
        response = await bot.ingest(
            {
                "system": "teams-helper",
                "category": "hallucination",
                "trace_id": f"helper-{n}",
                "reporter": {"teams_id": f"29:reporter{n}"},
            }
        )
        assert response.status == 201
        bot.clock.advance(timedelta(seconds=1))
    await bot.deliver()
    bot.clock.advance(timedelta(hours=4, minutes=1))  # the governance step and the ack SLA
    await bot.runtime.timers.fire_due()
    for _ in range(3):
        await bot.deliver()
        bot.clock.advance(timedelta(minutes=5))

    replies = [s for s in connector.to(HELPERS) if s.kind == "reply"]
    assert replies  # the escalation lines, in the surge card's thread
    assert await bot.runtime.store.pending_count() == 0  # nothing waits for a Slack card
