"""Webhooks end to end: a real receiver (tests/webhook_receiver.py) verifies each delivery with
the documented example and dedupes by event id, through a receiver outage and a bot restart, on
SQLite and PostgreSQL; every case event carries what a receiver needs; a hung receiver never
delays a Slack card."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.core.outbox import MAX_ATTEMPTS
from digests.week import IsoWeek
from handlers.webhooks.signature import sign
from tests.harness import ROUTING_FILE, BotUnderTest, button_press, running_bot, view_submission
from tests.support.fake_slack import FakeSlack
from tests.test_triage import current, flag, open_and_submit, posted, press
from tests.webhook_receiver import Answer, WebhookReceiver, load_verify

SECRET = "whsec-test-0123456789abcdefghij"
SECRET_ENV = "LOOPKEEPER_TEST_WEBHOOK_SECRET"
REPORT = {
    "system": "support-assistant",
    "category": "hallucination",
    "comment": "It made up a refund policy",
    "trace_id": "trace-42",
    "prompt_version": "v8",
    "model": "gpt-x",
    "message_link": "https://chat.example.com/m/1",
    "reporter": "U0FIRST",
}


def routing_with_webhooks(tmp_path: Path, *hooks: str) -> Path:
    """The tests' routing file with this `webhooks:` section (YAML list items)."""
    path = tmp_path / "routing.yaml"
    text = ROUTING_FILE.read_text(encoding="utf-8") + "\nwebhooks:\n" + "".join(hooks)
    path.write_text(text, encoding="utf-8")
    return path


def hook(url: str, events: str = "all", systems: str = "all") -> str:
    return (
        f"  - url: {url}\n    events: {events}\n    systems: {systems}\n"
        f"    secret_env: {SECRET_ENV}\n"
    )


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WebhookReceiver]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    from bot.core.clock import ManualClock

    found = WebhookReceiver(SECRET, ManualClock())
    await found.start()
    yield found
    await found.stop()
    assert found.undocumented == []  # every event was as the OpenAPI document describes it


async def deliver_hooks(bot: BotUnderTest) -> int:
    assert bot.runtime.webhooks is not None
    return await bot.runtime.webhooks.drain()


