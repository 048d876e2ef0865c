"""`POST /slack/events` under hostile and broken input: 4xx or an acknowledged ignore, never a
500, never a traceback in the log, and nothing stored that should not be."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from bot.core.models import CaseStatus
from handlers.slack import blocks, card
from tests.harness import (
    ROUTING_FILE,
    SIGNING_SECRET,
    BotUnderTest,
    button_press,
    now_utc,
    shortcut_payload,
    slack_signature,
    view_submission,
)
from tests.support.fake_slack import BOT_TOKEN, FakeSlack

AI_TEXT = "Our refund window is 90 days for all products."
KEPT_TABLES = ("cases", "reports", "case_timeline", "processed_deliveries", "outbox", "inbox")


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with_traces = [r.getMessage() for r in caplog.records if r.exc_info]
    assert with_traces == []
    assert "Traceback" not in caplog.text


async def stored(bot: BotUnderTest) -> dict[str, int]:
    """How many rows each table a request could write to holds."""
    counts: dict[str, int] = {}
    async with bot.runtime.store.engine.connect() as connection:
        for table in KEPT_TABLES:
            result = await connection.execute(text(f'SELECT COUNT(*) FROM "{table}"'))
            counts[table] = int(result.scalar_one())
    return counts


NOTHING = dict.fromkeys(KEPT_TABLES, 0)


def warnings_about(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and words in r.getMessage()
    ]


async def post_raw(bot: BotUnderTest, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    response = await bot.http.post(f"{bot.base_url}/slack/events", data=body, headers=headers)
    return response.status, await response.text()


def reaction_body(user: str = "U0REPORTER", **event: Any) -> bytes:
    return json.dumps(
        {
            "type": "event_callback",
            "event_id": event.pop("event_id", "Ev0HOSTILE"),
            "event": {
                "type": "reaction_added",
                "user": user,
                "reaction": "x",
                "item": {"type": "message", "channel": "C0SUPPORT", "ts": "1700000000.000100"},
                "event_ts": "1700000000.000200",
                **event,
            },
        }
    ).encode()


# --- authentication first, and crash-proof -------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("yesterday", id="words"),
        pytest.param("1e9", id="float-notation"),
        pytest.param("9" * 5000, id="5000-digits"),
        pytest.param("", id="empty"),
        pytest.param("١٧٠٠٠٠٠٠٠٠", id="arabic-indic-digits"),
    ],
)
async def test_a_malformed_timestamp_is_refused_before_anything_is_parsed(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    body = reaction_body()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(body, int(bot.clock.now().timestamp())),
    }

    with caplog.at_level(logging.INFO):
        status, _ = await post_raw(bot, body, headers)

    assert status == 401
    no_traceback(caplog)
    assert await stored(bot) == NOTHING


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("v0=not-hex", id="garbage"),
        pytest.param("v0=" + "é" * 64, id="non-ascii"),
        pytest.param("v1=" + "0" * 64, id="other-version"),
    ],
)
async def test_a_missing_or_garbage_signature_is_refused(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, signature: str | None
) -> None:
    body = reaction_body()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(int(bot.clock.now().timestamp())),
    }
    if signature is not None:
        headers["X-Slack-Signature"] = signature

    with caplog.at_level(logging.INFO):
        status, _ = await post_raw(bot, body, headers)

    assert status == 401
    no_traceback(caplog)
    assert await stored(bot) == NOTHING


async def test_a_body_that_is_not_utf8_is_refused_signed_or_not(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"type": "event_callback", "event": {"type": "reaction_added", "user": "\xff\xfe"}}'
    now = int(bot.clock.now().timestamp())
    forged = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": slack_signature(body, now, "not-the-secret"),
    }

    with caplog.at_level(logging.INFO):
        unsigned, _ = await post_raw(bot, body, forged)
        signed = await bot.post_signed(body, "application/json")
        form = await bot.post_signed(b"payload=\xff", "application/x-www-form-urlencoded")

    assert unsigned == 401
    assert (signed.status, form.status) == (400, 400)
    assert "UTF-8" in (await signed.json())["error"]
    no_traceback(caplog)
    assert await stored(bot) == NOTHING


async def test_an_enormous_body_is_refused_unread(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"type": "event_callback", "padding": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(body, "application/json")

    assert response.status == 413
    no_traceback(caplog)
    assert await stored(bot) == NOTHING


# --- after authentication: bounded parsing ---------------------------------------------------


@pytest.mark.parametrize("kind", ["events-json", "interactivity-form"])
async def test_deeply_nested_json_is_refused_without_a_crash(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    if kind == "events-json":
        body = ('{"type": "event_callback", "event": ' + deep + "}").encode()
        content_type = "application/json"
    else:
        body = urlencode({"payload": '{"type": "block_actions", "actions": ' + deep + "}"}).encode()
        content_type = "application/x-www-form-urlencoded"

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(body, content_type)

    assert response.status == 400
    assert "nested" in (await response.json())["error"]
    no_traceback(caplog)
    assert await stored(bot) == NOTHING
    health = await bot.http.get(f"{bot.base_url}/healthz")
    assert health.status == 200


# --- signed but malformed: one log line, acknowledged ----------------------------------------


def _without(payload: dict[str, Any], *path: str | int) -> dict[str, Any]:
    """A deep copy of the payload without the field at `path`."""
    copy = json.loads(json.dumps(payload))
    where = copy
    for key in path[:-1]:
        where = where[key]
    del where[path[-1]]
    return copy


def _with(payload: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    copy = json.loads(json.dumps(payload))
    where = copy
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return copy


BUTTON = button_press("U0ALICE", card.ACK, "1")
BROKEN_BUTTONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "no-user": lambda p: _without(p, "user"),
    "no-user-id": lambda p: _without(p, "user", "id"),
    "user-is-a-number": lambda p: _with(p, 42, "user"),
    "no-actions": lambda p: _without(p, "actions"),
    "empty-actions": lambda p: _with(p, [], "actions"),
    "action-is-a-string": lambda p: _with(p, [card.ACK], "actions"),
    "action-id-is-a-number": lambda p: _with(p, 7, "actions", 0, "action_id"),
    "no-value": lambda p: _without(p, "actions", 0, "value"),
    "value-not-a-number": lambda p: _with(p, "one", "actions", 0, "value"),
    "value-huge": lambda p: _with(p, "9" * 40, "actions", 0, "value"),
    "value-nul": lambda p: _with(p, "1\x00", "actions", 0, "value"),
    "team-is-a-list": lambda p: _with(p, ["T0ACME"], "team"),
    "channel-is-a-number": lambda p: _with(p, 5, "channel"),
}


@pytest.mark.parametrize("mutation", list(BROKEN_BUTTONS))
async def test_a_button_press_missing_what_the_listener_uses_is_acknowledged_and_logged(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, mutation: str
) -> None:
    payload = BROKEN_BUTTONS[mutation](BUTTON)

    with caplog.at_level(logging.INFO):
        response = await bot.interact(payload)

    assert response.status == 200
    no_traceback(caplog)
    assert len(warnings_about(caplog, "malformed Slack request")) == 1
    assert await stored(bot) == NOTHING
    assert bot.slack.calls_to("views.open") == []


async def test_a_button_on_a_case_with_a_broken_user_changes_nothing(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": "1700000000.000100", "text": AI_TEXT}
    )
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100")
    [case] = await bot.runtime.store.list_cases()
    before = await stored(bot)
    payload = _with(button_press("U0ALICE", card.ACK, str(case.id)), {"id": 12}, "user")

    with caplog.at_level(logging.INFO):
        response = await bot.interact(payload)

    assert response.status == 200
    no_traceback(caplog)
    assert await stored(bot) == before
    assert (await bot.runtime.store.list_cases())[0].status is CaseStatus.new


def _report_view() -> dict[str, Any]:
    """The report modal as the shortcut opens it, so submissions look like Slack's."""
    return {
        "type": "modal",
        "callback_id": blocks.REPORT_MODAL,
        "private_metadata": json.dumps(
            {"src": "shortcut", "channel": "C0SUPPORT", "ts": "1700000000.000900"}
        ),
        "blocks": [
            {
                "type": "input",
                "block_id": "category",
                "element": {"type": "static_select", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "wrong",
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
        ],
    }


SUBMISSION = view_submission(
    "U0REPORTER", _report_view(), {"category": "hallucination", "wrong": "made up"}
)
BROKEN_SUBMISSIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "no-user": lambda p: _without(p, "user"),
    "user-id-is-a-list": lambda p: _with(p, ["U0"], "user", "id"),
    "no-view": lambda p: _without(p, "view"),
    "view-is-a-string": lambda p: _with(p, "report_modal", "view"),
    "no-view-id": lambda p: _without(p, "view", "id"),
    "no-callback-id": lambda p: _without(p, "view", "callback_id"),
    "state-values-is-a-list": lambda p: _with(p, [], "view", "state", "values"),
    "block-value-is-a-string": lambda p: _with(p, "x", "view", "state", "values", "category"),
    "private-metadata-is-an-object": lambda p: _with(p, {"src": "x"}, "view", "private_metadata"),
    "view-id-with-nul": lambda p: _with(p, "V0\x00", "view", "id"),
    "user-id-100kB": lambda p: _with(p, "U" * 100_000, "user", "id"),
}


@pytest.mark.parametrize("mutation", list(BROKEN_SUBMISSIONS))
async def test_a_view_submission_missing_what_the_listener_uses_is_acknowledged_and_logged(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, mutation: str
) -> None:
    payload = BROKEN_SUBMISSIONS[mutation](SUBMISSION)

    with caplog.at_level(logging.INFO):
        response = await bot.interact(payload)

    assert response.status == 200
    no_traceback(caplog)
    assert len(warnings_about(caplog, "malformed Slack request")) == 1
    assert await stored(bot) == NOTHING


async def test_the_unbroken_submission_files_its_report(bot: BotUnderTest) -> None:
    """The control for the mutations above: as Slack sends it, it files."""
    response = await bot.interact(SUBMISSION)

    assert response.status == 200, await response.text()
    assert await response.text() == "", await response.text()
    [case] = await bot.runtime.store.list_cases()
    assert case.category_id == "hallucination"


async def test_nul_bytes_in_a_comment_are_dropped_and_the_report_filed(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    view = json.loads(json.dumps(SUBMISSION["view"]))
    view["state"]["values"]["wrong"]["value"]["value"] = "made\x00 up\x00"
    # The modal carries a reference: the flagged text is read back from Slack on submission.
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000900", "text": "an answer\x00 with NUL"},
    )

    with caplog.at_level(logging.INFO):
        response = await bot.interact({**SUBMISSION, "view": view})

    assert response.status == 200
    no_traceback(caplog)
    [case] = await bot.runtime.store.list_cases()
    assert case.output_excerpt == "an answer with NUL"
    async with bot.runtime.store.transaction() as tx:
        [report] = await tx.case_reports(case.id)  # type: ignore[arg-type]
    assert report.comment == "made up"


SHORTCUT = shortcut_payload(
    "U0REPORTER", "C0SUPPORT", {"type": "message", "ts": "1700000000.000900", "text": AI_TEXT}
)
BROKEN_SHORTCUTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "no-trigger-id": lambda p: _without(p, "trigger_id"),
    "trigger-id-is-a-number": lambda p: _with(p, 12, "trigger_id"),
    "no-callback-id": lambda p: _without(p, "callback_id"),
    "callback-id-is-an-object": lambda p: _with(p, {}, "callback_id"),
    "message-is-a-string": lambda p: _with(p, AI_TEXT, "message"),
    "channel-id-is-a-list": lambda p: _with(p, [], "channel", "id"),
    "message-ts-is-huge": lambda p: _with(p, 10**400, "message", "ts"),
    "no-user": lambda p: _without(p, "user"),
}


