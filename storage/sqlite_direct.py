"""The prebuilt statements, run straight on the inline SQLite connection.

Through SQLAlchemy's Connection a statement costs ~50 µs of bookkeeping (execution context,
result metadata, events, a greenlet switch per driver call) where SQLite itself needs ~10 µs, and
filing one flag runs about ten statements. The statements of storage/statements.py never change,
so SQLAlchemy compiles each one once here (per set of parameter names), with the bind and result
processors of its column types, and later calls only convert the values and run the SQL on the
sqlite3 connection the transaction already holds. Whatever this does not cover (PostgreSQL, the
threaded driver, statements built per call, Python-side column defaults, an empty IN list) runs
through SQLAlchemy as before, so both paths must give the same answers: the contract tests run
every store method over both databases.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.sqlite_inline import InlineConnection

Processor = Callable[[Any], Any] | None
ROWS_PER_INSERT = 200
"""Rows per multi-row INSERT: far below SQLite's limit of 32,766 parameters a statement."""


@dataclass(frozen=True)
class _Plan:
    statement: Any  # kept so its id() is never reused while planned
    compiled: Any
    sql: str
    names: tuple[str, ...]
    binders: tuple[Processor, ...]
    expanding: frozenset[str]
    row: Callable[..., tuple[Any, ...]] | None
    loaders: tuple[Processor, ...]
    values_group: str | None
    """An INSERT's `(?, ?, ..)` after VALUES, which several rows repeat; None if not one."""
    fixed: dict[str, Any]
    """Values the statement itself gives (literals SQLAlchemy made parameters of)."""
    binds_none: frozenset[str]
    """Parameters whose processor turns None into something else (JSON's 'null')."""

    def run(self, cursor: sqlite3.Cursor, bound: tuple[str, list[Any]]) -> list[Any] | None:
        """Run SQL bound by `bind`; the rows it returns (None when it returns none)."""
        cursor.execute(*bound)
        return self._rows(cursor)

    def bind_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
        """An INSERT of several rows as INSERT .. VALUES (..), (..) statements, with their
        parameters (to `run` in turn)."""
        assert self.values_group is not None and not self.expanding
        values = "VALUES " + self.values_group
        head, tail = self.sql.split(values, 1)
        statements = []
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            bound: list[Any] = []
            for row in chunk:
                bound += self.bind(row)[1]
            sql = head + values + (", " + self.values_group) * (len(chunk) - 1) + tail
            statements.append((sql, bound))
        return statements

    def bind(self, parameters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its converted parameters. Raises `_NotCovered` when SQLAlchemy must run
        it (an empty IN list, which it renders itself; a value missing, which it names)."""
        sql = self.sql
        bound: list[Any] = []
        for name, binder in zip(self.names, self.binders, strict=True):
            if name in parameters:
                value = parameters[name]
            elif name in self.fixed:
                value = self.fixed[name]
            else:
                raise _NotCovered  # a value is missing: SQLAlchemy says which
            if value is None and name not in self.binds_none:
                bound.append(None)
            elif name in self.expanding:
                if not value:
                    raise _NotCovered
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(value)), 1)
                bound += [binder(v) for v in value] if binder else value
            else:
                bound.append(binder(value) if binder else value)
        return sql, bound

    def _rows(self, cursor: sqlite3.Cursor) -> list[Any] | None:
        if self.row is None:
            return None
        return [self._load(raw) for raw in cursor.fetchall()]

    def _load(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        assert self.row is not None
        return self.row(
            *(load(v) if load else v for load, v in zip(self.loaders, raw, strict=True))
        )


class _NotCovered(Exception):
    """This call is SQLAlchemy's to run."""


class Rows:
    """The slice of SQLAlchemy's Result the repository reads."""

    def __init__(self, rows: list[Any] | None, rowcount: int) -> None:
        self._rows = rows if rows is not None else []
        self.returns_rows = rows is not None
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


class DirectStatements:
    """Plans for a fixed set of statements, made on first use with each set of parameter
    names; `execute` runs a planned statement directly when it can."""

    def __init__(self, statements: Iterable[Any]) -> None:
        self._known = {id(statement) for statement in statements}
        self._plans: dict[tuple[int, frozenset[str]], _Plan | None] = {}

    async def execute(
        self,
        connection: AsyncConnection,
        statement: Any,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Any:
        """Like `connection.execute(statement, parameters)`: a Result, or `Rows` when run
        directly."""
        raw = self._raw(connection, statement)
        if raw is None:
            return await connection.execute(statement, parameters)  # type: ignore[arg-type]
        many = [] if parameters is None or isinstance(parameters, Mapping) else list(parameters)
        single: Mapping[str, Any] = parameters if isinstance(parameters, Mapping) else {}
        plan = self._plan(connection.dialect, statement, many[0] if many else single)
        if plan is None or (many and plan.expanding):
            return await connection.execute(statement, parameters)  # type: ignore[arg-type]
        try:  # every statement bound before any runs: a fallback then repeats nothing
            if not many:
                statements = [plan.bind(single)]
            elif plan.values_group is not None and len(many) > 1:
                statements = plan.bind_rows(many)
            else:
                statements = [plan.bind(one) for one in many]
        except _NotCovered:
            return await connection.execute(statement, parameters)  # type: ignore[arg-type]
        cursor = raw.cursor()
        try:
            found: list[Any] | None = None
            count = 0
            for bound in statements:
                rows = plan.run(cursor, bound)
                count += max(cursor.rowcount, 0)
                if rows is not None:
                    found = (found or []) + rows
            return Rows(found, count if many else cursor.rowcount)
        except sqlite3.Error as error:
            # As SQLAlchemy would raise it, so callers catch one kind of error either way.
            raise DBAPIError.instance(plan.sql, None, error, sqlite3.Error) from error
        finally:
            cursor.close()

    def _raw(self, connection: AsyncConnection, statement: Any) -> sqlite3.Connection | None:
        if id(statement) not in self._known:
            return None
        driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        return driver.raw if isinstance(driver, InlineConnection) else None

    def _plan(
        self, dialect: Dialect, statement: Any, parameters: Mapping[str, Any]
    ) -> _Plan | None:
        key = (id(statement), frozenset(parameters))
        if key not in self._plans:
            self._plans[key] = _make_plan(dialect, statement, sorted(parameters))
        return self._plans[key]


def _make_plan(dialect: Dialect, statement: Any, keys: list[str]) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params:
        return None  # values SQLAlchemy computes per call (Python-side defaults)
    names = tuple(compiled.positiontup or ())
    binds = [compiled.binds[name] for name in names]
    binders = tuple(bind.type._cached_bind_processor(dialect) for bind in binds)
    fixed = {n: b.effective_value for n, b in zip(names, binds, strict=True) if not b.required}
    binds_none = frozenset(
        name
        for name, binder in zip(names, binders, strict=True)
        if binder is not None and binder(None) is not None
    )
    columns = list(getattr(compiled, "_result_columns", None) or [])
    row = _row_type([c.keyname for c in columns]) if columns else None
    loaders = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
    expanding = frozenset(p.key for p in compiled.post_compile_params)
    sql = compiled.string
    group = "(" + ", ".join("?" * len(names)) + ")"
    values_group = group if sql.startswith("INSERT") and sql.count(f"VALUES {group}") == 1 else None
    return _Plan(
        statement,
        compiled,
        sql,
        names,
        binders,
        expanding,
        row,
        loaders,
        values_group,
        fixed,
        binds_none,
    )


def _row_type(names: list[str]) -> Callable[..., tuple[Any, ...]]:
    """Rows read by attribute (row.id) and by position, as SQLAlchemy's are."""
    return collections.namedtuple("Row", names, rename=True)  # type: ignore[misc]
