"""POST /api/messages under hostile and real-world input: never a 500, never a traceback.

A body that is no activity is refused (400, or 401 before reading it when tokens are checked);
an activity whose fields are of the wrong type, too long or full of control characters is
logged in one line and acknowledged, and nothing of it is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot.app.main import build_runtime
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from tests import hostile, teams_harness
from tests.harness import now_utc
from tests.hostile import cut_the_database, tracebacks
from tests.support.fake_connector import FakeConnector
from tests.teams_harness import CHAT, TRIAGE, TeamsBotUnderTest, account, ai_message, teams_routing

connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

APP_ID = "3f1c2b7a-0000-4000-8000-00000000b07a"
HUGE = "x" * 100_000


async def raw_post(base_url: str, head: bytes, body: bytes) -> int:
    return await hostile.raw_post(base_url, "/api/messages", head, body)


async def stored_rows(bot: TeamsBotUnderTest, table: str) -> list[str]:
    """Every row of a table, as text (to look for what must not have been stored)."""
    async with bot.runtime.store.engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT * FROM {table}"))
        return [" | ".join(str(value) for value in row) for row in rows]


async def assert_nothing_stored(bot: TeamsBotUnderTest) -> None:
    assert await bot.runtime.store.list_cases() == []
    assert await bot.runtime.store.latest_teams_conversation() is None


# --- bodies that are no activity ---------------------------------------------------------------


def _encoded(bot: TeamsBotUnderTest, how: str) -> bytes:
    """A real message activity, encoded the hostile way named."""
    activity = json.dumps(_message(bot, text="café"), ensure_ascii=False)
    if how == "utf16":  # json.loads(bytes) used to guess UTF-16 and accept it
        return activity.encode("utf-16")
    if how == "latin1":
        return activity.encode("latin-1")
    if how == "surrogate":  # a lone surrogate: no database driver can store it
        return activity.replace("café", "caf\\ud800").encode()
    if how == "deep-value":
        return activity[:-1].encode() + b', "value": ' + b'{"a":' * 200 + b"1" + b"}" * 201
    return b"[" * 100_000 + b"]" * 100_000  # RecursionError: was a 500


@pytest.mark.parametrize("how", ["deep-array", "deep-value", "utf16", "latin1", "surrogate"])
async def test_a_body_that_is_no_activity_is_400(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    status, answer = await teams_bot.post_activity(_encoded(teams_bot, how))
    assert status == 400
    assert answer["error"]
    assert tracebacks(caplog) == []
    await assert_nothing_stored(teams_bot)


@pytest.mark.parametrize(
    "content_type",
    [b"Content-Type: \xff\xfe\r\n", b"Content-Type: application/json; charset=\xff\r\n", b""],
    ids=["binary", "binary-charset", "none"],
)
async def test_a_garbage_content_type_is_400(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, content_type: bytes
) -> None:
    status = await raw_post(teams_bot.base_url, content_type, b'{"type": "message"}')
    assert status == 400
    assert tracebacks(caplog) == []


# --- activities with hostile fields: logged, acknowledged, nothing stored ----------------------


def _message(bot: TeamsBotUnderTest, **fields: Any) -> dict[str, Any]:
    return bot.activity(
        "message", account("dan"), "a:1:dm-dan", conversation_type="personal", **fields
    )


@pytest.mark.parametrize(
    "change",
    [
        {"conversation": {"id": "a:1:dm\x00dan", "conversationType": "personal"}},
        {"conversation": {"id": HUGE, "conversationType": "personal"}},
        {"from": {"id": "29:1" + HUGE, "name": "Dan"}},
        {"from": {"id": "29:1dan\x00", "name": "Dan"}},
        {"from": {"id": "29:1dan", "aadObjectId": {"nested": True}, "name": "Dan"}},
        {"from": {"id": "29:1dan", "name": ["Dan"]}},
        {"recipient": {"id": ["28:bot"], "name": "loopkeeper"}},
        {"serviceUrl": "http://127.0.0.1/" + HUGE},
        {"conversation": {"id": "a:1:dm-dan", "conversationType": "personal", "tenantId": "t\x00"}},
        {"conversation": {"id": "a:1:dm-dan", "conversationType": "personal", "tenantId": HUGE}},
    ],
    ids=[
        "conversation-nul",
        "conversation-huge",
        "from-huge",
        "from-nul",
        "aad-object",
        "name-list",
        "recipient-list",
        "service-url-huge",
        "tenant-nul",
        "tenant-huge",
    ],
)
async def test_a_message_with_hostile_ids_is_acknowledged_and_not_stored(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, change: dict[str, Any]
) -> None:
    activity = {**_message(teams_bot, text="hello"), **change}
    status, _ = await teams_bot.post_activity(activity)
    assert status in (200, 400)  # acknowledged, or refused by botbuilder's own schema
    assert tracebacks(caplog) == []
    for table in ("teams_conversations", "teams_users"):  # whatever was fine may be kept
        for row in await stored_rows(teams_bot, table):
            assert "\x00" not in row and HUGE not in row and len(row) < 5_000


@pytest.mark.parametrize(
    "payload_change",
    [
        {"attachments": 5},  # TypeError when iterated: was a 500
        {"linkToMessage": 12345},  # pydantic error building the output: was a 500
        {"id": "16\x00001"},
        {"id": HUGE},
        {"entities": "not a list"},
        {"from": "the bot"},
        {"body": {"content": ["not", "text"]}},
        {
            "attachments": [
                {
                    "contentType": "application/vnd.loopkeeper.ai-output+json",
                    "content": {"trace_id": "t\x00", "model": HUGE},
                }
            ]
        },
    ],
    ids=[
        "attachments-int",
        "link-int",
        "id-nul",
        "id-huge",
        "entities-str",
        "from-str",
        "body-list",
        "meta-hostile",
    ],
)
async def test_a_report_on_a_hostile_message_payload_answers_the_invoke(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, payload_change: dict[str, Any]
) -> None:
    message = {**ai_message("Sydney is the capital."), **payload_change}
    status, body = await teams_bot.submit_report(
        account("dan"), message, {"category": "hallucination", "wrong": "it is Canberra"}
    )
    assert status == 200
    assert "task" in body  # the dialog shows a message or the form: the user is answered
    assert tracebacks(caplog) == []
    for case in await teams_bot.runtime.store.list_cases():  # filed without the hostile parts
        assert "\x00" not in case.model_dump_json() and HUGE not in case.model_dump_json()


async def test_feedback_with_hostile_entities_answers_the_invoke(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    activity = teams_bot.activity(
        "invoke",
        account("dan"),
        CHAT,
        conversation_type="groupChat",
        name="message/submitAction",
        value={"actionName": "feedback", "actionValue": {"reaction": "dislike"}},
        replyToId="1700000000001",
        entities=[{"type": "ai_output", "trace_id": {"an": "object"}, "model": HUGE}],
    )
    status, _ = await teams_bot.post_activity(activity)
    assert status == 200
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "case", ["9" * 5000, "99999999999999999999", -1, {"id": 1}], ids=["digits", "big", "neg", "obj"]
)
async def test_a_card_action_naming_an_impossible_case_answers_the_invoke(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, case: Any
) -> None:
    value = {"action": {"type": "Action.Execute", "verb": "acknowledge", "data": {"case": case}}}
    status, body = await teams_bot.invoke("adaptiveCard/action", account("carol"), value, TRIAGE)
    assert status == 200
    assert body["statusCode"] in (200, 400)
    assert tracebacks(caplog) == []


async def test_healthz_is_fine_after_all_that(teams_bot: TeamsBotUnderTest) -> None:
    await teams_bot.post_activity(b"[" * 50_000)
    response = await teams_bot.http.get(f"{teams_bot.base_url}/healthz")
    assert response.status == 200


# --- with credentials: the token comes first ---------------------------------------------------


@pytest.fixture
async def secured(
    database_url: str, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        microsoft_app_id=APP_ID,
        microsoft_app_password="not-a-real-secret",
    )
    clock = ManualClock(now_utc())
    runtime = await build_runtime(settings, teams_routing(tmp_path / "routing.yaml"), clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield TeamsBotUnderTest(
            runtime,
            None,  # type: ignore[arg-type]
            clock,
            str(server.make_url("")).rstrip("/"),
            http,
            connector,
        )
    await server.close()
    await runtime.close()


@pytest.mark.parametrize(
    ("authorization", "body"),
    [
        (b"", b"[" * 100_000 + b"]" * 100_000),  # was parsed first: a 500
        (b"Authorization: Bearer \xff\xfe\r\n", b"{}"),
        (b"Authorization: Bearer \xff\xfe\r\n", b"[" * 100_000),
        (b"Authorization: Basic dXNlcjpwYXNz\r\n", b"{not json"),
        (b"Authorization: Bearer\r\n", '{"a": "é"}'.encode("latin-1")),
    ],
    ids=["none-deep", "binary-token", "binary-token-deep", "basic-garbage", "empty-latin1"],
)
async def test_with_an_app_id_a_bad_token_is_401_before_the_body_is_read(
    secured: TeamsBotUnderTest,
    caplog: pytest.LogCaptureFixture,
    authorization: bytes,
    body: bytes,
) -> None:
    status = await raw_post(
        secured.base_url, b"Content-Type: application/json\r\n" + authorization, body
    )
    assert status == 401
    assert tracebacks(caplog) == []
    await assert_nothing_stored(secured)


# --- a passing database fault ------------------------------------------------------------------


async def test_a_database_outage_is_503_so_teams_retries(
    teams_bot: TeamsBotUnderTest, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def warm() -> None:
        status, _ = await teams_bot.say(account("erin"), "a:1:dm-erin", "hello")
        assert status == 200

    await cut_the_database(teams_bot.runtime.store.engine, database_url, warm=warm)

    status, body = await teams_bot.say(account("dan"), "a:1:dm-dan", "hello")

    assert status == 503
    assert "database" in body["error"]
    assert tracebacks(caplog) == []


# --- free text from people: kept, without control characters -----------------------------------


async def test_a_thread_reply_with_control_characters_is_recorded_without_them(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    await teams_bot.install(TRIAGE)
    status, _ = await teams_bot.submit_report(
        account("dan"), ai_message("Sydney is the capital."), {"category": "hallucination"}
    )
    assert status == 200
    await teams_bot.deliver()
    [case] = await teams_bot.runtime.store.list_cases()
    card = await teams_bot.runtime.store.card_of(case.id or 0, "teams")
    assert card is not None

    status, _ = await teams_bot.say(
        account("eve"), f"{TRIAGE};messageid={card.message_id}", "Same\x00 here\x07 too"
    )

    assert status == 200
    assert tracebacks(caplog) == []
    comments = [
        e.detail["text"]
        for e in await teams_bot.runtime.store.timeline(case.id or 0)
        if e.kind == "comment"
    ]
    assert comments == ["Same here too"]


# --- missing ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [None, {}, {"id": None}, {"id": "\x00"}, {"id": ["29:1dan"]}, {"name": "Dan"}],
    ids=["absent", "empty", "null-id", "nul-id", "list-id", "name-only"],
)
async def test_a_report_from_nobody_is_answered_and_not_filed(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, sender: Any
) -> None:
    message = ai_message("Sydney is the capital.")
    activity = teams_bot.activity(
        "invoke",
        account("dan"),
        CHAT,
        conversation_type="groupChat",
        name="composeExtension/submitAction",
        value={
            "commandId": "reportAiOutput",
            "data": {"category": "hallucination"},
            "messagePayload": message,
        },
    )
    if sender is None:
        del activity["from"]
    else:
        activity["from"] = sender
    status, body = await teams_bot.post_activity(activity)
    assert status in (200, 400)  # botbuilder's schema refuses some shapes of `from` itself
    if status == 200:
        assert body["task"]["type"] == "message"
    assert tracebacks(caplog) == []
    assert await teams_bot.runtime.store.list_cases() == []


@pytest.mark.parametrize(
    "name",
    [
        "composeExtension/fetchTask",
        "composeExtension/submitAction",
        "message/submitAction",
        "adaptiveCard/action",
        "unknown/invoke",
    ],
)
async def test_an_invoke_without_a_value_is_answered(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    activity = teams_bot.activity(
        "invoke", account("dan"), CHAT, conversation_type="groupChat", name=name
    )
    status, _ = await teams_bot.post_activity(activity)
    assert status == 200
    assert tracebacks(caplog) == []
    assert await teams_bot.runtime.store.list_cases() == []


@pytest.mark.parametrize(
    ("encoding", "body"),
    [(b"gzip", b"\x1f\x8b not gzip at all"), (b"deflate", b"not deflate")],  # were 500s
    ids=["bad-gzip", "bad-deflate"],
)
async def test_a_compressed_body_that_cannot_be_read_is_400(
    teams_bot: TeamsBotUnderTest, caplog: pytest.LogCaptureFixture, encoding: bytes, body: bytes
) -> None:
    head = b"Content-Type: application/json\r\nContent-Encoding: " + encoding + b"\r\n"
    status = await raw_post(teams_bot.base_url, head, body)
    assert status == 400
    assert tracebacks(caplog) == []
    await assert_nothing_stored(teams_bot)