@pytest.mark.parametrize("mutation", list(BROKEN_SHORTCUTS))
async def test_a_shortcut_missing_what_the_listener_uses_is_acknowledged_and_logged(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, mutation: str
) -> None:
    payload = BROKEN_SHORTCUTS[mutation](SHORTCUT)

    with caplog.at_level(logging.INFO):
        response = await bot.interact(payload)

    assert response.status == 200
    no_traceback(caplog)
    assert len(warnings_about(caplog, "malformed Slack request")) == 1
    assert bot.slack.calls_to("views.open") == []


def command_form(**fields: str | None) -> bytes:
    form = {
        "token": "legacy-unused",
        "team_id": "T0ACME",
        "channel_id": "C0GENERAL",
        "user_id": "U0REPORTER",
        "command": "/loopkeeper",
        "text": "report it lied",
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": "trigger.1",
        **fields,
    }
    return urlencode({k: v for k, v in form.items() if v is not None}).encode()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"trigger_id": None}, id="report-without-trigger-id"),
        pytest.param({"user_id": None, "text": "mine"}, id="mine-without-user"),
        pytest.param({"user_id": None, "text": "cases"}, id="cases-without-user"),
        pytest.param({"user_id": "U" * 100_000, "text": "mine"}, id="mine-with-100kB-user"),
        pytest.param({"user_id": "U0\x00", "text": "mine"}, id="mine-with-nul-user"),
        pytest.param({"channel_id": "C0\x00"}, id="report-with-nul-channel"),
    ],
)
async def test_a_slash_command_missing_what_the_listener_uses_is_acknowledged_and_logged(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, fields: dict[str, str | None]
) -> None:
    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(
            command_form(**fields), "application/x-www-form-urlencoded"
        )

    assert response.status == 200
    no_traceback(caplog)
    assert len(warnings_about(caplog, "malformed Slack request")) == 1
    assert bot.slack.calls_to("views.open") == []
    assert await stored(bot) == NOTHING


