"""Counting the SQL a process sends to its database: statements, transactions begun, commits.

A deterministic figure beside the timings: what filing and delivering a flag costs in round
trips, whatever else runs on the machine. Two sources, so that nothing is counted twice:

- SQLite connections that run inline (`storage.sqlite_inline`) are counted by SQLite itself
  (`sqlite3.Connection.set_trace_callback`), because the store's fast path
  (`storage.sqlite_direct`) runs prebuilt statements on the sqlite3 connection, past every
  SQLAlchemy event;
- every other connection (PostgreSQL, threaded SQLite) through SQLAlchemy's engine events
  (`before_cursor_execute`, `begin`, `commit`, `rollback`). A BEGIN sent as a statement (as
  SQLite's threaded engine does) counts as a begin, not a statement. A connection in
  AUTOCOMMIT (the store's PostgreSQL reads, and writes of one statement) sends no BEGIN or
  ROLLBACK although SQLAlchemy fires both events for it: those are not counted; a write there
  commits on its own, and counts as a commit.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

from storage.sqlite_inline import InlineConnection


@dataclass(frozen=True)
class Counts:
    statements: int = 0
    """Statements run, BEGIN/COMMIT/ROLLBACK not included (an executemany counts once)."""
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.statements - other.statements,
            self.begins - other.begins,
            self.commits - other.commits,
            self.rollbacks - other.rollbacks,
        )

    def per(self, flags: int) -> dict[str, float]:
        return {
            "statements": self.statements / flags,
            "begins": self.begins / flags,
            "commits": self.commits / flags,
            "rollbacks": self.rollbacks / flags,
        }


class SqlCounter:
    """Running totals; read them with `counts()`, subtract two readings for a phase."""

    def __init__(self) -> None:
        self._statements = 0
        self._begins = 0
        self._commits = 0
        self._rollbacks = 0
        self._watching = False
        self._kinds: Counter[str] = Counter()
        self._opened_by: dict[int, str] = {}
        """Per connection, the kind of the first statement of its open transaction."""

    def counts(self) -> Counts:
        return Counts(self._statements, self._begins, self._commits, self._rollbacks)

    def kinds(self) -> dict[str, int]:
        """Statements run so far by verb and first table ("INSERT outbox"), to see where a
        flag's statements go, and commits by their transaction's first statement ("COMMIT
        after INSERT inbox"), to see where its commits go; subtract two readings for a phase."""
        return dict(self._kinds)

    def watch_inline_sqlite(self) -> None:
        """Trace every inline SQLite connection opened from now on, in any engine of this
        process. Call it before the engine opens its first connection: one opened earlier
        is not traced."""
        if self._watching:
            return
        self._watching = True
        event.listen(Pool, "connect", self._on_connect)

    def unwatch(self) -> None:
        if self._watching:
            event.remove(Pool, "connect", self._on_connect)
            self._watching = False

    def attach(self, engine: AsyncEngine) -> None:
        """Count what goes through this engine's SQLAlchemy events (not inline SQLite: traced)."""
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._on_execute)
        event.listen(sync, "begin", self._on_begin)
        event.listen(sync, "commit", self._on_commit)
        event.listen(sync, "rollback", self._on_rollback)

    @contextlib.contextmanager
    def attached(self, engine: AsyncEngine) -> Iterator[SqlCounter]:
        """`attach` for the block."""
        self.attach(engine)
        try:
            yield self
        finally:
            self.detach(engine)

    def detach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.remove(sync, "before_cursor_execute", self._on_execute)
        event.remove(sync, "begin", self._on_begin)
        event.remove(sync, "commit", self._on_commit)
        event.remove(sync, "rollback", self._on_rollback)

    def trace(self, sql: str, connection: int = 0) -> None:
        """One statement as SQLite reports it (on the connection numbered `connection`)."""
        head = sql.lstrip()[:8].upper()
        if head.startswith("BEGIN"):
            self._begins += 1
            self._opened_by.pop(connection, None)
        elif head.startswith(("COMMIT", "END")):
            self._committed(connection)
        elif head.startswith("ROLLBACK"):
            self._rollbacks += 1
            self._opened_by.pop(connection, None)
        else:
            self._count(sql, connection)

    def _count(self, sql: str, connection: int) -> None:
        self._statements += 1
        kind = kind_of(sql)
        self._kinds[kind] += 1
        self._opened_by.setdefault(connection, kind)

    def _committed(self, connection: int) -> None:
        self._commits += 1
        self._kinds[f"COMMIT after {self._opened_by.pop(connection, '-')}"] += 1

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        inline = _inline(dbapi_connection)
        if inline is not None:
            number = id(inline.raw)
            inline.raw.set_trace_callback(lambda sql: self.trace(sql, number))

    def _on_execute(self, conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if _inline(conn.connection.dbapi_connection) is not None:
            return
        if not statement.lstrip()[:8].upper().startswith(_TRANSACTION_CONTROL):
            alone = _autocommit(conn)
            number = 0 if alone else id(conn.connection.dbapi_connection)
            self._count(statement, number)
            if alone and not statement.lstrip()[:6].upper().startswith("SELECT"):
                self._committed(0)  # a write of its own is a commit on the server, if unsent
            self._opened_by.pop(0, None)  # a statement of its own opens no transaction

    def _on_begin(self, conn: Any) -> None:
        if _inline(conn.connection.dbapi_connection) is None and not _autocommit(conn):
            self._begins += 1
            self._opened_by.pop(id(conn.connection.dbapi_connection), None)

    def _on_commit(self, conn: Any) -> None:
        if _inline(conn.connection.dbapi_connection) is None:
            self._committed(id(conn.connection.dbapi_connection))

    def _on_rollback(self, conn: Any) -> None:
        if _inline(conn.connection.dbapi_connection) is None and not _autocommit(conn):
            self._rollbacks += 1


@contextlib.contextmanager
def counting() -> Iterator[SqlCounter]:
    """A counter tracing the inline SQLite connections opened in the block: open the engine to
    count inside it."""
    counter = SqlCounter()
    counter.watch_inline_sqlite()
    try:
        yield counter
    finally:
        counter.unwatch()


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "END", "ROLLBACK")
_TABLE = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+\"?(\w+)", re.IGNORECASE)


def kind_of(sql: str) -> str:
    """A statement's verb and the first table it names: "SELECT cases", "INSERT outbox"."""
    text = sql.lstrip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    table = _TABLE.search(text)
    return f"{verb} {table.group(1) if table else '-'}"


def _autocommit(conn: Any) -> bool:
    return bool(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


def _inline(dbapi_connection: Any) -> InlineConnection | None:
    """The inline SQLite connection behind SQLAlchemy's adapter, if that is what it is."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if isinstance(driver, InlineConnection) and isinstance(driver.raw, sqlite3.Connection):
        return driver
    return None