async def test_an_outage_and_a_restart_lose_no_event_and_the_receiver_sees_one(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(tmp_path, hook(receiver.url))
    # The first answer is lost on the way back (the receiver did process it), then an outage.
    receiver.answer(Answer(500, record=True), Answer(503), Answer(429, {"Retry-After": "120"}))
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        assert (await bot.ingest(REPORT)).status == 201
        assert await deliver_hooks(bot) == 0
        started = bot.clock.now()
    assert len(receiver.attempts) == 1

    async with running_bot(database_url, slack, routing) as bot:  # a new process, same database
        receiver.clock = bot.clock
        bot.clock.set(started + timedelta(seconds=3))  # the first backoff (2 s) is over
        assert await deliver_hooks(bot) == 0  # 503
        bot.clock.advance(timedelta(seconds=5))  # the second (4 s) is over
        assert await deliver_hooks(bot) == 0  # 429, Retry-After: 120
        bot.clock.advance(timedelta(seconds=60))
        assert await deliver_hooks(bot) == 0
        assert len(receiver.attempts) == 3  # Retry-After honoured: not tried again yet
        bot.clock.advance(timedelta(seconds=61))
        assert await deliver_hooks(bot) == 1
        assert await deliver_hooks(bot) == 0  # delivered: never sent again

    assert [a["ok"] for a in receiver.attempts] == [True] * 4  # each attempt signed anew
    ids = {a["headers"]["X-Loopkeeper-Event-Id"] for a in receiver.attempts}
    assert len(ids) == 1  # the same event id on every attempt, across the restart
    assert {a["body"] for a in receiver.attempts} == {receiver.attempts[0]["body"]}
    assert receiver.duplicates == 1  # the retry after the lost answer, deduped by id
    [event] = receiver.events.values()
    assert event["id"] in ids and event["type"] == "case.opened"
    data = event["data"]
    assert data["system"] == "support-assistant" and data["category"] == "hallucination"
    assert (data["severity"], data["status"], data["owner"]) == ("high", "new", "alice")
    assert (data["trace_id"], data["prompt_version"], data["model"]) == ("trace-42", "v8", "gpt-x")
    assert data["links"]["output"] == "https://chat.example.com/m/1"
    assert data["actor"] == "slack:U0FIRST" and data["case_number"] >= 1


async def test_a_receiver_that_hangs_never_delays_a_slack_card(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(tmp_path, hook(receiver.url))
    receiver.hold = asyncio.Event()
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        await bot.runtime.start_background()  # the delivery loops, as `serve` runs them
        for n, ts in enumerate(("1700000000.000100", "1700000000.000101"), start=1):
            bot.slack.add_message("C0SUPPORT", {"type": "message", "ts": ts, "bot_id": "B0SUPPORT"})
            await bot.react("U0FIRST", "x", "C0SUPPORT", ts)
            # Each card goes out while the receiver holds the first event without answering
            # (the loop polls; a hang here is the failure, caught by the guard).
            await asyncio.wait_for(_until(lambda n=n: len(posted(bot, "C0TRIAGE")) == n), 30)
            assert len(receiver.attempts) == 1
            assert bot.runtime.webhooks is not None and bot.runtime.webhooks.failures == 0
            assert bot.runtime.dispatcher.failures == 0
        receiver.hold.set()
        await asyncio.wait_for(_until(lambda: len(receiver.events) == 2), 30)
    assert [e["type"] for e in receiver.events.values()] == ["case.opened"] * 2


async def _until(condition: Callable[[], bool]) -> None:
    """Return once `condition` holds, checking as the background loops run."""
    for _ in itertools.count():
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_every_triage_move_is_an_event_with_who_why_and_what_before(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(tmp_path, hook(receiver.url))
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        case = await flag(bot, "U0FIRST", "1700000000.000200")
        await press(bot, "U0ALICE", "case_acknowledge", case)
        await open_and_submit(bot, "U0ALICE", "case_reassign", case, {"person": "U0DAVE"})
        await open_and_submit(
            bot,
            "U0DAVE",
            "case_resolve",
            case,
            {"reason": "prompt_fixed", "note": "Prompt v9 <b>checks</b> refunds"},
        )
        await flag(bot, "U0SECOND", "1700000000.000200")  # flagged again after closing
        other = await flag(bot, "U0THIRD", "1700000000.000300")
        await open_and_submit(bot, "U0ALICE", "case_duplicate", other, {"original": f"#{case.id}"})
        assert await deliver_hooks(bot) == 7
        case = await current(bot, case)

    events = sorted(receiver.events.values(), key=lambda e: (e["created_at"], e["type"]))
    by_type = {e["type"]: e["data"] for e in events}
    assert sorted(by_type) == sorted(
        [
            "case.opened",
            "case.acknowledged",
            "case.reassigned",
            "case.resolved",
            "case.reopened",
            "case.duplicate",
        ]
    )
    assert len(receiver.of_type("case.opened")) == 2  # two outputs flagged
    acknowledged = by_type["case.acknowledged"]
    assert (acknowledged["actor"], acknowledged["previous_status"]) == ("alice", "new")
    assert acknowledged["status"] == "acknowledged"
    reassigned = by_type["case.reassigned"]
    assert (reassigned["previous_owner"], reassigned["owner"]) == ("alice", "dave")
    resolved = by_type["case.resolved"]
    assert (resolved["actor"], resolved["reason"]) == ("dave", "prompt_fixed")
    assert resolved["note"] == "Prompt v9 <b>checks</b> refunds"  # as typed: JSON needs no escape
    assert (resolved["previous_status"], resolved["status"]) == ("acknowledged", "resolved")
    reopened = by_type["case.reopened"]
    assert reopened["case_number"] == case.id and reopened["status"] == "new"
    assert reopened["report_count"] == 2
    duplicate = by_type["case.duplicate"]
    assert duplicate["duplicate_of"] == case.id and duplicate["status"] == "duplicate"
    assert all(a["ok"] for a in receiver.attempts) and receiver.duplicates == 0


async def test_escalations_and_sla_breaches_are_events_filtered_by_event_and_system(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(
        tmp_path,
        hook(receiver.url, events="[case.escalated, case.sla_breached]", systems="[code-helper]"),
    )
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        await flag(bot, "U0FIRST", "1700000000.000400")  # support-assistant: not wanted
        bot.slack.add_message(
            "C0CODE", {"type": "message", "ts": "1700000000.000500", "bot_id": "B0CODE"}
        )
        code_case = await flag(bot, "U0FIRST", "1700000000.000500", channel="C0CODE")
        bot.clock.advance(timedelta(hours=5))  # past the 4 h acknowledge SLA of `high`
        await bot.runtime.timers.fire_due()
        bot.clock.advance(timedelta(days=1))  # code-helper's next step: its conductor
        await bot.runtime.timers.fire_due()
        await deliver_hooks(bot)

    assert {e["data"]["system"] for e in receiver.events.values()} == {"code-helper"}
    [breach] = receiver.of_type("case.sla_breached")
    assert breach["data"]["case_number"] == code_case.id
    assert (breach["data"]["sla"], breach["data"]["reason"]) == (
        "acknowledge",
        "acknowledge_overdue",
    )
    assert breach["data"]["notified"] == ["dave", "carol"]
    [escalated] = receiver.of_type("case.escalated")
    assert escalated["data"]["step"] == 1 and escalated["data"]["notified"] == ["carol"]
    assert escalated["data"]["waited"] == "1d"


async def test_a_posted_digest_is_an_event(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(tmp_path, hook(receiver.url, events="[digest.posted]"))
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        [digest] = bot.routing.digests
        week = IsoWeek.of_date(bot.clock.now().date()).previous()
        assert await bot.runtime.digests.post_now(digest, week)
        assert await deliver_hooks(bot) == 1
    [event] = receiver.events.values()
    assert event["type"] == "digest.posted"
    assert event["data"] == {
        "digest": "weekly",
        "week": str(week),
        "systems": "all",
        "channels": {"slack": "C0CONDUCT"},
        "late": False,
        "manual": True,
    }


async def test_a_receiver_refusing_for_good_dead_letters_at_once_and_others_retry_to_the_end(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(tmp_path, hook(receiver.url, events="[case.opened]"))
    receiver.answer(Answer(410))
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        assert (await bot.ingest(REPORT)).status == 201
        await deliver_hooks(bot)
        assert bot.runtime.webhooks is not None and bot.runtime.webhooks.dead_lettered == 1
        receiver.answer(*[Answer(500)] * MAX_ATTEMPTS)
        another = {**REPORT, "trace_id": "trace-43", "message_link": "https://chat.example.com/m/2"}
        assert (await bot.ingest(another)).status == 201
        for _ in range(MAX_ATTEMPTS + 2):
            await deliver_hooks(bot)
            bot.clock.advance(timedelta(minutes=11))  # past the longest backoff
        assert bot.runtime.webhooks.dead_lettered == 2  # after its last attempt, not forever
    assert len(receiver.attempts) == 1 + MAX_ATTEMPTS
    assert receiver.events == {}


async def test_a_question_and_the_reporters_answer_are_events(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(
        tmp_path, hook(receiver.url, events="[case.needs_info, case.acknowledged]")
    )
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        case = await flag(bot, "U0REPORTER", "1700000000.000800")
        await open_and_submit(
            bot, "U0ALICE", "case_needs_info", case, {"question": "Which customer asked?"}
        )
        await bot.interact(button_press("U0REPORTER", "case_answer", str(case.id), channel="D0"))
        view = bot.slack.calls_to("views.open")[-1]["view"]
        await bot.interact(view_submission("U0REPORTER", view, {"answer": "ACME, yesterday"}))
        assert await deliver_hooks(bot) == 2

    [asked] = receiver.of_type("case.needs_info")
    assert (asked["data"]["actor"], asked["data"]["note"]) == ("alice", "Which customer asked?")
    [answered] = receiver.of_type("case.acknowledged")
    assert answered["data"]["previous_status"] == "needs_info"
    assert (answered["data"]["reason"], answered["data"]["note"]) == (
        "reporter_answered",
        "ACME, yesterday",
    )


async def test_a_redirect_is_not_followed_and_the_log_shows_no_path_or_secret(
    database_url: str,
    slack: FakeSlack,
    receiver: WebhookReceiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = receiver.url + "?token=hook-token-in-the-url"
    routing = routing_with_webhooks(tmp_path, hook(url, events="[case.opened]"))
    receiver.answer(Answer(307, {"Location": receiver.url + "?elsewhere=1"}), Answer(500))
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        await bot.ingest(REPORT)
        await bot.ingest({**REPORT, "trace_id": "trace-44"})
        await deliver_hooks(bot)
        assert bot.runtime.webhooks is not None
        assert bot.runtime.webhooks.dead_lettered == 1  # the redirect: at once
        assert bot.runtime.webhooks.failures == 2  # the 500: retried later
    assert len(receiver.attempts) == 2  # nobody went to the Location given (307 keeps POST)
    # loopkeeper's own lines (SQLAlchemy's, on at DEBUG, show the stored rows by design).
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("sqlalchemy")
    )
    assert "HTTP 307 from http://127.0.0.1:" in logged and "HTTP 500 from" in logged
    assert "hook-token-in-the-url" not in logged and "/hook" not in logged
    assert SECRET not in logged


async def test_retry_after_as_an_http_date_is_honoured(
    database_url: str, slack: FakeSlack, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    routing = routing_with_webhooks(tmp_path, hook(receiver.url, events="[case.opened]"))
    async with running_bot(database_url, slack, routing) as bot:
        receiver.clock = bot.clock
        until = bot.clock.now() + timedelta(minutes=5)
        receiver.answer(Answer(503, {"Retry-After": format_datetime(until, usegmt=True)}))
        await bot.ingest(REPORT)
        assert await deliver_hooks(bot) == 0
        bot.clock.advance(timedelta(minutes=4))
        assert await deliver_hooks(bot) == 0 and len(receiver.attempts) == 1
        bot.clock.advance(timedelta(minutes=1, seconds=1))
        assert await deliver_hooks(bot) == 1


def test_the_documented_check_refuses_a_tampered_body_a_wrong_secret_and_a_replay() -> None:
    verify = load_verify()
    body, at = b'{"id":"evt_1","type":"case.opened"}', 1_764_000_000
    headers = {"X-Loopkeeper-Timestamp": str(at), "X-Loopkeeper-Signature": sign(b"k", at, body)}
    assert verify(b"k", headers, body, now=at + 10)
    assert not verify(b"k", headers, body.replace(b"opened", b"closed"), now=at + 10)
    assert not verify(b"other", headers, body, now=at + 10)
    assert not verify(b"k", headers, body, now=at + 301)  # an old delivery sent again
    assert not verify(b"k", {**headers, "X-Loopkeeper-Signature": "v1=é"}, body, now=at)
    assert not verify(b"k", {}, body, now=at)
