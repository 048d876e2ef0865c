"""An escalation chain runs as routing.yaml said when its case opened: an edit of the file
(and the restart that loads it) changes the chains of new cases, never a running one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import yaml
from aiohttp.test_utils import TestServer

from bot.app.main import build_runtime
from bot.config.loading import parse_routing
from bot.core.routing_rules import Routing
from tests.harness import ROUTING_FILE, BotUnderTest
from tests.test_escalation import dms, flag, tick


def edited_routing(edit: Callable[[dict[str, Any]], None]) -> Routing:
    """The tests' routing.yaml after an operator's edit."""
    data = yaml.safe_load(ROUTING_FILE.read_text())
    edit(data)
    return parse_routing(yaml.safe_dump(data), "routing.yaml")


@contextlib.asynccontextmanager
async def restarted(bot: BotUnderTest, routing: Routing) -> AsyncIterator[BotUnderTest]:
    """The bot restarted with an edited routing file, over the same database and fake Slack."""
    await bot.runtime.close()
    runtime = await build_runtime(bot.runtime.settings, routing, clock=bot.clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        url = str(server.make_url("")).rstrip("/")
        yield BotUnderTest(runtime, bot.slack, bot.clock, url, bot.http)
    finally:
        await server.close()
        await runtime.close()


def new_chain(data: dict[str, Any]) -> None:
    """Governance moves from Bob to Dave, and the chain is reshaped and lengthened."""
    system = data["systems"][0]
    system["owners"]["governance"] = "dave"
    system["escalation"] = [
        {"after": "0m", "notify": "owner"},
        {"after": "2h", "notify": "governance"},
        {"after": "6h", "notify": "conductor"},
        {"after": "1d", "notify": "bob"},
    ]


async def notified(bot: BotUnderTest, case_id: int) -> list[object]:
    """Who each escalation step of the case notified, from its timeline."""
    timeline = await bot.runtime.store.timeline(case_id)
    return [e.detail["notified"] for e in timeline if e.kind == "escalated"]


def escalations(bot: BotUnderTest, user: str) -> list[str]:
    """The escalation DMs `user` got, without the link to the card."""
    return [t.split(" <", 1)[0] for t in dms(bot, user) if "escalated to you" in t]


async def test_editing_the_chain_changes_new_cases_not_a_running_one(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    first = await flag(bot)  # chain: 0m owner, 4h governance (Bob), 1d conductor (Carol)
    await tick(bot, timedelta(hours=1))

    async with restarted(bot, edited_routing(new_chain)) as edited:
        await tick(edited, timedelta(hours=1))  # 2h: the new chain's step, not this case's
        assert dms(edited, "U0DAVE") == []

        await tick(edited, timedelta(hours=2))  # 4h: Bob, as the chain said when it opened
        assert escalations(edited, "U0BOB") == [
            f"Case #{first} has not been acknowledged after 4h: it is escalated to you."
        ]
        assert dms(edited, "U0DAVE") == []

        await tick(edited, timedelta(hours=20))  # 1d: Carol; no step is added by the edit
        assert escalations(edited, "U0CAROL") == [
            f"Case #{first} has not been acknowledged after 1d: it is escalated to you."
        ]
        await tick(edited, timedelta(days=2))
        assert len(escalations(edited, "U0BOB")) == 1
        assert await notified(edited, first) == ["alice", "bob", "carol"]

        # A case opened after the edit follows the new chain.
        edited.slack.add_message(
            "C0SUPPORT",
            {"type": "message", "ts": "1700000000.000900", "bot_id": "B0SUPPORT", "text": "x"},
        )
        await edited.react("U0OTHER", "x", "C0SUPPORT", "1700000000.000900")
        await edited.deliver()
        second = max(c.id or 0 for c in await edited.runtime.store.list_cases())
        await tick(edited, timedelta(hours=2))
        assert escalations(edited, "U0DAVE") == [
            f"Case #{second} has not been acknowledged after 2h: it is escalated to you."
        ]
        await tick(edited, timedelta(hours=22))
        assert await notified(edited, second) == ["alice", "dave", "carol", "bob"]


async def test_a_join_after_the_edit_adds_no_step_to_the_running_chain(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    case_id = await flag(bot)
    await tick(bot, timedelta(minutes=10))

    async with restarted(bot, edited_routing(new_chain)) as edited:
        # Someone else flags the same output: the case is rescheduled (its deadlines).
        await edited.react("U0OTHER", "rotating_light", "C0SUPPORT", "1700000000.000100")
        await edited.deliver()
        await tick(edited, timedelta(days=3))

        assert await notified(edited, case_id) == ["alice", "bob", "carol"]
        assert escalations(edited, "U0BOB") == [
            f"Case #{case_id} has not been acknowledged after 4h: it is escalated to you."
        ]


async def test_a_chain_planned_before_snapshots_follows_the_current_routing(
    bot: BotUnderTest,
) -> None:
    case_id = await flag(bot)
    await tick(bot)
    # What migration 0008 leaves on the timers of a case opened before it: no snapshot.
    async with bot.runtime.store.engine.begin() as connection:
        await connection.execute(sa.text("UPDATE timers SET notify = NULL"))

    async with restarted(bot, edited_routing(new_chain)) as edited:
        await tick(edited, timedelta(hours=4))  # its 4h step is the new file's second step

        assert escalations(edited, "U0DAVE") == [
            f"Case #{case_id} has not been acknowledged after 2h: it is escalated to you."
        ]
        assert await notified(edited, case_id) == ["alice", "dave"]
