"""The OpenAPI document: kept in the repository as docs/openapi.json, identical to what the bot
serves, and held to by the running app: schemathesis generates requests from the file and sends
them over real HTTP to the bot on an ephemeral port (no 5xx; every response as documented)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from handlers.api_openapi import example_document
from tests.conftest import sqlite_url
from tests.harness import INGEST_TOKEN, running_bot
from tests.support.fake_slack import FakeSlack

SPEC = Path(__file__).parent.parent / "docs" / "openapi.json"
EXAMPLE_ROUTING = Path(str(resources.files("bot.config").joinpath("routing.example.yaml")))
REGENERATE = "python -m handlers.api_openapi > docs/openapi.json"

schema = schemathesis.openapi.from_path(SPEC)


def test_the_kept_document_is_the_one_the_code_makes() -> None:
    kept = json.loads(SPEC.read_text(encoding="utf-8"))
    assert kept == example_document(), f"docs/openapi.json is stale: run `{REGENERATE}`"


class ServedBot:
    """The bot with the example routing, on its own event loop in a thread, so schemathesis'
    blocking client can call it."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.base_url = ""
        self.served: bytes = b""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> ServedBot:
        self._thread.start()
        self._ready.wait(60)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        slack = FakeSlack()
        await slack.start()
        try:
            async with running_bot(self.database_url, slack, EXAMPLE_ROUTING) as bot:
                self.base_url = bot.base_url
                response = await bot.http.get(f"{bot.base_url}/api/v1/openapi.json")
                self.served = await response.read()
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:  # reported to the test thread
            self.error = error
            self._ready.set()
        finally:
            await slack.stop()


@pytest.fixture(scope="module")
def served(_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedBot]:
    path = tmp_path_factory.mktemp("openapi") / "loopkeeper.db"
    shutil.copyfile(_sqlite_template, path)
    with ServedBot(sqlite_url(path)) as bot:
        yield bot


def test_the_served_document_is_the_kept_one(served: ServedBot) -> None:
    assert json.loads(served.served) == json.loads(SPEC.read_text(encoding="utf-8"))


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_running_api_answers_as_documented(case: schemathesis.Case, served: ServedBot) -> None:
    # Every check but one: a schema-valid body can still be refused (422) for what JSON Schema
    # does not say here (an id with control characters, a category unknown to the routing).
    # And a 413 is a refusal too: a body over 1 MiB is turned away before it is read, however
    # wrong it is besides (schemathesis counts only 4xx codes about content as refusals).
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    response = case.call(base_url=served.base_url, headers=headers)
    excluded = [positive_data_acceptance]
    if response.status_code == 413:
        excluded.append(negative_data_rejection)
    case.validate_response(response, headers=headers, excluded_checks=excluded)
