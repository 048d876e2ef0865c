"""The floor of loopkeeper's own stack: what any bot on it must do for one Slack event.

An aiohttp route that checks Slack's signature (HMAC-SHA256 over `v0:timestamp:body`, the
timestamp within five minutes), `json.loads` the body and INSERTs one row, through the same
engine loopkeeper makes (`storage.database.create_engine`: inline SQLite or asyncpg), one
transaction per event. loopkeeper's `POST /slack/events` does all of this and more, so its
figures as a share of these say what the rest costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import create_engine, is_sqlite

TABLE = "bench_floor_events"
MAX_SKEW_S = 300


def _signed(secret: bytes, request_ts: str, body: bytes, signature: str) -> bool:
    if not request_ts.isdigit() or abs(time.time() - int(request_ts)) > MAX_SKEW_S:
        return False
    base = b"v0:" + request_ts.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def floor_app(engine: AsyncEngine, signing_secret: str) -> web.Application:
    secret = signing_secret.encode()
    insert = text(f"INSERT INTO {TABLE} (event_id, user_id, reaction) VALUES (:e, :u, :r)")
    # SQLite has one writer: queue here rather than retry on "database is locked".
    writer = asyncio.Lock() if is_sqlite(engine) else contextlib.nullcontext()

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        request_ts = headers.get("X-Slack-Request-Timestamp", "")
        if not _signed(secret, request_ts, body, headers.get("X-Slack-Signature", "")):
            return web.Response(status=401)
        try:
            envelope = json.loads(body)
            event = envelope["event"]
            row = {"e": envelope["event_id"], "u": event["user"], "r": event["reaction"]}
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        async with writer, engine.begin() as connection:
            await connection.execute(insert, row)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


@contextlib.asynccontextmanager
async def floor_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """loopkeeper's kind of engine on `database_url`, with the floor's table in it."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} (event_id VARCHAR(64) PRIMARY KEY, "
                    "user_id VARCHAR(64) NOT NULL, reaction VARCHAR(64) NOT NULL)"
                )
            )
        yield engine
    finally:
        await engine.dispose()
