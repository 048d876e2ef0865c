"""The report modal carries a reference to the flagged message, never its text (issue #10).

Slack caps a view's private_metadata at 3,000 characters; JSON writes each non-ASCII character
as a six-character escape, so carrying the text broke at about 485 characters of French or
Japanese. Long answers are what AI assistants post.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from slack_sdk.models.views import View

from bot.app.main import build_runtime
from bot.core.intake import EXCERPT_LIMIT
from bot.core.models import Channel
from bot.core.privacy import excerpt
from tests.harness import BotUnderTest, button_press, shortcut_payload, view_submission

JAPANESE = "返金の期限はすべての製品で九十日です。" * 264  # 5,016 characters
FRENCH = "Le délai de remboursement est de quatre-vingt-dix jours, élève. " * 79  # 5,056


def long_ai_message(ts: str, text: str) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "text": text, "bot_id": "B0SUPPORT"}


async def opened_modal(bot: BotUnderTest, payload: dict[str, Any]) -> dict[str, Any]:
    response = await bot.interact(payload)
    assert response.status == 200
    [opened] = bot.slack.calls_to("views.open")
    view: dict[str, Any] = opened["view"]
    return view


@pytest.mark.parametrize("text", [JAPANESE, FRENCH], ids=["japanese", "french"])
async def test_a_long_non_ascii_message_opens_a_valid_modal_and_files_its_text(
    bot: BotUnderTest, text: str
) -> None:
    assert len(text) >= 5000
    message = bot.slack.add_message("C0SUPPORT", long_ai_message("1700000000.000100", text))

    view = await opened_modal(bot, shortcut_payload("U0REPORTER", "C0SUPPORT", message))

    assert len(view["private_metadata"]) <= 3000
    View(**view).validate_json()  # raises on any Block Kit limit Slack would refuse
    reference = json.loads(view["private_metadata"])
    assert reference == {"src": "shortcut", "channel": "C0SUPPORT", "ts": "1700000000.000100"}

    submitted = await bot.interact(
        view_submission("U0REPORTER", view, {"category": "hallucination", "wrong": "wrong days"})
    )

    assert submitted.status == 200
    [case] = await bot.runtime.store.list_cases()
    assert case.output_excerpt == excerpt(text, EXCERPT_LIMIT)
    assert (case.output_channel_id, case.output_ts) == ("C0SUPPORT", "1700000000.000100")
    async with bot.runtime.store.transaction() as tx:
        [report] = await tx.case_reports(case.id)  # type: ignore[arg-type]
    assert report.channel is Channel.slack_shortcut
    assert report.comment == "wrong days"
    # The shortcut brought the message with it: filing it read nothing back from Slack.
    assert bot.slack.calls_to("conversations.history") == []


async def test_a_submission_the_shortcut_did_not_see_reads_the_message_back(
    bot: BotUnderTest,
) -> None:
    """Another replica gets the submission: it has only the reference, so it reads the
    message back from Slack."""
    message = bot.slack.add_message("C0SUPPORT", long_ai_message("1700000000.000200", JAPANESE))
    view = await opened_modal(bot, shortcut_payload("U0REPORTER", "C0SUPPORT", message))

    async with replica_of(bot) as other:
        submitted = await other.interact(
            view_submission("U0REPORTER", view, {"category": "hallucination"})
        )

    assert submitted.status == 200
    [case] = await bot.runtime.store.list_cases()
    assert case.output_excerpt == excerpt(JAPANESE, EXCERPT_LIMIT)
    assert case.output_permalink == "https://acme.slack.com/archives/C0SUPPORT/p1700000000000200"
    assert len(bot.slack.calls_to("conversations.history")) == 1


@contextlib.asynccontextmanager
async def replica_of(bot: BotUnderTest) -> AsyncIterator[BotUnderTest]:
    """A second process on the same database and the same Slack."""
    runtime = await build_runtime(bot.runtime.settings, bot.routing, clock=bot.clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        yield BotUnderTest(runtime, bot.slack, bot.clock, base, bot.http)
    finally:
        await server.close()
        await runtime.close()


async def test_triage_modals_carry_only_ids(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", long_ai_message("1700000000.000300", JAPANESE))
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000300")
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    for action in ("case_resolve", "case_reassign", "case_needs_info", "case_wont_fix"):
        await bot.interact(button_press("U0ALICE", action, str(case.id)))
    views = [c["view"] for c in bot.slack.calls_to("views.open")]

    assert len(views) == 4
    for view in views:
        View(**view).validate_json()
        assert json.loads(view["private_metadata"]) == {"case": case.id, "channel": "C0TRIAGE"}
