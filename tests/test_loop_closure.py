"""Loop closure end to end: a reporter counts as told when their outcome notice is delivered.

The bot runs on its real routes against the fake Slack; the digest then reads the receipts the
outbox recorded (bot/core/reporters_told.py), not the outbox's keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.models import Case, CaseStatus, OutboundMessage, Severity
from digests.aggregate import build_digest
from digests.history import ReplayClock
from digests.model import LoopClosure
from digests.week import IsoWeek
from storage.database import create_engine
from storage.digest_reads import digest_reads
from storage.migrate import upgrade_async
from storage.repository import SqlCaseStore
from tests.harness import BotUnderTest
from tests.support.fake_slack import Failure
from tests.test_digest import digest_of
from tests.test_triage import current, flag, open_and_submit

FIXED = {"reason": "prompt_fixed", "note": "Prompt v8 checks capitals"}


async def loop_closure(bot: BotUnderTest) -> LoopClosure:
    routing = bot.runtime.routing
    digest = routing.digests[0]
    now = bot.clock.now()
    week = IsoWeek.containing(now, digest.schedule.timezone)
    weekly = await build_digest(digest_reads(bot.runtime.store), routing, digest, week, now)
    return weekly.loop_closure


async def test_every_reporter_told_closes_the_loop(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0FIRST", "1700000000.000700")
    await flag(bot, "U0SECOND", "1700000000.000700", emoji="warning")

    await open_and_submit(bot, "U0ALICE", "case_resolve", case, FIXED)

    closure = await loop_closure(bot)
    assert (closure.closed_cases, closure.all_told) == (1, 1)


async def test_a_reporter_is_told_only_once_the_notice_is_delivered(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0FIRST", "1700000000.000800")
    await flag(bot, "U0SECOND", "1700000000.000800", emoji="warning")
    # The thread reply and both outcome DMs fail once: Slack is having a bad minute.
    bot.slack.fail("chat.postMessage", *(Failure(500) for _ in range(3)))

    await open_and_submit(bot, "U0ALICE", "case_resolve", case, FIXED)

    assert (await current(bot, case)).closed_at is not None
    closure = await loop_closure(bot)
    assert (closure.closed_cases, closure.all_told) == (1, 0)

    bot.clock.advance(timedelta(minutes=1))
    await bot.deliver()
    closure = await loop_closure(bot)
    assert (closure.closed_cases, closure.all_told) == (1, 1)


async def test_a_notice_that_cannot_be_delivered_leaves_the_loop_open(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0FIRST", "1700000000.000900")
    bot.slack.fail("chat.postMessage", *(Failure(200, "channel_not_found") for _ in range(2)))

    await open_and_submit(bot, "U0ALICE", "case_wont_fix", case, {"reason": "Works as designed"})

    closure = await loop_closure(bot)
    assert (closure.closed_cases, closure.all_told) == (1, 0)


async def test_upgrading_carries_over_the_notices_the_outbox_remembers(
    empty_database_url: str,
) -> None:
    """Loop closure of weeks before the upgrade (0012) still counts what was delivered."""
    url = empty_database_url
    await upgrade_async(url, "0008")
    closed_at = datetime(2026, 2, 11, 9, tzinfo=UTC)
    store = SqlCaseStore(create_engine(url), clock=ReplayClock(closed_at))
    try:
        async with store.transaction() as tx:
            for number, delivered in ((1, (True, True)), (2, (True, False))):
                case = await tx.new_case(
                    Case(
                        output_key=f"legacy:{number}",
                        system_id="support-assistant",
                        category_id="hallucination",
                        severity=Severity.high,
                        status=CaseStatus.resolved,
                        created_at=closed_at - timedelta(days=1),
                        updated_at=closed_at,
                        closed_at=closed_at,
                    )
                )
                for report_id, (platform, done) in enumerate(
                    zip(("slack", "teams"), delivered, strict=True), start=1
                ):
                    await tx.enqueue(
                        OutboundMessage(
                            dedupe_key=f"{platform}:outcome:{case.id}:{report_id}:abc",
                            platform=platform,
                            method="loopkeeper.reporter",
                            payload={"case_id": case.id},
                            next_attempt_at=closed_at,
                            delivered_at=closed_at + timedelta(seconds=5) if done else None,
                        )
                    )
    finally:
        await store.close()

    await upgrade_async(url)

    closure = (await digest_of(url)).loop_closure
    assert (closure.closed_cases, closure.all_told) == (2, 1)
