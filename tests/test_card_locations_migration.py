"""Migration 0010: cards posted before it (Slack's in columns of `cases`, Teams' in
`teams_cards`) are still found after it, by the bot's own routes, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from storage.database import create_engine
from storage.migrate import alembic_config, upgrade_async
from storage.table_types import UtcDateTime
from tests import teams_harness
from tests.harness import button_press
from tests.teams_harness import TRIAGE, TeamsBotUnderTest, account

connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

OPENED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SLACK_CARD = ("C0TRIAGE", "1763629200.000100")
TEAMS_CARD = (TRIAGE, "1:legacy-teams-card")
OTHER_SLACK_CARD = ("C0TRIAGE", "1763629200.000200")
ALICE = account("alice")
DAVE = account("dave")

# The tables as they were at revision 0008, as much as these rows need.
CASES_0008 = sa.table(
    "cases",
    *(
        sa.column(name)
        for name in (
            "id",
            "output_key",
            "system_id",
            "category_id",
            "severity",
            "status",
            "owner",
            "owner_role",
            "output_platform",
            "output_channel_id",
            "output_ts",
            "output_excerpt",
            "report_count",
            "slack_card_channel",
            "slack_card_ts",
        )
    ),
    *(
        sa.column(name, UtcDateTime())
        for name in ("created_at", "updated_at", "acknowledge_due_at", "resolve_due_at")
    ),
)
REPORTS_0008 = sa.table(
    "reports",
    *(sa.column(n) for n in ("case_id", "reporter_id", "channel", "category_id", "severity")),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)
TEAMS_CARDS_0008 = sa.table(
    "teams_cards",
    *(sa.column(n) for n in ("case_id", "conversation_id", "activity_id")),
    sa.column("posted_at", UtcDateTime()),
)


def legacy_case(case_id: int, slack_card: tuple[str, str] | None) -> dict[str, Any]:
    return {
        "id": case_id,
        "output_key": f"slack:C0SUPPORT:1763629100.00010{case_id}",
        "system_id": "support-assistant",
        "category_id": "hallucination",
        "severity": "high",
        "status": "new",
        "owner": "alice",
        "owner_role": "validation",
        "output_platform": "slack",
        "output_channel_id": "C0SUPPORT",
        "output_ts": f"1763629100.00010{case_id}",
        "output_excerpt": "The capital of Australia is Sydney.",
        "report_count": 1,
        "slack_card_channel": slack_card[0] if slack_card else None,
        "slack_card_ts": slack_card[1] if slack_card else None,
        "created_at": OPENED,
        "updated_at": OPENED,
        "acknowledge_due_at": OPENED + timedelta(hours=4),
        "resolve_due_at": OPENED + timedelta(days=3),
    }


async def seed_at_0008(url: str) -> None:
    """Three cases from before 0010: one with a Slack and a Teams card, one with a Slack card
    only, one whose card was never posted."""
    await upgrade_async(url, "0008")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(CASES_0008),
                [
                    legacy_case(1, SLACK_CARD),
                    legacy_case(2, OTHER_SLACK_CARD),
                    legacy_case(3, None),
                ],
            )
            await connection.execute(
                sa.insert(REPORTS_0008),
                [
                    {
                        "case_id": case_id,
                        "reporter_id": "slack:U0DAN",
                        "channel": "slack_reaction",
                        "category_id": "hallucination",
                        "severity": "high",
                        "created_at": OPENED,
                        "updated_at": OPENED,
                    }
                    for case_id in (1, 2, 3)
                ],
            )
            await connection.execute(
                sa.insert(TEAMS_CARDS_0008).values(
                    case_id=1,
                    conversation_id=TEAMS_CARD[0],
                    activity_id=TEAMS_CARD[1],
                    posted_at=OPENED + timedelta(seconds=2),
                )
            )
        if engine.dialect.name == "postgresql":
            # Rows inserted with explicit ids leave the sequence behind: as a real database's
            # would not be, where the ids came from it.
            async with engine.begin() as connection:
                await connection.execute(
                    sa.text("SELECT setval(pg_get_serial_sequence('cases', 'id'), 3)")
                )
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(empty_database_url: str) -> AsyncIterator[str]:
    """A database that had cards posted at revision 0008, upgraded to the current schema."""
    await seed_at_0008(empty_database_url)
    await upgrade_async(empty_database_url)
    yield empty_database_url


async def comments(bot: TeamsBotUnderTest, case_id: int) -> list[tuple[str, object]]:
    timeline = await bot.runtime.store.timeline(case_id)
    return [(e.actor, e.detail["text"]) for e in timeline if e.kind == "comment"]


async def test_cards_posted_before_the_upgrade_are_still_found(
    teams_bot: TeamsBotUnderTest,
) -> None:
    store = teams_bot.runtime.store
    assert [(c.platform, c.conversation_id, c.message_id) for c in await store.cards_of(1)] == [
        ("slack", *SLACK_CARD),
        ("teams", *TEAMS_CARD),
    ]
    assert [(c.platform, c.message_id) for c in await store.cards_of(2)] == [
        ("slack", OTHER_SLACK_CARD[1])
    ]
    assert await store.cards_of(3) == []
    found = await store.case_for_card("teams", *TEAMS_CARD)
    assert found is not None and found.id == 1


async def test_replies_in_old_card_threads_reach_their_case(teams_bot: TeamsBotUnderTest) -> None:
    bot = teams_bot
    await bot.install(TRIAGE)
    await bot.send_event(
        {
            "type": "message",
            "channel": SLACK_CARD[0],
            "user": "U0DAVE",
            "text": "Still says Sydney",
            "ts": "1800000001.000001",
            "thread_ts": SLACK_CARD[1],
        }
    )
    await bot.send_event(
        {
            "type": "message",
            "channel": OTHER_SLACK_CARD[0],
            "user": "U0DAVE",
            "text": "And here",
            "ts": "1800000001.000002",
            "thread_ts": OTHER_SLACK_CARD[1],
        }
    )
    status, _ = await bot.say(DAVE, f"{TEAMS_CARD[0]};messageid={TEAMS_CARD[1]}", "Seen it too")
    assert status == 200

    assert await comments(bot, 1) == [
        ("dave", "Still says Sydney"),
        ("teams:aad-dave", "Seen it too"),
    ]
    assert await comments(bot, 2) == [("dave", "And here")]


async def test_triage_on_an_old_card_updates_that_card_on_both_platforms(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    await bot.install(TRIAGE)
    pressed = button_press(
        "U0ALICE", "case_acknowledge", "1", channel=SLACK_CARD[0], message_ts=SLACK_CARD[1]
    )
    assert (await bot.interact(pressed)).status == 200
    await bot.deliver()

    [update] = bot.slack.calls_to("chat.update")
    assert (update["channel"], update["ts"]) == SLACK_CARD
    assert "acknowledged" in update["text"] or any(
        "acknowledged" in str(block) for block in update["blocks"]
    )
    [teams_update] = [s for s in bot.connector.to(TRIAGE) if s.kind == "update"]
    assert teams_update.activity_id == TEAMS_CARD[1]
    assert not [
        s for s in bot.connector.to(TRIAGE) if s.kind == "send" and "attachments" in s.activity
    ]
    thread = [c for c in bot.slack.calls_to("chat.postMessage") if c.get("thread_ts")]
    assert [(c["channel"], c["thread_ts"]) for c in thread] == [SLACK_CARD]


async def test_downgrade_puts_the_cards_back_where_0008_kept_them(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    await seed_at_0008(url)
    await upgrade_async(url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0008")

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            slack = await connection.execute(
                sa.select(
                    CASES_0008.c.id, CASES_0008.c.slack_card_channel, CASES_0008.c.slack_card_ts
                ).order_by(CASES_0008.c.id)
            )
            teams = await connection.execute(
                sa.select(
                    TEAMS_CARDS_0008.c.case_id,
                    TEAMS_CARDS_0008.c.conversation_id,
                    TEAMS_CARDS_0008.c.activity_id,
                    TEAMS_CARDS_0008.c.posted_at,
                )
            )
            assert [tuple(row) for row in slack] == [
                (1, *SLACK_CARD),
                (2, *OTHER_SLACK_CARD),
                (3, None, None),
            ]
            assert [tuple(row) for row in teams] == [
                (1, *TEAMS_CARD, OPENED + timedelta(seconds=2))
            ]
    finally:
        await engine.dispose()