async def test_a_slash_command_that_mentions_payload_still_opens_the_modal(
    bot: BotUnderTest,
) -> None:
    response = await bot.post_signed(
        command_form(text="report the payload it returned was wrong"),
        "application/x-www-form-urlencoded",
    )

    assert response.status == 200
    await bot.runtime.background.drain()  # the modal opens right after the ack
    [opened] = bot.slack.calls_to("views.open")
    assert "the payload it returned was wrong" in json.dumps(opened["view"])


# --- reactions: checked before they are committed to the inbox ------------------------------


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"user": "U" * 100_000}, id="100kB-user"),
        pytest.param({"user": "U0\x00EVE"}, id="nul-in-user"),
        pytest.param({"user": 42}, id="user-is-a-number"),
        pytest.param(
            {"item": {"type": "message", "channel": "C" * 100_000, "ts": "1.0"}}, id="100kB-channel"
        ),
        pytest.param(
            {"item": {"type": "message", "channel": "C0SUPPORT", "ts": ["1"]}}, id="ts-is-a-list"
        ),
        pytest.param({"item": "C0SUPPORT"}, id="item-is-a-string"),
        pytest.param({"reaction": {"name": "x"}}, id="reaction-is-an-object"),
        pytest.param({"event_id": "Ev" + "0" * 100_000}, id="100kB-event-id"),
    ],
)
async def test_a_reaction_with_broken_ids_is_acknowledged_and_never_reaches_the_inbox(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": "1700000000.000100", "text": AI_TEXT}
    )
    body = reaction_body(**event)

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(body, "application/json")
        await bot.runtime.inbox.drain()

    assert response.status == 200
    no_traceback(caplog)
    assert len(warnings_about(caplog, "malformed Slack request")) == 1
    assert await stored(bot) == NOTHING


