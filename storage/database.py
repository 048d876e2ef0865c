"""Engines: one factory for every database URL, with SQLite made safe for a busy process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.sqlite_inline import BUSY_TIMEOUT_MS as INLINE_BUSY_TIMEOUT_MS
from storage.sqlite_inline import InlineConnection, inline_connector

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_BEGIN_OPTION = "loopkeeper_sqlite_begin"
"""Execution option naming how a SQLite transaction begins: `DEFERRED` (reads), `IMMEDIATE`
(writes) or `SQLITE_NO_BEGIN`."""
SQLITE_NO_BEGIN = "NONE"
"""No BEGIN at all: each statement is its own transaction. For single-statement reads only."""
SQLITE_FAST_OPTION = "loopkeeper_sqlite_fast"
"""Engine execution option: True when the store may take SQLite's fast paths (`sqlite_fast`)."""


def create_engine(
    url: str, *, foreign_keys: bool = True, threaded: bool = False, sqlite_fast: bool = True
) -> AsyncEngine:
    """An async engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys.

    SQLite statements run on the event loop's thread (see `storage.sqlite_inline`) unless
    `threaded`, which keeps aiosqlite's worker thread: for long reads that must not stall the
    loop. `sqlite_fast=False` (LOOPKEEPER_SQLITE_FAST=off) is SQLite through plain SQLAlchemy
    and aiosqlite: no inline driver, and a store over it takes none of its other fast paths
    (prebuilt statements run directly, group commit, kept connections). Ignored elsewhere.
    `foreign_keys=False` is for migrations only (SQLite batch mode recreates tables).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Waiting 30 s for a connection outlasts Slack's 3 s ack: fail fast and let it retry.
        # No pre-ping: with asyncpg it is three round trips (BEGIN, ping, ROLLBACK) on every
        # checkout, most of a flag's round trips. A connection the server dropped fails its
        # statement instead; SQLAlchemy then discards the pool's older connections, and the
        # work is retried (Slack resends an event, the outbox and timers retry on their own).
        return create_async_engine(
            parsed, pool_size=10, max_overflow=20, pool_timeout=5, pool_recycle=1800
        )
    _create_parent_dir(parsed)
    threaded = threaded or not sqlite_fast
    if threaded:
        engine = create_async_engine(parsed, execution_options={SQLITE_FAST_OPTION: False})
    else:
        uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
        engine = create_async_engine(
            parsed,
            async_creator=inline_connector(parsed.database or ":memory:", uri=uri),
            execution_options={SQLITE_FAST_OPTION: True},
        )
    busy_ms = SQLITE_BUSY_TIMEOUT_MS if threaded else INLINE_BUSY_TIMEOUT_MS
    event.listen(engine.sync_engine, "connect", _sqlite_connect(foreign_keys, busy_ms))
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def is_fast_sqlite(engine: AsyncEngine) -> bool:
    """A SQLite engine made for the fast paths (`create_engine(..., sqlite_fast=True)`)."""
    return is_sqlite(engine) and bool(engine.get_execution_options().get(SQLITE_FAST_OPTION))


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases, `:memory:` and `file:` URIs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _create_parent_dir(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_connect(foreign_keys: bool, busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (see _sqlite_begin) instead of the driver's legacy mode,
        # which starts no transaction for SELECT or DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    # Writers begin IMMEDIATE: they take the write lock up front and wait for it (busy_timeout)
    # rather than failing with SQLITE_BUSY when upgrading a read snapshot to a write.
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    if mode == SQLITE_NO_BEGIN:
        return
    driver = connection.connection.driver_connection
    if isinstance(driver, InlineConnection) and driver.try_begin(mode):
        return  # a statement fewer through SQLAlchemy, on every transaction
    connection.exec_driver_sql(f"BEGIN {mode}")
