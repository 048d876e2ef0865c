"""Property-based fuzzing of `POST /slack/events`: real Slack payloads of every kind with fields
deleted, retyped, made huge, given NUL bytes or lone surrogates, nested deep; and unsigned
garbage. Whatever arrives: never a 5xx, never a traceback in the log, nothing stored from a
request Slack did not sign, and the server stays healthy.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.slack import blocks, card
from tests.harness import BotUnderTest, button_press, shortcut_payload, view_submission
from tests.test_slack_hostile_route import no_traceback, stored

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,  # nothing written to the work tree; failures print their example
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
AI_TEXT = "Our refund window is 90 days for all products."
CARD_TS = "1800000000.000001"

Path = tuple[str | int, ...]


# --- real payloads, as Slack sends them --------------------------------------------------------


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "legacy-unused",
        "team_id": "T0ACME",
        "api_app_id": "A0LOOPKEEPER",
        "event": event,
        "type": "event_callback",
        "event_id": "Ev0FUZZ0001",
        "event_time": 1700000000,
        "authorizations": [{"team_id": "T0ACME", "user_id": "U0LOOPKEEPER", "is_bot": True}],
    }


def _report_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": blocks.REPORT_MODAL,
        "private_metadata": json.dumps(
            {
                "src": "shortcut",
                "channel": "C0SUPPORT",
                "message": {"ts": "1700000000.000900", "text": AI_TEXT, "bot_id": "B0SUPPORT"},
            }
        ),
        "blocks": [
            {"type": "input", "block_id": name, "element": {"type": kind, "action_id": "value"}}
            for name, kind in (
                ("category", "static_select"),
                ("severity", "static_select"),
                ("wrong", "plain_text_input"),
                ("expected", "plain_text_input"),
            )
        ],
    }


def _resolve_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": card.RESOLVE + card.MODAL_SUFFIX,
        "private_metadata": json.dumps({"case": 1}),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "element": {"type": "static_select", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "note",
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
        ],
    }


def _feedback_press() -> dict[str, Any]:
    press = button_press("U0REPORTER", "feedback", "bad-answer", channel="C0SUPPORT")
    press["actions"][0]["type"] = "feedback_buttons"
    press["message"]["blocks"] = [
        {
            "type": "context_actions",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": "feedback",
                    "positive_button": {"value": "good-answer"},
                    "negative_button": {"value": "bad-answer"},
                }
            ],
        }
    ]
    return press


EVENTS: dict[str, dict[str, Any]] = {
    "reaction": _envelope(
        {
            "type": "reaction_added",
            "user": "U0REPORTER",
            "reaction": "x",
            "item": {"type": "message", "channel": "C0SUPPORT", "ts": "1700000000.000100"},
            "item_user": "U0SOMEONE",
            "event_ts": "1700000000.000200",
        }
    ),
    "thread-reply": _envelope(
        {
            "type": "message",
            "channel": "C0TRIAGE",
            "user": "U0ALICE",
            "text": "Looking into it",
            "ts": "1800000000.000500",
            "thread_ts": CARD_TS,
            "event_ts": "1800000000.000500",
        }
    ),
    "url-verification": {"token": "t", "challenge": "abc123", "type": "url_verification"},
}
INTERACTIONS: dict[str, dict[str, Any]] = {
    "card-button": button_press("U0ALICE", card.ACK, "1"),
    "resolve-button": button_press("U0ALICE", card.RESOLVE, "1"),
    "feedback-button": _feedback_press(),
    "message-shortcut": shortcut_payload(
        "U0REPORTER",
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000900", "text": AI_TEXT, "bot_id": "B0SUPPORT"},
    ),
    "global-shortcut": {
        "type": "shortcut",
        "callback_id": "report_ai_output",
        "trigger_id": "trigger.9",
        "action_ts": "1700000000.000001",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": "U0REPORTER", "username": "reporter", "team_id": "T0ACME"},
        "token": "legacy-unused",
    },
    "report-submission": view_submission(
        "U0REPORTER",
        _report_view(),
        {"category": "hallucination", "severity": "high", "wrong": "made up", "expected": None},
    ),
    "resolve-submission": view_submission(
        "U0ALICE", _resolve_view(), {"reason": "fixed", "note": "prompt updated"}
    ),
}
COMMAND = {
    "token": "legacy-unused",
    "team_id": "T0ACME",
    "team_domain": "acme",
    "channel_id": "C0GENERAL",
    "channel_name": "general",
    "user_id": "U0REPORTER",
    "user_name": "reporter",
    "command": "/loopkeeper",
    "text": "report it lied",
    "api_app_id": "A0LOOPKEEPER",
    "response_url": "https://hooks.slack.invalid/commands/1",
    "trigger_id": "trigger.1",
}


# --- what a hostile or broken sender puts in a field -------------------------------------------

HOSTILE_STRINGS = [
    "",
    "\x00",
    "U0\x00EVE",
    "\ud800",
    "U" * 300,
    "U" * 100_000,
    "<!channel> <@U0ALICE> <https://evil.example|refund page>",
    "١٢٣٤",
    "9" * 40,
    "-1",
    "1.5",
    "{}",
    "null",
    "default",
    "report",
    "mine",
    "cases",
    "help",
    "case_acknowledge",
    "feedback_buttons",
    "message",
    "reaction_added",
    "view_submission",
]


def _deep(levels: int) -> str:
    """A placeholder the serializer swaps for `levels` nested arrays (json.dumps would recurse)."""
    return f"__deep_{levels}__"


hostile_values = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=30),
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -(2**63), 2**31, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.integers(min_value=60, max_value=5_000).map(_deep),
)
form_values = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30))


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _mutated(payload: dict[str, Any], data: st.DataObject) -> Any:
    """The payload with one to three fields deleted, replaced or added."""
    result: Any = copy.deepcopy(payload)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        path = data.draw(st.sampled_from(list(_paths(result))), label="path")
        operation = data.draw(st.sampled_from(["replace", "delete", "add"]), label="operation")
        value = data.draw(hostile_values, label="value")
        if not path:
            result = value if operation == "replace" else result
            continue
        *parents, last = path
        parent = result
        for key in parents:
            parent = parent[key]
        if operation == "delete":
            del parent[last]
        elif operation == "replace":
            parent[last] = value
        elif isinstance(parent[last], dict):
            parent[last][data.draw(st.text(max_size=12), label="new key")] = value
        if not isinstance(result, dict | list):
            break
    return result


def _json_text(value: Any, ascii_only: bool) -> str:
    text = json.dumps(value, ensure_ascii=ascii_only)
    for levels in {int(part.split("__")[0]) for part in text.split('"__deep_')[1:]}:
        text = text.replace(f'"__deep_{levels}__"', "[" * levels + "]" * levels)
    return text


def _utf8(text: str) -> bytes:
    # Lone surrogates go out as the invalid UTF-8 a broken client would send.
    return text.encode("utf-8", "surrogatepass")


# --- the properties ----------------------------------------------------------------------------


async def _open_a_case(bot: BotUnderTest) -> None:
    """Case #1 with its card, so buttons, modals and thread replies reach real cases."""
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000100", "text": AI_TEXT, "bot_id": "B0SUPPORT"},
    )
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100")
    await bot.deliver()


