"""How the store reaches its database: engines, connections, write turns and group commits.

On SQLite, which allows one writer, write transactions are serialised by `WriterTurns`
(bot/core/burst_priorities.py), so concurrent tasks queue instead of failing with "database is
locked". Do not open a write session while holding one: that would wait forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.burst_priorities import WriterTurns
from bot.core.clock import SystemClock
from bot.core.ports import Clock
from storage.database import SQLITE_BEGIN_OPTION, SQLITE_NO_BEGIN, create_engine, is_fast_sqlite
from storage.group_commit import GroupCommit
from storage.sqlite_direct import DirectStatements
from storage.statements import Statements, direct_statements, statements

# Statements run on Core connections, not ORM sessions: the ORM's unit of work (identity map,
# flush, per-statement session state) cost more than the SQL on the bot's hot path, and rows
# are turned into the core's pydantic models at once anyway. Tables: storage/statements.py.


BACKGROUND_TURNS = 32
"""Turns of the event loop a background write waits for others to join its group (acks wait
for none): sends of one outbox batch are answered close together, but each answer takes a few
turns to reach its write."""


class Sessions:
    """One database's connection policy, shared by every concept store over it."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        sqlite_db = engine.dialect.name == "sqlite"
        self.write_lock = WriterTurns() if sqlite_db else None
        write_engine = (
            engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}) if sqlite_db else engine
        )
        self._write_engine = write_engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._writer: AsyncConnection | None = None  # SQLite's one writer, kept open
        self._reader: AsyncConnection | None = None  # SQLite's inline reads, kept open
        self._reading = asyncio.Lock()
        self._threaded: AsyncEngine | None = None
        self.sql: Statements = statements(engine.dialect.name)
        self.direct: DirectStatements = direct_statements(engine.dialect.name)
        # Plain SQLite (LOOPKEEPER_SQLITE_FAST=off): no kept connections, no group commit.
        self.fast = is_fast_sqlite(engine)
        together = self.fast or not sqlite_db
        self.group = GroupCommit(
            self.write_session,
            self.direct.execute,
            together=together,
            turns=BACKGROUND_TURNS,
            one_statement=self.statement_session,
        )
        # Slack waits for these: they go before queued background writes, several acks
        # arriving together in one transaction.
        self.acks = GroupCommit(
            functools.partial(self.write_session, urgent=True),
            self.direct.execute,
            together=together,
            one_statement=functools.partial(self.statement_session, urgent=True),
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @property
    def reading_engine(self) -> AsyncEngine:
        """The engine for long reads (the weekly digest's aggregation). On SQLite, whose
        statements otherwise run on the event loop, it runs them on aiosqlite's thread, so acks
        are not held up meanwhile."""
        if self.write_lock is None or not self.fast:
            return self.engine
        if self._threaded is None:
            url = self.engine.url.render_as_string(hide_password=False)
            self._threaded = create_engine(url, threaded=True)
        return self._threaded

    async def close(self) -> None:
        await self.acks.close()
        await self.group.close()
        if self._threaded is not None:
            await self._threaded.dispose()
        for connection in (self._writer, self._reader):
            if connection is not None:
                await connection.close()
        self._writer = self._reader = None
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def write_session(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        if self.write_lock is None:
            async with (
                self._write_engine.connect() as connection,
                self._unit_of_work(connection),
            ):
                yield connection
            return
        if not self.fast:  # plain SQLite: writers take turns, each with a pooled connection
            async with (
                self.write_lock.hold(urgent=urgent),
                self._write_engine.connect() as connection,
                self._unit_of_work(connection),
            ):
                yield connection
            return
        # SQLite: writers take turns, so they share one connection instead of checking one out
        # of the pool (and resetting it) for each of the many small write transactions.
        async with self.write_lock.hold(urgent=urgent):
            if self._writer is None or self._writer.closed or self._writer.invalidated:
                self._writer = await self._write_engine.connect()
            async with self._unit_of_work(self._writer):
                yield self._writer

    @contextlib.asynccontextmanager
    async def statement_session(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for one write statement, which is atomic on its own. On PostgreSQL it
        runs without BEGIN and COMMIT, each a round trip the event loop waits for, in turns
        with everything else on it; on SQLite it is a write session (the writer takes turns)."""
        if self.write_lock is not None:
            async with self.write_session(urgent=urgent) as connection:
                yield connection
            return
        async with self._autocommit.connect() as connection:
            yield connection

    @staticmethod
    @contextlib.asynccontextmanager
    async def _unit_of_work(connection: AsyncConnection) -> AsyncIterator[None]:
        """Begin; commit at the end, or roll back on error. Whichever transaction is current
        then is the one ended: a checkpoint may have committed one and begun the next."""
        await connection.begin()
        try:
            yield
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()

    @contextlib.asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncConnection]:
        if self.write_lock is None:
            # PostgreSQL: each read is one statement, so no BEGIN and ROLLBACK round trips.
            async with self._autocommit.connect() as connection:
                yield connection
            return
        if not self.fast:  # plain SQLite: a pooled connection per read
            async with self.engine.connect() as connection:
                yield connection
            return
        # SQLite: statements run inline (storage.sqlite_inline), so one connection serves
        # every read in turn, each in its own short transaction (a fresh snapshot).
        async with self._reading:
            if self._reader is None or self._reader.closed or self._reader.invalidated:
                # Every read here is one statement: consistent on its own, no BEGIN needed.
                self._reader = await self.engine.connect()
                await self._reader.execution_options(**{SQLITE_BEGIN_OPTION: SQLITE_NO_BEGIN})
            async with self._reader.begin():
                yield self._reader

    async def read(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[Row[Any]]:
        async with self.read_session() as connection:
            return list((await self.direct.execute(connection, statement, parameters)).all())

    async def read_first(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        async with self.read_session() as connection:
            return (await self.direct.execute(connection, statement, parameters)).first()

    async def read_scalar(self, statement: Select[Any]) -> Any:
        async with self.read_session() as connection:
            return await connection.scalar(statement)

    async def write(self, statement: Any) -> None:
        """Run one statement in a write transaction of its own."""
        async with self.write_session() as connection:
            await connection.execute(statement)

    async def lease(
        self,
        claim: Any,
        now: datetime,
        until: datetime,
        limit: int,
        *,
        order: tuple[str, ...] = ("id",),
        first: tuple[Any, dict[str, Any]] | None = None,
    ) -> list[Row[Any]]:
        """Run a claim (storage/statements.py `claim`: lock the due rows, skipping rows
        another worker holds, and stamp them with their lease until `until`) and commit, so
        every other worker (or replica) sees it at once. Returns the rows as stamped, sorted
        by the columns `order` names (the order the claim chose them in). `first`: a statement
        and its parameters to run before, in the same transaction."""
        parameters = {"now": now, "limit": limit, "until": until}
        session = self.write_session if first is not None else self.statement_session
        async with session() as connection:
            if first is not None:
                await self.direct.execute(connection, *first)
            stamped = list(await self.direct.execute(connection, claim, parameters))
        return sorted(stamped, key=lambda row: tuple(getattr(row, name) for name in order))
