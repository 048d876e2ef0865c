"""Logs an operator can use: the level and format they chose, the context of each line, a
request id they can follow, and never a secret, whoever writes the line."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bot.app.cli import app
from bot.app.logging_setup import configure_logging
from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from handlers.request_context import access_log_options
from tests import teams_harness
from tests.harness import (
    INGEST_TOKEN,
    ROUTING_FILE,
    SIGNING_SECRET,
    BotUnderTest,
    now_utc,
)
from tests.hostile import cut_the_database
from tests.support.fake_slack import BOT_TOKEN, Failure, FakeSlack
from tests.support.serve_process import serve_process
from tests.teams_harness import TeamsBotUnderTest, account

connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

REQUIRED = {"time", "level", "logger", "message"}


@dataclass
class Captured:
    stream: io.StringIO

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@contextlib.contextmanager
def captured(settings: Settings) -> Iterator[Captured]:
    """Logging configured as `serve` configures it, into a buffer; undone afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure_logging(settings, stream=buffer)
    try:
        yield Captured(buffer)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)


def logging_settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


# --- JSON lines from the real command -----------------------------------------------------------


async def test_serve_in_json_mode_writes_one_json_object_per_line(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        "LOOPKEEPER_DATABASE_URL": database_url,
        "LOOPKEEPER_CONFIG": str(ROUTING_FILE),
        "LOOPKEEPER_INGEST_TOKEN": INGEST_TOKEN,
        "LOOPKEEPER_LOG_FORMAT": "json",
        "LOOPKEEPER_LOG_LEVEL": "debug",  # any case will do
        "LOOPKEEPER_ACCESS_LOG": "on",
        "LOOPKEEPER_TEAMS": "off",
    }
    async with serve_process(env, tmp_path) as served:
        http, url, process = served.http, served.url, served.process
        probe = await http.get(f"{url}/healthz", headers={"X-Request-Id": "probe-7"})
        assert probe.headers["X-Request-Id"] == "probe-7"
        report = {
            "system": "code-helper",
            "category": "hallucination",
            "comment": "It invented an API",
            "reporter": {"email": "someone@example.com"},
        }
        filed = await http.post(
            f"{url}/api/v1/reports",
            json=report,
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        )
        assert filed.status == 201
        missing = await http.get(f"{url}/nowhere")
        assert missing.status == 404
        generated = missing.headers["X-Request-Id"]
    stdout, stderr = served.stdout, served.stderr

    lines = [
        line for path in (stdout, stderr) for line in path.read_text().splitlines() if line.strip()
    ]
    records = []
    for line in lines:
        record = json.loads(line)  # every line the process wrote, or this fails naming it
        assert set(record) >= REQUIRED, line
        assert record["time"].endswith("+00:00"), line  # ISO 8601, UTC
        records.append(record)
    levels = {record["level"] for record in records}
    assert "DEBUG" in levels  # the level asked for, not the old fixed INFO
    assert any("listening on" in record["message"] for record in records)  # start-up, as JSON
    access = [record for record in records if record["logger"] == "aiohttp.access"]
    assert any(
        "GET /healthz" in record["message"] and record.get("request_id") == "probe-7"
        for record in access
    )
    assert any(
        "GET /nowhere" in record["message"] and record.get("request_id") == generated
        for record in access
    )
    assert any("POST /api/v1/reports" in record["message"] for record in access)
    assert process.returncode == 0


# --- the level, invalid values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"), [("LOOPKEEPER_LOG_LEVEL", "loud"), ("LOOPKEEPER_LOG_FORMAT", "yaml")]
)
def test_an_invalid_log_setting_is_one_clear_line_and_exit_1(
    variable: str, value: str, tmp_path: Path
) -> None:
    # Production without a routing file refuses too, later: only this setting's line may show.
    env = {
        variable: value,
        "LOOPKEEPER_ENV": "production",
        "LOOPKEEPER_CONFIG": str(tmp_path / "absent.yaml"),
        "LOOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'loopkeeper.db'}",
    }
    result = CliRunner().invoke(app, ["serve"], env=env)

    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.output