async def _still_healthy(bot: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    await bot.runtime.inbox.drain()  # what was accepted is filed, or fails, here
    no_traceback(caplog)
    health = await bot.http.get(f"{bot.base_url}/healthz")
    assert health.status == 200


@settings(FUZZ, max_examples=120)
@given(kind=st.sampled_from(list(EVENTS)), data=st.data())
async def test_signed_events_never_fail_the_server(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, kind: str, data: st.DataObject
) -> None:
    if not await bot.runtime.store.list_cases():
        await _open_a_case(bot)
    caplog.clear()
    body = _mutated(EVENTS[kind], data)
    text = _json_text(body, data.draw(st.booleans(), label="ascii only"))

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(_utf8(text), "application/json")
        assert response.status < 500, await response.text()
        await _still_healthy(bot, caplog)


@settings(FUZZ, max_examples=200)
@given(kind=st.sampled_from(list(INTERACTIONS)), data=st.data())
async def test_signed_interactions_never_fail_the_server(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, kind: str, data: st.DataObject
) -> None:
    if not await bot.runtime.store.list_cases():
        await _open_a_case(bot)
    caplog.clear()
    payload = _mutated(INTERACTIONS[kind], data)
    text = _json_text(payload, data.draw(st.booleans(), label="ascii only"))
    body = urlencode({"payload": text}, encoding="utf-8", errors="surrogatepass").encode()

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(body, "application/x-www-form-urlencoded")
        assert response.status < 500, await response.text()
        await _still_healthy(bot, caplog)


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from([*COMMAND, "payload", "ssl_check", "extra"]),
        st.one_of(st.none(), form_values),
        max_size=4,
    )
)
async def test_signed_slash_commands_never_fail_the_server(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, changes: dict[str, str | None]
) -> None:
    caplog.clear()
    form = {**COMMAND, **changes}
    fields = {key: value for key, value in form.items() if value is not None}
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()

    with caplog.at_level(logging.INFO):
        response = await bot.post_signed(body, "application/x-www-form-urlencoded")
        assert response.status < 500, await response.text()
        await _still_healthy(bot, caplog)


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=2_000),
        st.sampled_from(list(EVENTS.values())).map(lambda e: json.dumps(e).encode()),
        st.integers(min_value=60, max_value=100_000).map(lambda n: b"[" * n + b"]" * n),
    ),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
    timestamp=st.one_of(
        st.none(), header_text, st.sampled_from(["9" * 5000, "1e9", "-1", "0", "١٧٠٠٠٠٠٠٠٠"])
    ),
    signature=st.one_of(st.none(), header_text, st.from_regex(r"v0=[0-9a-f]{64}", fullmatch=True)),
)
async def test_unsigned_requests_are_refused_and_store_nothing(
    bot: BotUnderTest,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    timestamp: str | None,
    signature: str | None,
) -> None:
    caplog.clear()
    before = await stored(bot)
    headers = {"Content-Type": content_type}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature

    with caplog.at_level(logging.INFO):
        response = await bot.http.post(f"{bot.base_url}/slack/events", data=body, headers=headers)

    assert response.status == 401
    assert await stored(bot) == before
    await _still_healthy(bot, caplog)
