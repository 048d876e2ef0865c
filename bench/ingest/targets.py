"""The apps under test, each served on 127.0.0.1 on an ephemeral port, and their databases."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.ingest.events import ROUTING_FILE, SIGNING_SECRET
from bench.server import run_on_server
from bot.app.main import build_runtime
from bot.app.runtime import Runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from storage.migrate import upgrade
from storage.tables import ReportRow
from tests.support.fake_slack import BOT_TOKEN

EVENTS_PATH = "/slack/events"


# --- databases ------------------------------------------------------------------------------


class Databases:
    """Fresh, migrated databases on demand; all of them removed by `cleanup`."""

    def __init__(self, url: str | None) -> None:
        self._url = url
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._dropped: list[str] = []
        self.kind = "sqlite" if url is None else make_url(url).get_backend_name()
        if self.kind not in ("sqlite", "postgresql"):
            raise SystemExit(f"--database-url: SQLite or PostgreSQL, not {self.kind}")

    @property
    def label(self) -> str:
        if self._url is None:
            return "SQLite (fresh file in a temporary directory)"
        return make_url(self._url).render_as_string(hide_password=True)

    async def fresh(self, label: str) -> str:
        """The URL of a new, migrated database for one phase."""
        if self.kind == "postgresql":
            assert self._url is not None
            url = await self._create_postgres(label)
        else:
            url = f"sqlite+aiosqlite:///{self._sqlite_path(label)}"
        await asyncio.to_thread(upgrade, url)  # upgrade runs its own loop: not in this one
        return url

    def _sqlite_path(self, label: str) -> Path:
        if self._url is None:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="loopkeeper-bench-")
            return Path(self._tmp.name) / f"{label}.db"
        given = Path(make_url(self._url).database or "loopkeeper-bench.db")
        path = given.with_name(f"{given.stem}-{label}{given.suffix or '.db'}")
        if path.exists():
            raise SystemExit(f"{path} exists; the benchmark only writes to fresh files")
        return path

    async def _create_postgres(self, label: str) -> str:
        assert self._url is not None
        name = f"loopkeeper_bench_{label.replace('-', '_')}_{secrets.token_hex(4)}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self._dropped.append(name)
        return make_url(self._url).set(database=name).render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        assert self._url is not None
        await run_on_server(self._url, sql)

    async def cleanup(self) -> None:
        for name in self._dropped:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._dropped.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


# --- serving --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` as `loopkeeper serve` does (no access log); yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Loopkeeper:
    runtime: Runtime
    url: str

    async def reports_stored(self) -> int:
        """Reports in the database: the sum of every case's report count."""
        return sum(case.report_count for case in await self.runtime.store.list_cases())

    async def cases(self) -> int:
        return len(await self.runtime.store.list_cases())

    async def stored_reporters(self) -> set[str]:
        """The Slack users with a report stored."""
        async with self.runtime.store.engine.connect() as connection:
            rows = await connection.execute(select(ReportRow.reporter_slack_id))
            return {str(user) for (user,) in rows}

    async def drain_inbox(self, limit_seconds: float) -> float:
        """Wait for the inbox worker to file every accepted flag; returns how long it took."""
        started = time.perf_counter()
        self.runtime.inbox.wake()
        while time.perf_counter() - started < limit_seconds:
            if not await self.runtime.store.inbox_pending():
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - started

    async def drain_outbox(self, limit_seconds: float) -> tuple[int, float]:
        """Wait (as production would, background delivery running) for the outbox to empty.

        Returns what is still pending and how long it took.
        """
        started = time.perf_counter()
        self.runtime.dispatcher.wake()
        while True:
            pending = await self.runtime.store.pending_count()
            elapsed = time.perf_counter() - started
            if pending == 0 or elapsed > limit_seconds:
                return pending, elapsed
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def loopkeeper(slack_url: str, database_url: str) -> AsyncIterator[Loopkeeper]:
    """The real runtime, built and started as `loopkeeper serve` would."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=slack_url,
        # The fake Slack here has no limits: pacing to Slack's real ones would measure them.
        pacing="off",
    )
    runtime = await build_runtime(settings, load_routing(ROUTING_FILE))
    try:
        await runtime.start_background()
        async with serve(runtime.web_app) as base:
            yield Loopkeeper(runtime, base + EVENTS_PATH)
    finally:
        await runtime.close()


@contextlib.asynccontextmanager
async def _bolt(slack_url: str, register: Callable[[AsyncApp], object]) -> AsyncIterator[str]:
    """slack_bolt's AsyncApp as a bare app would run it, behind loopkeeper's kind of route.

    Request verification on, process_before_response on, the token verified once with
    auth.test against the same fake Web API. Yields the events URL.
    """
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_url, session=session)
        app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=True)
        register(app)

        async def handle(request: web.Request) -> web.Response:
            bolt_response = await app.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, handle)
        async with serve(web_app) as base:
            yield base + EVENTS_PATH


def bare_bolt(slack_url: str) -> contextlib.AbstractAsyncContextManager[str]:
    """The baseline: a no-op `reaction_added` listener."""

    async def noop() -> None:
        return None

    return _bolt(slack_url, lambda app: app.event("reaction_added")(noop))


def bolt_with_lookups(slack_url: str) -> contextlib.AbstractAsyncContextManager[str]:
    """A diagnostic: the bare app plus the Web API look-ups loopkeeper makes before its ack.

    The listener fetches the flagged message and its permalink (conversations.history and
    chat.getPermalink, concurrently, over one shared session) and stores nothing: the gap
    between it and loopkeeper is what the database work and the rest cost.
    """

    async def look_up(event: dict[str, Any], client: AsyncWebClient) -> None:
        item = event["item"]
        await asyncio.gather(
            client.conversations_history(
                channel=item["channel"],
                latest=item["ts"],
                oldest=item["ts"],
                inclusive=True,
                limit=1,
                include_all_metadata=True,
            ),
            client.chat_getPermalink(channel=item["channel"], message_ts=item["ts"]),
        )

    return _bolt(slack_url, lambda app: app.event("reaction_added")(look_up))
