"""An escalation step whose person Slack cannot find goes to the conductor, else the admins,
and the case's thread says so: a step always reaches someone, and never loops."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.models import Case
from tests import teams_harness
from tests.cards import with_slack_card
from tests.harness import BotUnderTest
from tests.support.fake_slack import Failure
from tests.teams_harness import HELPER_BOT, HELPERS, TeamsBotUnderTest
from tests.test_escalation import dms, flag, tick
from tests.test_escalation_snapshot import edited_routing, escalations, restarted
from tests.test_teams_triage import flag as teams_flag
from tests.test_teams_triage import teams_only
from tests.test_teams_triage import thread as teams_thread

# The Teams fixtures, by assignment: pytest finds fixtures among a module's names.
connector = teams_harness.connector
__all__ = ["connector", "teams_only"]


async def thread(bot: BotUnderTest, case_id: int) -> list[str]:
    found = await bot.runtime.store.get_case(case_id)
    case = await with_slack_card(bot.runtime.store, found) if found is not None else None
    assert isinstance(case, Case) and case.slack_card_ts
    return [
        c["text"]
        for c in bot.slack.calls_to("chat.postMessage")
        if c.get("thread_ts") == case.slack_card_ts
    ]


async def escalated(bot: BotUnderTest, case_id: int) -> list[dict[str, Any]]:
    return [e.detail for e in await bot.runtime.store.timeline(case_id) if e.kind == "escalated"]


async def test_a_step_slack_cannot_reach_goes_to_the_conductor(bot: BotUnderTest) -> None:
    # Bob (governance, the 4h step) is listed by e-mail only, and Slack has no such account.
    case_id = await flag(bot)
    await tick(bot)

    await tick(bot, timedelta(hours=4))

    assert (
        "⏫ Not acknowledged after 4h: Bob could not be reached in Slack "
        "(no account for bob@example.com): escalated to Carol, the conductor."
    ) in await thread(bot, case_id)
    assert escalations(bot, "U0CAROL") == [
        f"Case #{case_id} has not been acknowledged after 4h: it is escalated to you "
        "(Bob could not be reached)."
    ]
    assert not [c for c in bot.slack.refused if c.method == "chat.postMessage"]
    assert (await escalated(bot, case_id))[1] == {
        "step": 1,
        "notified": "carol",
        "unreachable": "bob",
    }
    assert await bot.runtime.store.pending_count() == 0  # nothing stuck or dead for Bob


async def test_a_look_up_that_fails_for_a_moment_is_not_taken_for_no_account(
    bot: BotUnderTest,
) -> None:
    case_id = await flag(bot)
    await tick(bot)
    bot.slack.users["bob@example.com"] = "U0BOB"  # Bob is in Slack, but Slack is busy:
    busy = Failure(429, "ratelimited", retry_after=60)
    bot.slack.fail("users.lookupByEmail", busy, busy, busy)

    await tick(bot, timedelta(hours=4))
    assert "⏫ Not acknowledged after 4h: escalated to Bob." in await thread(bot, case_id)
    assert escalations(bot, "U0CAROL") == []
    assert dms(bot, "U0BOB") == []  # his DM waits for Slack to answer

    await tick(bot, timedelta(minutes=5))
    assert escalations(bot, "U0BOB") == [
        f"Case #{case_id} has not been acknowledged after 4h: it is escalated to you."
    ]
    assert await bot.runtime.store.pending_count() == 0


async def test_when_the_conductor_cannot_be_reached_either_the_admins_are(
    bot: BotUnderTest,
) -> None:
    case_id = await flag(bot)
    await tick(bot, timedelta(minutes=5))

    def conductor_by_email_only(data: dict[str, Any]) -> None:
        data["people"]["carol"] = {"name": "Carol", "email": "carol@example.com"}
        data["admins"] = ["carol", "dave"]

    async with restarted(bot, edited_routing(conductor_by_email_only)) as edited:
        await tick(edited, timedelta(hours=4))

        assert (
            "⏫ Not acknowledged after 4h: Bob could not be reached in Slack "
            "(no account for bob@example.com), nor could Carol, the conductor: "
            "escalated to the admin, Dave."
        ) in await thread(edited, case_id)
        assert escalations(edited, "U0DAVE") == [
            f"Case #{case_id} has not been acknowledged after 4h: it is escalated to you "
            "(Bob could not be reached)."
        ]
        # The last step names the conductor: nobody but the admins, once, no loop.
        await tick(edited, timedelta(hours=20))
        await tick(edited, timedelta(days=1))
        assert (
            "⏫ Not acknowledged after 1d: Carol could not be reached in Slack "
            "(no account for carol@example.com): escalated to the admin, Dave."
        ) in await thread(edited, case_id)
        assert len(escalations(edited, "U0DAVE")) == 2
        assert [d["notified"] for d in await escalated(edited, case_id)] == [
            "alice",
            "dave",
            "dave",
        ]


async def test_with_nobody_reachable_the_thread_says_so_once(bot: BotUnderTest) -> None:
    case_id = await flag(bot)
    await tick(bot, timedelta(minutes=5))

    def nobody_in_slack(data: dict[str, Any]) -> None:
        data["people"]["carol"] = {"name": "Carol", "email": "carol@example.com"}
        data["admins"] = ["carol"]

    async with restarted(bot, edited_routing(nobody_in_slack)) as edited:
        await tick(edited, timedelta(hours=4))
        await tick(edited, timedelta(hours=1))

        lines = [t for t in await thread(edited, case_id) if t.startswith("⏫")]
        assert lines == [
            "⏫ Not acknowledged after 4h: Bob could not be reached in Slack "
            "(no account for bob@example.com), nor could Carol, the conductor, and no admin "
            "can be reached either: nobody was notified."
        ]
        assert dms(edited, "U0BOB") == []
        assert (await escalated(edited, case_id))[1]["notified"] == []


async def test_with_slack_off_a_step_teams_cannot_reach_goes_to_the_conductor(
    teams_only: TeamsBotUnderTest,
) -> None:
    bot = teams_only
    # Teams Helper: its governance owner Frank (the 4h step) is listed by e-mail only, and no
    # member of the triage team has that address.
    case = await teams_flag(bot, bot_id=HELPER_BOT)
    await bot.runtime.timers.fire_due()
    await bot.deliver()

    bot.clock.advance(timedelta(hours=4))
    await bot.runtime.timers.fire_due()
    await bot.deliver()

    said = [s.activity.get("text") or "" for s in await teams_thread(bot, case, HELPERS)]
    assert (
        "⏫ Not acknowledged after 4h: Frank could not be reached in Teams "
        "(no account for frank@example.com): escalated to Carol, the conductor."
    ) in said
    [to_carol] = [t for t in said if "escalated to you" in t]  # an @mention: no 1:1 chat yet
    assert to_carol.startswith(f"<at>Carol</at> Case #{case.id} has not been acknowledged")
    assert await escalated(bot, case.id or 0) == [
        {"step": 0, "notified": "erin"},
        {"step": 1, "notified": "carol", "unreachable": "frank"},
    ]
