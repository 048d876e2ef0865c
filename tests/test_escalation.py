"""Escalation chains and SLA breaches under a fake clock: each fires once, stale ones never."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.harness import BotUnderTest, button_press

TS = "1700000000.000100"


async def flag(bot: BotUnderTest, emoji: str = "x", user: str = "U0REPORTER") -> int:
    if TS not in bot.slack.messages["C0SUPPORT"]:
        bot.slack.add_message(
            "C0SUPPORT", {"type": "message", "ts": TS, "bot_id": "B0SUPPORT", "text": "Sydney"}
        )
    await bot.react(user, emoji, "C0SUPPORT", TS)
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    assert case.id is not None
    return case.id


async def tick(bot: BotUnderTest, advance: timedelta = timedelta(0)) -> None:
    """Move the clock, then run what the ticker runs: due timers, then the outbox."""
    bot.clock.advance(advance)
    await bot.runtime.timers.fire_due()
    await bot.deliver()


def dms(bot: BotUnderTest, user: str) -> list[str]:
    return [c["text"] for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == user]


async def test_unacknowledged_case_climbs_the_chain_once_per_step(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    case_id = await flag(bot)

    await tick(bot)
    assert [t.split(":")[0] for t in dms(bot, "U0ALICE")] == [f"Case #{case_id} was routed to you"]
    assert dms(bot, "U0BOB") == []

    await tick(bot, timedelta(hours=3, minutes=59))
    assert dms(bot, "U0BOB") == []

    await tick(bot, timedelta(minutes=1))  # 4h: governance step, and the 4h acknowledge SLA
    [escalated] = dms(bot, "U0BOB")
    assert escalated.startswith(f"Case #{case_id} has not been acknowledged after 4h")
    assert any("SLA breached" in t for t in dms(bot, "U0ALICE"))
    assert any("SLA breached" in t for t in dms(bot, "U0CAROL"))

    await tick(bot, timedelta(hours=20))  # 1d: conductor step
    assert any(
        t.startswith(f"Case #{case_id} has not been acknowledged after 1d")
        for t in dms(bot, "U0CAROL")
    )

    before = len(bot.slack.calls_to("chat.postMessage"))
    await tick(bot)
    await tick(bot, timedelta(minutes=5))
    assert len(bot.slack.calls_to("chat.postMessage")) == before  # nothing fires twice

    timeline = [e.kind for e in await bot.runtime.store.timeline(case_id)]
    assert timeline.count("escalated") == 3
    assert timeline.count("sla_breached") == 1


async def test_acknowledging_stops_the_chain_but_not_the_resolve_sla(bot: BotUnderTest) -> None:
    case_id = await flag(bot)
    await tick(bot)
    bot.clock.advance(timedelta(hours=1))
    await bot.interact(button_press("U0ALICE", "case_acknowledge", str(case_id)))

    await tick(bot, timedelta(days=2))
    assert not any("escalated" in t or "SLA" in t for t in dms(bot, "U0CAROL"))

    await tick(bot, timedelta(days=1))  # high: resolve within 3d
    breaches = [t for t in dms(bot, "U0CAROL") if "SLA breached" in t]
    assert breaches == [breaches[0]]
    assert "was not resolved in time" in breaches[0]
    assert any("was not resolved in time" in t for t in dms(bot, "U0ALICE"))


async def test_closed_cases_fire_nothing(bot: BotUnderTest) -> None:
    case_id = await flag(bot)
    await tick(bot)
    await bot.interact(button_press("U0ALICE", "case_wont_fix", str(case_id)))
    view = bot.slack.calls_to("views.open")[-1]["view"]
    from tests.harness import view_submission

    await bot.interact(view_submission("U0ALICE", view, {"reason": "by design"}))
    await bot.deliver()
    sent = len(bot.slack.calls_to("chat.postMessage"))

    await tick(bot, timedelta(days=40))

    assert len(bot.slack.calls_to("chat.postMessage")) == sent
    timeline = [e.kind for e in await bot.runtime.store.timeline(case_id)]
    assert "sla_breached" not in timeline


async def test_raised_severity_moves_the_acknowledge_deadline(bot: BotUnderTest) -> None:
    case_id = await flag(bot, emoji="x")  # high: acknowledge within 4h
    await tick(bot, timedelta(minutes=10))
    await flag(bot, emoji="rotating_light", user="U0OTHER")  # critical: within 1h of opening

    await tick(bot, timedelta(minutes=50))
    assert any("was not acknowledged in time" in t for t in dms(bot, "U0CAROL"))

    await tick(bot, timedelta(hours=3))  # the old 4h deadline no longer applies
    breaches = [e for e in await bot.runtime.store.timeline(case_id) if e.kind == "sla_breached"]
    assert len(breaches) == 1


async def test_two_workers_racing_fire_each_timer_once(bot: BotUnderTest) -> None:
    for i in range(10):
        ts = f"1700000200.{i:06d}"
        bot.slack.add_message(
            "C0SUPPORT", {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": "x"}
        )
        await bot.react(f"U0R{i}", "x", "C0SUPPORT", ts)
    bot.clock.advance(timedelta(days=5))

    results = await asyncio.gather(bot.runtime.timers.fire_due(), bot.runtime.timers.fire_due())

    # Per case: the two later chain steps and two SLA breaches (acknowledge, resolve); the
    # first step (after 0m) fired when the case opened.
    assert sum(results) == 10 * 4
    for case in await bot.runtime.store.list_cases():
        assert case.id is not None
        kinds = [e.kind for e in await bot.runtime.store.timeline(case.id)]
        assert (kinds.count("escalated"), kinds.count("sla_breached")) == (3, 2)
