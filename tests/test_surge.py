"""Surges: many new cases on one system at once fold into one surge card and one owner DM.

Driven through the ingest API and the outbox against the fake Slack (real HTTP), on SQLite and
PostgreSQL, with the clock moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.core.models import CaseStatus
from digests.aggregate import build_digest
from digests.render_markdown import render_markdown
from digests.week import IsoWeek
from storage.digest_reads import SqlDigestReads
from tests.harness import BotUnderTest, button_press, running_bot
from tests.support.bot_settings import ROUTING_FILE
from tests.support.fake_slack import Failure, FakeSlack

TRIAGE = "C0CODETRIAGE"  # code-helper's triage channel in tests/data/routing.yaml
OWNER = "U0DAVE"  # code-helper's validation owner
SURGE = {"cases": 20, "within": "10m", "quiet": "30m"}


def surge_routing(tmp_path: Path, surge: dict[str, Any] | None = SURGE) -> Path:
    data = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    if surge is not None:
        data["surge"] = surge
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@asynccontextmanager
async def surge_bot(
    database_url: str, slack: FakeSlack, tmp_path: Path, surge: dict[str, Any] | None = SURGE
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(database_url, slack, surge_routing(tmp_path, surge)) as bot:
        yield bot


async def flag(bot: BotUnderTest, n: int, **fields: Any) -> int:
    body = {
        "system": "code-helper",
        "category": "hallucination" if n % 3 else "bad_format",
        "comment": f"wrong answer {n}",
        "trace_id": f"trace-{n}",
        "prompt_version": "v7" if n % 4 else "v6",
        "model": "gpt-x",
        "reporter": {"slack_id": f"U0R{n:04d}"},
        **fields,
    }
    response = await bot.ingest(body)
    assert response.status == 201, await response.text()
    return int((await response.json())["case"])


async def flag_burst(
    bot: BotUnderTest, count: int, spacing: timedelta, start: int = 0
) -> list[int]:
    """`count` flags on different outputs, `spacing` apart, the outbox running as it goes."""
    cases = []
    for n in range(start, start + count):
        cases.append(await flag(bot, n))
        bot.clock.advance(spacing)
        if n % 10 == 9:
            await bot.deliver()
    await bot.deliver()
    return cases


def top_level_posts(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.get("channel") == channel and not c.get("thread_ts")
    ]


def surge_posts(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c for c in top_level_posts(slack, TRIAGE) if "Surge" in str(c.get("text"))]


def dms_to(slack: FakeSlack, user: str) -> list[str]:
    return [
        str(c.get("text")) for c in slack.calls_to("chat.postMessage") if c.get("channel") == user
    ]


async def test_200_flags_in_2_minutes_fold_into_one_updated_surge_card_and_one_dm(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        cases = await flag_burst(bot, 200, timedelta(milliseconds=600))
        bot.clock.advance(timedelta(seconds=30))  # the last update step is due
        await bot.deliver()

        assert len(set(cases)) == 200
        stored = await bot.runtime.store.list_cases(system_id="code-helper")
        assert len(stored) == 200  # every case keeps its own record
        # The first 20 were announced on their own; the 21st opened the surge.
        [surge_card] = surge_posts(slack)
        assert len(top_level_posts(slack, TRIAGE)) == 21
        assert "Surge" in str(surge_card["text"])
        updates = [c for c in slack.calls_to("chat.update") if "Surge" in str(c.get("text"))]
        # Updated in place, a few times for 180 arrivals (one per 15 s step at most).
        assert 1 <= len(updates) <= 10
        assert "200 new cases" in str(updates[-1]["text"])
        # The owner: 20 case DMs from before the surge, then one for the whole surge.
        dms = dms_to(slack, OWNER)
        surge_dms = [d for d in dms if "Surge on Code Helper" in d]
        assert len(surge_dms) == 1
        assert len(dms) == 21

        # Every case can be triaged: acknowledged from its button, by its case number.
        for case_id in cases:
            press = button_press(OWNER, "case_acknowledge", str(case_id), TRIAGE, "1.0")
            assert (await bot.interact(press)).status == 200
        stored = await bot.runtime.store.list_cases(system_id="code-helper")
        assert {c.status for c in stored} == {CaseStatus.acknowledged}


async def test_a_folded_case_is_triaged_from_the_surge_card(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        cases = await flag_burst(bot, 30, timedelta(seconds=2))
        folded = cases[-1]
        update = next(
            c for c in reversed(slack.calls_to("chat.update")) if "Surge" in str(c.get("text"))
        )
        buttons = [
            b["accessory"]
            for b in _blocks(update)
            if b.get("accessory", {}).get("type") == "button"
        ]
        assert str(folded) in [b["value"] for b in buttons]  # a row per waiting case
        before = len(slack.calls_to("chat.update"))

        response = await bot.interact(
            button_press(OWNER, "case_acknowledge", str(folded), TRIAGE, str(update["ts"]))
        )
        assert response.status == 200
        case = await bot.runtime.store.get_case(folded)
        assert case is not None and case.status is CaseStatus.acknowledged
        await bot.deliver()
        # The case has no card of its own: the surge card is refreshed in its place.
        after = [c for c in slack.calls_to("chat.update")[before:] if "Surge" in str(c["text"])]
        assert after and "1 acknowledged" in str(after[-1]["blocks"])
        assert len(top_level_posts(slack, TRIAGE)) == 21


async def test_a_surge_ends_after_the_quiet_period_and_the_next_case_gets_its_own_card(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        await flag_burst(bot, 25, timedelta(seconds=1))
        bot.clock.advance(timedelta(minutes=31))
        await bot.runtime.timers.fire_due()
        await bot.deliver()
        last = next(c for c in reversed(slack.calls_to("chat.update")) if "Surge" in str(c["text"]))
        assert "ended" in str(last["text"])

        posts = len(top_level_posts(slack, TRIAGE))
        case = await flag(bot, 999)
        await bot.deliver()
        new_posts = top_level_posts(slack, TRIAGE)[posts:]
        assert len(new_posts) == 1 and f"Case #{case}" in str(new_posts[0]["text"])
        assert len(surge_posts(slack)) == 1


async def test_below_the_threshold_every_case_gets_its_card_and_dm(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        await flag_burst(bot, 20, timedelta(seconds=1))
        # 20 within 10 minutes is not more than 20: no surge.
        assert surge_posts(slack) == []
        assert len(top_level_posts(slack, TRIAGE)) == 20
        assert len(dms_to(slack, OWNER)) == 20
        # Slower than the window: no surge either.
        bot.clock.advance(timedelta(minutes=11))
        await flag_burst(bot, 5, timedelta(minutes=3), start=100)
        assert surge_posts(slack) == []


async def test_without_a_surge_section_nothing_folds(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path, surge=None) as bot:
        await flag_burst(bot, 30, timedelta(seconds=1))
        assert surge_posts(slack) == []
        assert len(top_level_posts(slack, TRIAGE)) == 30


def _blocks(call: dict[str, Any]) -> list[dict[str, Any]]:
    import json

    blocks = call.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks or [])


async def test_folded_cases_escalate_and_breach_with_one_message_per_step_for_the_surge(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        cases = await flag_burst(bot, 30, timedelta(seconds=1))
        folded = cases[20:]
        bot.clock.advance(timedelta(days=1, minutes=1))
        await bot.runtime.timers.fire_due()
        await bot.deliver()

        for folded_id in folded:  # each folded case still escalated, on its own timeline
            kinds = [e.kind for e in await bot.runtime.store.timeline(folded_id)]
            assert "escalated" in kinds and "surge" in kinds
        conductor = dms_to(slack, "U0CAROL")
        about_surge = [d for d in conductor if "waiting cases of the surge on Code Helper" in d]
        # The 1d step and the acknowledge breach: once each for the whole surge.
        assert len(about_surge) == 2
        for folded_id in folded[1:]:
            assert not any(f"#{folded_id} " in d for d in conductor)
        owner = [d for d in dms_to(slack, OWNER) if "waiting cases of the surge" in d]
        assert len(owner) == 1  # the acknowledge breach of the high-severity cases

        # Day 3: the low-severity cases breach their acknowledge SLA, the others their
        # resolve SLA: one message each, not one per case and not none.
        bot.clock.advance(timedelta(days=2))
        await bot.runtime.timers.fire_due()
        await bot.deliver()
        owner = [d for d in dms_to(slack, OWNER) if "waiting cases of the surge" in d]
        assert len(owner) == 3


async def test_a_surge_is_one_entry_in_the_weeks_digest(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        routing = bot.routing
        week = IsoWeek.containing(bot.clock.now(), routing.digests[0].schedule.timezone)
        await flag_burst(bot, 30, timedelta(seconds=1))
        bot.clock.advance(timedelta(minutes=31))
        await bot.runtime.timers.fire_due()
        now = bot.clock.now()
        digest = await build_digest(
            SqlDigestReads(bot.runtime.store.engine), routing, routing.digests[0], week, now
        )

    [surge] = digest.surges
    assert (surge.system_id, surge.cases, surge.open) == ("code-helper", 30, 30)
    assert surge.ended is not None
    text = render_markdown(digest)
    assert "## Surges" in text and "Code Helper: 30 cases from" in text


async def test_a_surge_card_whose_post_answer_was_lost_is_not_posted_twice(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        await flag_burst(bot, 20, timedelta(seconds=1))
        slack.fail("chat.postMessage", Failure(502, "bad_gateway", done_anyway=True))
        # Opens the surge; its card's post goes through, unanswered. (A reporter known by
        # e-mail only gets no Slack confirmation: the card is the one message posted now.)
        await flag(bot, 20, reporter="someone@example.com")
        await bot.deliver()
        bot.clock.advance(timedelta(minutes=1))
        await bot.deliver()

        assert len(surge_posts(slack)) == 1
        assert len(dms_to(slack, OWNER)) == 21  # and the surge DM went out after the card


async def test_flags_arriving_together_open_one_surge_and_are_all_counted(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with surge_bot(database_url, slack, tmp_path) as bot:
        await flag_burst(bot, 19, timedelta(seconds=1))
        # At one instant, at once: on PostgreSQL several transactions race to open the surge.
        together = await asyncio.gather(*(flag(bot, n) for n in range(100, 130)))
        assert len(set(together)) == 30
        await bot.deliver()
        bot.clock.advance(timedelta(seconds=30))
        await bot.deliver()

        assert len(surge_posts(slack)) == 1
        surge_texts = [
            str(c["text"])
            for c in slack.calls_to("chat.postMessage") + slack.calls_to("chat.update")
            if "Surge" in str(c.get("text"))
        ]
        assert "49 new cases" in surge_texts[-1]
        dms = dms_to(slack, OWNER)
        assert len([d for d in dms if "Surge on Code Helper" in d]) == 1
        assert len(dms) == 19 + 1 + len(top_level_posts(slack, TRIAGE)) - 20