async def test_the_log_level_is_honoured(bot: BotUnderTest) -> None:
    unsigned_kind = json.dumps({"type": 7}).encode()  # signed, but no Slack request at all

    with captured(logging_settings(log_level="WARNING", log_format="json")) as logs:
        await bot.http.get(f"{bot.base_url}/healthz")  # an INFO access line, below WARNING
        answered = await bot.post_signed(unsigned_kind, "application/json")

    assert answered.status == 200
    records = logs.records()
    assert [r["message"] for r in records if "malformed Slack request" in r["message"]]
    assert {r["level"] for r in records} <= {"WARNING", "ERROR", "CRITICAL"}


# --- context: request id, platform, case ---------------------------------------------------------


async def test_a_request_id_is_echoed_reused_when_sane_and_on_the_request_s_lines(
    bot: BotUnderTest,
) -> None:
    given = await bot.http.get(f"{bot.base_url}/healthz", headers={"X-Request-Id": "lb-42.a"})
    assert given.headers["X-Request-Id"] == "lb-42.a"
    for hostile in ("x" * 65, "two words", "é"):
        replaced = await bot.http.get(f"{bot.base_url}/healthz", headers={"X-Request-Id": hostile})
        assert len(replaced.headers["X-Request-Id"]) == 32
        assert replaced.headers["X-Request-Id"] != hostile
    fresh = [await bot.http.get(f"{bot.base_url}/healthz") for _ in range(2)]
    assert fresh[0].headers["X-Request-Id"] != fresh[1].headers["X-Request-Id"]

    with captured(logging_settings(log_format="json")) as logs:
        answered = await bot.post_signed(
            json.dumps({"type": 7}).encode(),
            "application/json",
            extra_headers={"X-Request-Id": "trace-me"},
        )
    assert answered.headers["X-Request-Id"] == "trace-me"
    [line] = [r for r in logs.records() if "malformed Slack request" in r["message"]]
    assert line["request_id"] == "trace-me"
    assert line["platform"] == "slack"


async def test_a_failed_delivery_names_its_case_and_platform(bot: BotUnderTest) -> None:
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": "1700000000.000100", "bot_id": "B0SUPPORT"}
    )
    bot.slack.fail("chat.postMessage", Failure(status=200, error="channel_not_found"))

    with captured(logging_settings(log_format="json")) as logs:
        await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100", event_id="Ev0CTX")
        await bot.deliver()

    [dead] = [r for r in logs.records() if "dead-lettered" in r["message"]]
    assert dead["case"] == 1
    assert dead["platform"] == "slack"
    assert dead["level"] == "WARNING"


async def test_a_teams_activity_s_lines_name_the_platform_and_the_activity(
    teams_bot: TeamsBotUnderTest, database_url: str
) -> None:
    async def warm() -> None:
        status, _ = await teams_bot.say(account("erin"), "a:1:dm-erin", "hello")
        assert status == 200

    await cut_the_database(teams_bot.runtime.store.engine, database_url, warm=warm)
    with captured(logging_settings(log_format="json")) as logs:
        status, _ = await teams_bot.say(account("dan"), "a:1:dm-dan", "hello")

    assert status == 503
    [line] = [r for r in logs.records() if "database unavailable" in r["message"]]
    assert line["platform"] == "teams"
    assert line["event_id"].startswith("f:")  # the activity id the harness gave it
    assert len(line["request_id"]) == 32


def test_text_lines_carry_the_context_and_json_folds_a_traceback_into_one_line() -> None:
    from bot.core.log_context import bound

    log = logging.getLogger("loopkeeper.test")
    with captured(logging_settings(log_format="text")) as text, bound(case=3, platform="teams"):
        log.warning("something to see")
    [line] = [line for line in text.lines() if "something to see" in line]
    assert line.endswith("something to see [case=3 platform=teams]")

    with captured(logging_settings(log_format="json", log_level="debug")) as logs:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            log.debug("sending raised", exc_info=True)
    [record] = logs.records()  # one line, though the traceback has many
    assert record["exc_type"] == "RuntimeError"
    assert "Traceback" in record["exc"] and "second line" in record["exc"]
    assert record["level"] == "DEBUG"


# --- no secrets, at DEBUG, from any logger ------------------------------------------------------

