"""/metrics shows trouble: what came in, what went out, what waits, what is late.

End to end: signed requests to /slack/events, the fake Slack at the network, the real database
(SQLite and PostgreSQL), the injected clock to move time forward; /metrics parsed as
Prometheus parses it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.core.models import Case
from tests import teams_harness
from tests.harness import BotUnderTest
from tests.metrics_scrape import scrape, value
from tests.support.fake_slack import Failure
from tests.teams_harness import TeamsBotUnderTest, account, ai_message
from tests.test_triage import current, open_and_submit

# The Teams fixtures, by assignment: pytest finds fixtures among a module's names.
connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

AI_TEXT = "The capital of Australia is Sydney."
HIGH_ACKNOWLEDGE = timedelta(hours=4)  # tests/data/routing.yaml: a hallucination is high


async def file_a_flag(bot: BotUnderTest, ts: str, *, process: bool = True) -> None:
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": AI_TEXT}
    )
    response = await bot.react("U0REPORTER", "x", "C0SUPPORT", ts, process=process)
    assert response.status == 200


async def only_case(bot: BotUnderTest) -> Case:
    [case] = await bot.runtime.store.list_cases()
    return case


async def test_a_flag_filed_and_its_card_delivered_are_counted(bot: BotUnderTest) -> None:
    await file_a_flag(bot, "1700000000.000100")
    bot.clock.advance(timedelta(seconds=7))  # the outbox is 7 s behind
    delivered = await bot.deliver()

    samples = await scrape(bot)
    assert value(samples, "loopkeeper_flags_received_total", path="reaction", platform="slack") == 1
    assert value(samples, "loopkeeper_reports_filed_total") == 1
    assert value(samples, "loopkeeper_cases_opened_total", severity="high") == 1
    assert value(samples, "loopkeeper_cases_open", severity="high") == 1
    assert value(samples, "loopkeeper_cases_open", severity="low") == 0
    assert delivered >= 2  # the card and the owner's DM at least
    assert value(samples, "loopkeeper_notices_delivered_total", platform="slack") == delivered
    assert value(samples, "loopkeeper_flag_to_card_seconds_count", platform="slack") == 1
    assert value(samples, "loopkeeper_flag_to_card_seconds_sum", platform="slack") == 7.0
    assert value(samples, "loopkeeper_outbox_oldest_pending_seconds") == 0


async def test_resolving_a_case_counts_it_closed(bot: BotUnderTest) -> None:
    await file_a_flag(bot, "1700000000.000200")
    await bot.deliver()
    case = await only_case(bot)

    await open_and_submit(
        bot, "U0ALICE", "case_resolve", case, {"reason": "prompt_fixed", "note": "Prompt v8"}
    )

    assert (await current(bot, case)).status.value == "resolved"
    samples = await scrape(bot)
    assert value(samples, "loopkeeper_cases_closed_total", status="resolved") == 1
    assert value(samples, "loopkeeper_cases_open", severity="high") == 0


async def test_a_dead_lettered_notice_is_counted(bot: BotUnderTest) -> None:
    await file_a_flag(bot, "1700000000.000300")
    bot.slack.fail("chat.postEphemeral", Failure(200, "channel_not_found"))  # the confirmation

    await bot.deliver()

    samples = await scrape(bot)
    assert value(samples, "loopkeeper_notices_failed_total", platform="slack") == 1
    assert value(samples, "loopkeeper_notices_dead_lettered_total", platform="slack") == 1
    assert value(samples, "loopkeeper_outbox_dead") == 1


async def test_an_sla_breach_counts_once_the_deadline_passes(bot: BotUnderTest) -> None:
    await file_a_flag(bot, "1700000000.000400")
    await bot.deliver()
    assert value(await scrape(bot), "loopkeeper_sla_breaches_open") == 0

    bot.clock.advance(HIGH_ACKNOWLEDGE + timedelta(seconds=1))
    assert value(await scrape(bot), "loopkeeper_sla_breaches_open") == 1  # before any timer

    await bot.runtime.timers.fire_due()
    samples = await scrape(bot)
    assert value(samples, "loopkeeper_timers_fired_total", kind="acknowledge_breach") == 1


async def test_the_oldest_pending_age_grows_with_the_clock(bot: BotUnderTest) -> None:
    await file_a_flag(bot, "1700000000.000500", process=False)  # accepted, not yet filed
    bot.clock.advance(timedelta(seconds=30))
    samples = await scrape(bot)
    assert value(samples, "loopkeeper_inbox_oldest_pending_seconds") == 30
    assert value(samples, "loopkeeper_outbox_oldest_pending_seconds") == 0

    await bot.runtime.inbox.drain()  # filed now: its messages wait in the outbox
    bot.clock.advance(timedelta(seconds=90))
    samples = await scrape(bot)
    assert value(samples, "loopkeeper_inbox_oldest_pending_seconds") == 0
    assert value(samples, "loopkeeper_outbox_oldest_pending_seconds") == 90

    await bot.deliver()
    assert value(await scrape(bot), "loopkeeper_outbox_oldest_pending_seconds") == 0


async def test_every_metric_is_named_and_documented_by_convention(bot: BotUnderTest) -> None:
    await file_a_flag(bot, "1700000000.000600")
    await bot.deliver()
    response = await bot.http.get(f"{bot.base_url}/metrics")
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}

    ours = {name: f for name, f in families.items() if name.startswith("loopkeeper_")}
    assert all(f.documentation for f in ours.values())
    # Counters are exposed as `_total`; a gauge may not pretend to be a counter.
    assert all(f.type != "gauge" or not name.endswith("_total") for name, f in ours.items())
    assert families["loopkeeper_flag_to_card_seconds"].type == "histogram"
    request_seconds = families["loopkeeper_http_request_seconds"]
    assert request_seconds.type == "histogram"
    assert {s.labels.get("route") for s in request_seconds.samples} >= {"/slack/events"}
    # The process's own, as the Prometheus client library collects them.
    assert "process_cpu_seconds" in families
    assert "python_info" in families


async def test_a_flag_forwarded_through_the_api_is_counted_by_its_path(bot: BotUnderTest) -> None:
    body = {
        "system": "code-helper",
        "category": "edge_case",
        "comment": "It could not handle an empty list",
        "reporter": {"slack_id": "U0REPORTER"},
    }
    assert (await bot.ingest(body)).status in (200, 201)

    samples = await scrape(bot)
    assert value(samples, "loopkeeper_flags_received_total", path="api", platform="api") == 1
    assert (
        value(samples, "loopkeeper_flags_received_total", path="reaction", platform="slack") is None
    )
    assert value(samples, "loopkeeper_cases_opened_total", severity="medium") == 1


async def test_a_weekly_digest_posted_is_counted_once(bot: BotUnderTest) -> None:
    bot.clock.set(datetime(2026, 3, 18, 10, 0, tzinfo=UTC))
    await file_a_flag(bot, "1700000000.000700")

    bot.clock.set(datetime(2026, 3, 23, 9, 0, 30, tzinfo=UTC))  # Monday 09:00 London
    assert await bot.runtime.digests.tick() == 1
    assert await bot.runtime.digests.tick() == 0  # posted once

    assert value(await scrape(bot), "loopkeeper_digests_posted_total", platform="slack") == 1


async def test_a_teams_flag_and_its_cards_on_both_platforms_are_counted(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, _body = await teams_bot.submit_report(
        account("dan"), ai_message(AI_TEXT), {"category": "hallucination", "severity": "critical"}
    )
    assert status == 200
    teams_bot.clock.advance(timedelta(seconds=3))
    await teams_bot.deliver()  # this system triages in Teams and in Slack

    samples = await scrape(teams_bot)
    assert value(samples, "loopkeeper_flags_received_total", path="teams", platform="teams") == 1
    assert value(samples, "loopkeeper_cases_opened_total", severity="critical") == 1
    for platform in ("teams", "slack"):
        assert value(samples, "loopkeeper_flag_to_card_seconds_count", platform=platform) == 1
        assert value(samples, "loopkeeper_flag_to_card_seconds_sum", platform=platform) == 3.0
        assert (value(samples, "loopkeeper_notices_delivered_total", platform=platform) or 0) >= 1


async def test_known_outcomes_are_zero_before_they_first_happen(bot: BotUnderTest) -> None:
    samples = await scrape(bot)

    for severity in ("low", "medium", "high", "critical"):
        assert value(samples, "loopkeeper_cases_opened_total", severity=severity) == 0
    for status in ("resolved", "wont_fix", "duplicate"):
        assert value(samples, "loopkeeper_cases_closed_total", status=status) == 0
    for kind in ("escalation", "acknowledge_breach", "resolve_breach"):
        assert value(samples, "loopkeeper_timers_fired_total", kind=kind) == 0
    assert value(samples, "loopkeeper_sla_breaches_open") == 0
