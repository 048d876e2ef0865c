"""A SQLite driver connection that runs statements on the event loop's own thread.

SQLAlchemy's aiosqlite dialect hands every call (execute, fetch, cursor close, commit) to
aiosqlite's worker thread and back: four or five thread round trips per statement, each far
dearer than the statement itself on a local WAL file. Filing one flag is ~50 statements, so
the round trips, not SQLite, were most of the bot's CPU. This object speaks the slice of
aiosqlite's API the dialect uses (given to it through `create_async_engine(async_creator=…)`),
and runs each call at once.

The price is that a statement blocks the loop while it runs. That suits short statements; it
is why long reads (digests over many weeks) may still use a threaded engine. Waiting for
another connection's write lock must not block the loop (the holder may be a coroutine of this
very process), so connections get a short busy timeout and `BEGIN` retries with async sleeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

BUSY_TIMEOUT_MS = 20
"""How long one statement may block the loop waiting for a lock before SQLite says busy."""
BEGIN_PATIENCE_S = 30.0
"""How long `BEGIN` keeps retrying (asynchronously) for the write lock before it gives up."""


async def _begin(cursor: sqlite3.Cursor, sql: str) -> None:
    give_up = time.monotonic() + BEGIN_PATIENCE_S
    delay = 0.001
    while True:
        try:
            cursor.execute(sql)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= give_up:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


class InlineCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if not parameters and sql.startswith("BEGIN"):
            await _begin(self._cursor, sql)
        else:
            self._cursor.execute(sql, parameters if parameters is not None else ())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _CursorOpener:
    """What `connection.cursor()` returns in aiosqlite: awaitable, or entered with `async with`."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._connection.cursor())

    async def __aexit__(self, *_exc: object) -> None:
        return None

    def __await__(self) -> Any:
        return self.__aenter__().__await__()


class _ImmediateQueue:
    """The dialect sets `isolation_level` by queueing a function for aiosqlite's thread; here
    the function runs when queued."""

    __slots__ = ()

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _ImmediateQueue()

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection (storage/sqlite_direct.py runs statements on it)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def try_begin(self, mode: str) -> bool:
        """BEGIN without SQLAlchemy's statement machinery; False if the database is locked
        (the caller then begins through the cursor, which waits for the lock asynchronously)."""
        try:
            self._conn.execute(f"BEGIN {mode}")
        except sqlite3.OperationalError as error:
            if "locked" in str(error):
                return False
            raise
        return True

    def cursor(self) -> _CursorOpener:
        return _CursorOpener(self._conn)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = InlineCursor(self._conn.cursor())
        return await cursor.execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def inline_connector(database: str, *, uri: bool = False) -> Callable[[], Any]:
    """The `async_creator` for an engine whose connections run inline."""

    async def connect() -> InlineConnection:
        # The pool may close a connection from the garbage collector's thread.
        connection = sqlite3.connect(database, uri=uri, check_same_thread=False)
        return InlineConnection(connection)

    return connect