# --- listener failures: passing faults are retried, deterministic ones acknowledged -----------


async def test_a_listener_tripping_on_a_request_is_acknowledged_in_one_line(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """Shaped like Slack's, but not what the bot put in its own modal: the same request would
    fail the same way, so a 500 would only bring three retries."""
    view = {
        "type": "modal",
        "callback_id": card.RESOLVE + card.MODAL_SUFFIX,
        "private_metadata": "not what the bot wrote",
        "blocks": [],
    }

    with caplog.at_level(logging.INFO):
        response = await bot.interact(view_submission("U0ALICE", view, {}))

    assert response.status == 200
    no_traceback(caplog)
    [line] = warnings_about(caplog, "failed and was acknowledged")
    assert "JSONDecodeError" in line
    assert await stored(bot) == NOTHING


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_database_that_is_down_answers_500_so_slack_retries(
    slack: FakeSlack,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    unreachable = {
        # A directory where the database file should be: SQLite cannot open it.
        "sqlite": f"sqlite+aiosqlite:///{tmp_path}",
        # Nothing listens on port 1.
        "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:1/loopkeeper",
    }[backend]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=unreachable,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
    )
    clock = ManualClock(now_utc())
    runtime = await build_runtime(settings, load_routing(ROUTING_FILE), clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            down = BotUnderTest(
                runtime,
                slack,
                clock,
                str(server.make_url("")).rstrip("/"),
                http,
            )
            with caplog.at_level(logging.INFO):
                help_answer = await down.command("U0REPORTER", "help", settle=False)
                mine = await down.command("U0REPORTER", "mine", settle=False)
                reaction = await down.react(
                    "U0REPORTER", "x", "C0SUPPORT", "1700000000.000100", process=False
                )
    finally:
        await server.close()
        await runtime.close()

    assert help_answer.status == 200  # needs no database
    assert (mine.status, reaction.status) == (500, 500)
    assert len([r for r in caplog.records if "passing fault" in r.getMessage()]) == 2
    no_traceback(caplog)


async def test_a_reaction_with_nul_in_fields_filing_never_reads_is_filed(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's JSONB refuses NUL anywhere in a document: the inbox keeps only the fields
    filing reads, so junk elsewhere in the event neither fails the ack nor poisons the row."""
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": "1700000000.000100", "text": AI_TEXT}
    )
    body = reaction_body(item_user="U0\x00SOMEONE", extra={"note": "\x00\ud800"})

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(body, "application/json")
        await bot.runtime.inbox.drain()

    assert response.status == 200
    no_traceback(caplog)
    [case] = await bot.runtime.store.list_cases()
    assert case.output_excerpt == AI_TEXT
