"""Posting the weekly digest: on schedule in its time zone, once per week, late once if missed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.core.routing_rules import DigestSchedule
from digests.job import DigestJob
from digests.schedule import latest_due
from handlers.slack.digest import publish_to_slack
from storage.digest_reads import digest_reads
from tests.harness import BotUnderTest

LONDON_MONDAY_9 = DigestSchedule(day="mon", time="09:00", timezone="Europe/London")


def test_due_time_follows_the_local_clock_across_dst() -> None:
    # Winter: 09:00 London is 09:00 UTC. Monday 23 March 2026 reports on week 12's predecessor.
    week, due = latest_due(LONDON_MONDAY_9, datetime(2026, 3, 23, 9, 0, tzinfo=UTC))
    assert (week, due) == ("2026-W12", datetime(2026, 3, 23, 9, 0, tzinfo=UTC))
    # A minute earlier it is still the previous Monday's digest.
    week, due = latest_due(LONDON_MONDAY_9, datetime(2026, 3, 23, 8, 59, tzinfo=UTC))
    assert (week, due) == ("2026-W11", datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    # Clocks go forward on Sunday 29 March: the next Monday's 09:00 is 08:00 UTC.
    week, due = latest_due(LONDON_MONDAY_9, datetime(2026, 3, 30, 8, 0, tzinfo=UTC))
    assert (week, due) == ("2026-W13", datetime(2026, 3, 30, 8, 0, tzinfo=UTC))


async def flag_in_week(bot: BotUnderTest, moment: datetime, ts: str) -> None:
    bot.clock.set(moment)
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": "wrong"}
    )
    await bot.react("U0REPORTER", "x", "C0SUPPORT", ts)


def digests_posted(bot: BotUnderTest) -> list[dict]:  # type: ignore[type-arg]
    return [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "C0CONDUCT"]


async def test_digest_is_posted_once_at_its_hour_with_its_chart(bot: BotUnderTest) -> None:
    await flag_in_week(bot, datetime(2026, 3, 18, 10, 0, tzinfo=UTC), "1700000000.000100")
    await flag_in_week(bot, datetime(2026, 3, 19, 10, 0, tzinfo=UTC), "1700000000.000200")

    bot.clock.set(datetime(2026, 3, 23, 8, 59, tzinfo=UTC))
    await bot.runtime.digests.tick()
    await bot.deliver()
    assert digests_posted(bot) == []  # W11's digest is a week old and the install is newer

    bot.clock.set(datetime(2026, 3, 23, 9, 0, 30, tzinfo=UTC))
    assert await bot.runtime.digests.tick() == 1
    assert await bot.runtime.digests.tick() == 0
    await bot.deliver()

    [posted] = digests_posted(bot)
    assert posted["text"].startswith("2 reports on 2 cases from 1 person")
    assert posted["blocks"][0]["text"]["text"] == "Weekly AI feedback digest · 2026-W12"
    assert "2 reports, high, new this week, 2 still open" in str(posted["blocks"])
    assert len(posted["blocks"]) <= 50
    assert "late" not in posted["text"].lower()
    [chart] = list(bot.slack.uploads.values())
    assert chart.startswith(b"\x89PNG")
    [completed] = bot.slack.calls_to("files.completeUploadExternal")
    assert completed["channel_id"] == "C0CONDUCT"
    [run] = await bot.runtime.store.digest_runs()
    assert (run.week, run.late) == ("2026-W12", False)


async def test_two_schedulers_racing_post_one_digest(bot: BotUnderTest) -> None:
    await flag_in_week(bot, datetime(2026, 3, 18, 10, 0, tzinfo=UTC), "1700000000.000300")
    bot.clock.set(datetime(2026, 3, 23, 9, 1, tzinfo=UTC))
    other = DigestJob(
        bot.routing,
        bot.runtime.store,
        bot.clock,
        [publish_to_slack],
        reads=digest_reads(bot.runtime.store),
    )

    results = await asyncio.gather(bot.runtime.digests.tick(), other.tick())

    assert sorted(results) == [0, 1]
    await bot.deliver()
    assert len(digests_posted(bot)) == 1


async def test_a_digest_missed_while_down_is_posted_late_once(bot: BotUnderTest) -> None:
    await flag_in_week(bot, datetime(2026, 3, 18, 10, 0, tzinfo=UTC), "1700000000.000400")

    bot.clock.set(datetime(2026, 3, 25, 14, 0, tzinfo=UTC))  # back up on Wednesday
    assert await bot.runtime.digests.tick() == 1
    bot.clock.advance(timedelta(hours=1))
    assert await bot.runtime.digests.tick() == 0
    await bot.deliver()

    [posted] = digests_posted(bot)
    assert "Posted late" in str(posted["blocks"])
    [run] = await bot.runtime.store.digest_runs()
    assert run.late is True


async def test_a_quiet_week_says_so_in_one_line(bot: BotUnderTest) -> None:
    await flag_in_week(bot, datetime(2026, 3, 4, 10, 0, tzinfo=UTC), "1700000000.000500")

    bot.clock.set(datetime(2026, 3, 23, 9, 0, tzinfo=UTC))  # W12 had no reports at all
    await bot.runtime.digests.tick()
    await bot.deliver()

    [posted] = digests_posted(bot)
    assert posted["text"].startswith("Quiet week")
    assert bot.slack.uploads == {}  # no chart of zeros
