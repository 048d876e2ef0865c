"""A DM about a case to someone Slack cannot find (no id in routing.yaml, no account under their
e-mail) is said in the case's thread instead, naming them, once: an SLA breach meant for them
used to be dead-lettered where nobody looks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from storage.queues import SqlQueues
from tests.harness import BotUnderTest, running_bot
from tests.support.fake_slack import Failure, FakeSlack
from tests.test_escalation import dms, flag, tick
from tests.test_escalation_fallback import thread
from tests.test_escalation_snapshot import edited_routing, restarted
from tests.test_surge import TRIAGE, flag_burst, surge_posts, surge_routing

UNREACHED = "could not be reached on Slack"
HIGH_ACKNOWLEDGE = timedelta(hours=4)  # a hallucination (:x:) is high: acknowledged within 4h


def conductor_by_email_only(name: str = "Carol") -> Callable[[dict[str, Any]], None]:
    """Carol, the conductor every breach is told to, is listed by an e-mail Slack does not know."""

    def edit(data: dict[str, Any]) -> None:
        data["people"]["carol"] = {"name": name, "email": "carol@example.com"}
        data["admins"] = ["carol", "dave"]

    return edit


@asynccontextmanager
async def breaching(bot: BotUnderTest, name: str = "Carol") -> AsyncIterator[BotUnderTest]:
    async with restarted(bot, edited_routing(conductor_by_email_only(name))) as edited:
        yield edited


async def _dead(bot: BotUnderTest) -> list[str]:
    return [q.kind for q in await SqlQueues(bot.runtime.store.engine).outbox(dead=True)]


async def _unreached(bot: BotUnderTest, case_id: int) -> list[str]:
    return [line for line in await thread(bot, case_id) if UNREACHED in line]


async def test_a_breach_for_a_conductor_slack_cannot_find_is_said_in_the_thread_once(
    bot: BotUnderTest,
) -> None:
    async with breaching(bot) as edited:
        case_id = await flag(edited)
        await tick(edited)

        await tick(edited, HIGH_ACKNOWLEDGE)  # the acknowledge SLA breaches
        await tick(edited, timedelta(minutes=5))  # a later round says nothing more

        [line] = await _unreached(edited, case_id)
        assert line.startswith("⚠️ Carol could not be reached on Slack")
        assert f"SLA breached: case #{case_id} was not acknowledged in time" in line
        # Alice, the owner, got hers as a DM, as before.
        assert any("SLA breached" in dm for dm in dms(edited, "U0ALICE"))
        assert await _dead(edited) == []
        assert await edited.runtime.store.pending_count() == 0


async def test_a_lost_answer_is_not_said_twice(bot: BotUnderTest) -> None:
    async with breaching(bot) as edited:
        case_id = await flag(edited)
        await tick(edited)
        # Slack posts the line in the thread, but its answer is lost: the outbox tries again.
        edited.slack.fail_when(
            "chat.postMessage",
            lambda args: UNREACHED in str(args.get("text")),
            Failure(500, "internal_error", done_anyway=True),
        )

        await tick(edited, HIGH_ACKNOWLEDGE)
        await tick(edited, timedelta(minutes=5))

        assert len(await _unreached(edited, case_id)) == 1
        assert edited.slack.calls_to("conversations.replies")  # the retry looked first
        assert await _dead(edited) == []


async def test_the_name_is_inert_in_the_thread(bot: BotUnderTest) -> None:
    async with breaching(bot, name="Carol <!channel> <@U0ALICE> & co") as edited:
        case_id = await flag(edited)
        await tick(edited)
        await tick(edited, HIGH_ACKNOWLEDGE)

        [line] = await _unreached(edited, case_id)
    assert "<!channel>" not in line and "<@U0ALICE>" not in line
    assert "Carol &lt;!channel&gt; &lt;@U0ALICE&gt; &amp; co could not be reached" in line


async def test_a_surge_dm_for_an_owner_slack_cannot_find_is_said_in_the_surge_s_thread(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    # Dave, code-helper's owner, and Carol, the conductor routing falls back to, both listed by
    # an e-mail Slack does not know: the surge's one DM used to be dead-lettered, and nobody
    # was told of the surge where they look.
    routing = surge_routing(tmp_path)
    data = yaml.safe_load(routing.read_text(encoding="utf-8"))
    data["people"]["dave"] = {"name": "Dave", "email": "dave@example.com"}
    data["people"]["carol"] = {"name": "Carol", "email": "carol@example.com"}
    routing.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    async with running_bot(database_url, slack, routing) as bot:
        await flag_burst(bot, 25, timedelta(seconds=1))
        bot.clock.advance(timedelta(seconds=30))
        await bot.deliver()

        assert len(surge_posts(slack)) == 1
        lines = [
            str(c.get("text"))
            for c in slack.calls_to("chat.postMessage")
            if c.get("channel") == TRIAGE and c.get("thread_ts") and UNREACHED in str(c["text"])
        ]
        [line] = [line for line in lines if "Surge on Code Helper" in line]
        assert line.startswith("⚠️ Carol could not be reached on Slack")
        assert await _dead(bot) == []
