"""Slack over Socket Mode end to end: a real bot, a fake Slack handing out a local websocket.

Slack redelivers an envelope the app did not ack; so every envelope, malformed ones included,
must be acked (or, on a passing database fault, deliberately left for redelivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.app.main import build_runtime
from bot.app.runtime import Runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from bot.core.models import CaseStatus
from tests.harness import ROUTING_FILE, button_press, now_utc, shortcut_payload
from tests.support.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode

AI_TEXT = "Our refund window is 90 days for all products."
AI_TS = "1700000000.000100"


@dataclass
class SocketBot:
    runtime: Runtime
    slack: FakeSlack
    socket: FakeSocketMode

    async def react(
        self, user: str = "U0REPORTER", *, event_id: str = "Ev0001", retry: int = 0, **event: Any
    ) -> str:
        """A reaction_added event_callback in an events_api envelope; returns its envelope id."""
        reaction = {
            "type": "reaction_added",
            "user": user,
            "reaction": "x",
            "item": {"type": "message", "channel": "C0SUPPORT", "ts": AI_TS},
            "item_user": "U0SOMEONE",
            "event_ts": "1700000001.000200",
            **event,
        }
        return await self.socket.send_envelope(
            "events_api", callback(reaction, event_id), retry_attempt=retry
        )

    async def filed(self) -> int:
        """File what the inbox holds, as its worker would; returns how many cases exist."""
        await self.runtime.inbox.drain()
        return len(await self.runtime.store.list_cases())


def callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy-unused",
        "team_id": "T0ACME",
        "api_app_id": "A0LOOPKEEPER",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000001,
        "authorizations": [{"team_id": "T0ACME", "user_id": "U0LOOPKEEPER", "is_bot": True}],
    }


def slash_command(text: str, user: str = "U0REPORTER") -> dict[str, Any]:
    return {
        "token": "legacy-unused",
        "team_id": "T0ACME",
        "team_domain": "acme",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/loopkeeper",
        "text": text,
        "api_app_id": "A0LOOPKEEPER",
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": "trigger.socket.1",
    }


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


@pytest.fixture
async def socket_bot(database_url: str, slack: FakeSlack) -> AsyncIterator[SocketBot]:
    socket = FakeSocketMode()
    await socket.start()
    slack.socket_url = socket.issue_url
    slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": AI_TS, "text": AI_TEXT, "bot_id": "B0SUPPORT"}
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,  # Socket Mode only: no signing secret, no HTTP route
        slack_api_url=slack.url,
    )
    runtime = await build_runtime(
        settings, load_routing(ROUTING_FILE), clock=ManualClock(now_utc())
    )
    assert runtime.socket_mode is not None
    await runtime.socket_mode.connect()
    await socket.connected()
    yield SocketBot(runtime, slack, socket)
    await runtime.close()
    await socket.stop()


# --- the happy path, every kind of envelope --------------------------------------------------


async def test_a_reaction_over_socket_mode_is_acked_and_files_a_case(socket_bot: SocketBot) -> None:
    eid = await socket_bot.react()

    assert await socket_bot.socket.ack_of(eid) == {"envelope_id": eid}
    assert await socket_bot.filed() == 1
    [case] = await socket_bot.runtime.store.list_cases()
    assert (case.system_id, case.category_id, case.owner) == (
        "support-assistant",
        "hallucination",
        "alice",
    )
    assert case.output_excerpt == AI_TEXT


async def test_a_redelivered_event_is_acked_again_and_files_one_report(
    socket_bot: SocketBot,
) -> None:
    first = await socket_bot.react(event_id="Ev0042")
    await socket_bot.socket.ack_of(first)
    assert await socket_bot.filed() == 1
    # Slack did not see the ack in time and sends the same event in a new envelope.
    again = await socket_bot.react(event_id="Ev0042", retry=1)

    await socket_bot.socket.ack_of(again)
    assert await socket_bot.filed() == 1
    [case] = await socket_bot.runtime.store.list_cases()
    assert case.report_count == 1


async def test_the_report_shortcut_is_acked_and_opens_the_modal(socket_bot: SocketBot) -> None:
    message = {"type": "message", "ts": AI_TS, "text": AI_TEXT, "bot_id": "B0SUPPORT"}
    payload = shortcut_payload("U0REPORTER", "C0SUPPORT", message)

    eid = await socket_bot.socket.send_envelope("interactive", payload)

    await socket_bot.socket.ack_of(eid)
    await socket_bot.runtime.background.drain()  # the modal opens right after the ack
    [opened] = socket_bot.slack.calls_to("views.open")
    assert opened["trigger_id"] == payload["trigger_id"]
    assert opened["view"]["callback_id"] == "report_ai_output_modal"


async def test_a_card_button_is_acked_and_acknowledges_the_case(socket_bot: SocketBot) -> None:
    await socket_bot.socket.ack_of(await socket_bot.react())
    await socket_bot.filed()
    [case] = await socket_bot.runtime.store.list_cases()

    eid = await socket_bot.socket.send_envelope(
        "interactive", button_press("U0ALICE", "case_acknowledge", str(case.id))
    )

    await socket_bot.socket.ack_of(eid)
    stored = await socket_bot.runtime.store.get_case(case.id)
    assert stored is not None and stored.status is CaseStatus.acknowledged


async def test_a_slash_command_is_answered_in_its_ack(socket_bot: SocketBot) -> None:
    eid = await socket_bot.socket.send_envelope("slash_commands", slash_command("help"))

    ack = await socket_bot.socket.ack_of(eid)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "/loopkeeper report" in ack["payload"]["text"]


# --- malformed envelopes: acked, one line in the log, nothing stored ---------------------------

HUGE_ID = "U" + "9" * 100_000

MALFORMED: dict[str, tuple[str, Any]] = {
    "payload is a list": ("events_api", [1, 2, 3]),
    "payload is a string": ("events_api", "reaction_added"),
    "payload is null": ("interactive", None),
    "event is not an object": ("events_api", callback("reaction_added", "Ev0100")),  # type: ignore[arg-type]
    "reaction item is a string": (
        "events_api",
        callback(
            {"type": "reaction_added", "user": "U0R", "reaction": "x", "item": "C0SUPPORT"},
            "Ev0101",
        ),
    ),
    "reaction user is a number": (
        "events_api",
        callback(
            {
                "type": "reaction_added",
                "user": 12345,
                "reaction": "x",
                "item": {"type": "message", "channel": "C0SUPPORT", "ts": AI_TS},
            },
            "Ev0102",
        ),
    ),
    "reaction by a 100 kB user id": (
        "events_api",
        callback(
            {
                "type": "reaction_added",
                "user": HUGE_ID,
                "reaction": "x",
                "item": {"type": "message", "channel": "C0SUPPORT", "ts": AI_TS},
            },
            "Ev0103",
        ),
    ),
    "event id is an object": (
        "events_api",
        {
            **callback(
                {
                    "type": "reaction_added",
                    "user": "U0R",
                    "reaction": "x",
                    "item": {"type": "message", "channel": "C0SUPPORT", "ts": AI_TS},
                },
                "Ev0104",
            ),
            "event_id": {"nested": True},
        },
    ),
    "reaction channel with a NUL byte": (
        "events_api",
        callback(
            {
                "type": "reaction_added",
                "user": "U0R",
                "reaction": "x",
                "item": {"type": "message", "channel": "C0SUP\u0000PORT", "ts": AI_TS},
            },
            "Ev0105",
        ),
    ),
    "button for a case number of 30 digits": (
        "interactive",
        button_press("U0ALICE", "case_acknowledge", "9" * 30),
    ),
    "shortcut without a trigger id": (
        "interactive",
        {
            key: value
            for key, value in shortcut_payload(
                "U0REPORTER", "C0SUPPORT", {"type": "message", "ts": AI_TS, "text": AI_TEXT}
            ).items()
            if key != "trigger_id"
        },
    ),
    "button pressed by a user that is a string": (
        "interactive",
        {**button_press("U0ALICE", "case_acknowledge", "1"), "user": "U0ALICE"},
    ),
    "slash command user is a list": (
        "slash_commands",
        {**slash_command("mine"), "user_id": ["U0A", "U0B"]},
    ),
    "unknown envelope type": ("something_new", {"type": "whatever"}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_a_malformed_envelope_is_acked_and_logged_in_one_line(
    socket_bot: SocketBot, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    kind, payload = MALFORMED[name]

    with caplog.at_level(logging.INFO):
        eid = await socket_bot.socket.send_envelope(kind, payload)
        await socket_bot.socket.ack_of(eid)  # else Slack would redeliver it forever

    assert tracebacks(caplog) == []
    assert any(eid in r.getMessage() for r in caplog.records), caplog.text
    assert await socket_bot.filed() == 0
    assert await socket_bot.runtime.store.inbox_pending() == 0
    # And the connection still serves the next flag.
    assert await socket_bot.socket.ack_of(await socket_bot.react(event_id="Ev0200"))
    assert await socket_bot.filed() == 1


async def test_an_envelope_without_payload_is_acked(
    socket_bot: SocketBot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await socket_bot.socket.send({"envelope_id": "env-bare", "type": "events_api"})
        await socket_bot.socket.ack_of("env-bare")

    assert tracebacks(caplog) == []


async def test_garbage_on_the_socket_is_logged_in_one_line(
    socket_bot: SocketBot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await socket_bot.socket.send('{"envelope_id": "env-cut", "type": "events_api", "pay')
        await socket_bot.socket.send('["not", "an", "envelope"]')
        # The next, well-formed envelope is served: the garbage was dealt with before it.
        await socket_bot.socket.ack_of(await socket_bot.react())

    assert tracebacks(caplog) == []
    assert await socket_bot.filed() == 1


# --- reconnecting --------------------------------------------------------------------------


async def test_the_bot_reconnects_when_slack_closes_the_socket(socket_bot: SocketBot) -> None:
    await socket_bot.socket.close_newest()

    await socket_bot.socket.connected(2)
    assert socket_bot.socket.urls_issued == 2  # apps.connections.open was called again
    await socket_bot.socket.ack_of(await socket_bot.react())
    assert await socket_bot.filed() == 1


async def test_the_bot_reconnects_when_slack_asks_it_to(socket_bot: SocketBot) -> None:
    await socket_bot.socket.send_disconnect()

    await socket_bot.socket.connected(2)
    assert socket_bot.socket.urls_issued == 2
    await socket_bot.socket.ack_of(await socket_bot.react())
    assert await socket_bot.filed() == 1


# --- a passing fault: left unacked, so Slack redelivers ---------------------------------------


class Heard(logging.Handler):
    """Sets `event` when a log line mentions `text`: how a test waits for a handled envelope
    that, by design, gets no ack."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