CANARY_SECRETS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,  # the fake Slack's; Slack-token-shaped
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_APP_TOKEN": "xapp-1-A0CANARY-1234-canaryappsecret",
    "MICROSOFT_APP_PASSWORD": "canary-teams-password-Zq81",
    "LOOPKEEPER_INGEST_TOKEN": "canary-ingest-token-Hw27pLmQx0",
    "DATABASE_PASSWORD": "canary-db-password-Vb63",
}
PASTED_USER_TOKEN = "xoxp-1111-2222-canarypasted"
"""A user token someone pasted into a message the AI answered: not ours, still secret."""


def _with_password(database_url: str) -> str:
    """PostgreSQL (trust auth here) accepts any password: the URL carries the canary one."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url
    return url.set(password=CANARY_SECRETS["DATABASE_PASSWORD"]).render_as_string(
        hide_password=False
    )


def _secrets_of(database_url: str) -> list[str]:
    """The canary secrets the settings hold: a SQLite URL has no password."""
    on_postgres = make_url(database_url).get_backend_name() == "postgresql"
    return [v for k, v in CANARY_SECRETS.items() if on_postgres or k != "DATABASE_PASSWORD"]


@pytest.fixture
async def canary_bot(
    database_url: str, slack: FakeSlack, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[BotUnderTest, Captured]]:
    settings = logging_settings(
        database_url=_with_password(database_url),
        slack_bot_token=CANARY_SECRETS["SLACK_BOT_TOKEN"],
        slack_signing_secret=CANARY_SECRETS["SLACK_SIGNING_SECRET"],
        slack_app_token=CANARY_SECRETS["SLACK_APP_TOKEN"],
        slack_api_url=slack.url,
        ingest_token=CANARY_SECRETS["LOOPKEEPER_INGEST_TOKEN"],
        microsoft_app_id="00000000-0000-0000-0000-00000000ca11",
        microsoft_app_password=CANARY_SECRETS["MICROSOFT_APP_PASSWORD"],
        log_level="DEBUG",
        log_format=request.param,
    )
    with captured(settings) as logs:  # before the runtime: SQLAlchemy decides at connect
        clock = ManualClock(now_utc())
        runtime = await build_runtime(settings, load_routing(ROUTING_FILE), clock=clock)
        server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
        await server.start_server(**access_log_options(True))
        async with aiohttp.ClientSession() as http:
            base = str(server.make_url("")).rstrip("/")
            yield BotUnderTest(runtime, slack, clock, base, http), logs
        await server.close()
        await runtime.close()


@pytest.mark.parametrize("canary_bot", ["text", "json"], indirect=True)
async def test_no_secret_reaches_the_log_at_debug(
    canary_bot: tuple[BotUnderTest, Captured],
) -> None:
    bot, logs = canary_bot
    secrets = _secrets_of(bot.runtime.settings.database_url)
    bot.slack.add_message(
        "C0SUPPORT",
        {
            "type": "message",
            "ts": "1700000000.000100",
            "bot_id": "B0SUPPORT",
            # An AI that leaked secrets in its answer: exactly what people flag. The answer
            # then passes through slack_sdk's and SQLAlchemy's DEBUG lines.
            "text": f"Your token is {PASTED_USER_TOKEN}. Config: {' '.join(secrets)}",
        },
    )
    bot.slack.fail("chat.postMessage", Failure(status=500))  # a failed Slack call, retried later

    assert (await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100")).status == 200
    await bot.deliver()
    bot.clock.advance(timedelta(minutes=1))
    await bot.deliver()
    filed = await bot.ingest(
        {
            "system": "code-helper",
            "category": "hallucination",
            "comment": "It invented an API",
            "reporter": {"slack_id": "U0REPORTER"},
        },
        token=CANARY_SECRETS["LOOPKEEPER_INGEST_TOKEN"],
    )
    assert filed.status == 201
    refused = await bot.ingest({}, token=CANARY_SECRETS["LOOPKEEPER_INGEST_TOKEN"] + "x")
    assert refused.status == 401

    written = logs.stream.getvalue()
    for logger in ("slack_sdk", "sqlalchemy", "aiohttp.access"):  # their DEBUG lines are there
        assert logger in written
    leaked = [canary for canary in [*secrets, PASTED_USER_TOKEN] if canary in written]
    assert leaked == []
    assert "[REDACTED]" in written  # the pasted token and the bearer were there to redact