@contextlib.asynccontextmanager
async def database_offline(url: str) -> AsyncIterator[None]:
    """The bot's PostgreSQL database refuses connections and drops the open ones, then is back."""
    name = make_url(url).database
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        yield
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        await admin.dispose()


async def test_a_reaction_met_by_a_database_outage_is_left_for_slack_to_redeliver(
    socket_bot: SocketBot, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite waits 30 s for a lock before failing: the outage is provoked on PG")
    await socket_bot.socket.ack_of(await socket_bot.react(event_id="Ev0299"))  # pool warmed
    heard = Heard("left unacked")
    logging.getLogger("handlers.slack.socket_mode").addHandler(heard)
    try:
        async with database_offline(database_url):
            with caplog.at_level(logging.INFO):
                eid = await socket_bot.react("U0SECOND", event_id="Ev0300")
                await asyncio.wait_for(heard.event.wait(), 10)
    finally:
        logging.getLogger("handlers.slack.socket_mode").removeHandler(heard)

    assert not socket_bot.socket.acked(eid)
    assert tracebacks(caplog) == []
    # The database is back; Slack redelivers the event, which is now acked and filed once.
    again = await socket_bot.react("U0SECOND", event_id="Ev0300", retry=1)
    await socket_bot.socket.ack_of(again)
    await socket_bot.filed()
    [case] = await socket_bot.runtime.store.list_cases()
    assert case.report_count == 2  # U0REPORTER's and U0SECOND's, each once


@pytest.mark.parametrize(
    "raw",
    [
        '{"envelope_id": "env-deep", "type": "events_api", "payload": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
        '{"envelope_id": "env-huge-number", "type": "events_api", "payload": {"event_time": '
        + "9" * 5_000
        + "}}",
    ],
    ids=["nested 100,000 deep", "a number of 5,000 digits"],
)
async def test_an_unreadable_envelope_that_names_its_id_is_acked(
    socket_bot: SocketBot, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    eid = raw.split('"')[3]

    with caplog.at_level(logging.INFO):
        await socket_bot.socket.send(raw)
        await socket_bot.socket.ack_of(eid)

    assert tracebacks(caplog) == []
    assert await socket_bot.filed() == 0
