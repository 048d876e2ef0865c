"""Bulk loading: PostgreSQL COPY through asyncpg, SQLite executemany in big transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from bench.digest.data import (
    CARD_COLUMNS,
    CASE_COLUMNS,
    JSON_COLUMNS,
    OUTBOX_COLUMNS,
    REPORT_COLUMNS,
    TIMELINE_COLUMNS,
    TOLD_COLUMNS,
    Spec,
    as_json,
    generate,
)

TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cases", "cases", CASE_COLUMNS),
    ("cards", "card_locations", CARD_COLUMNS),
    ("reports", "reports", REPORT_COLUMNS),
    ("timeline", "case_timeline", TIMELINE_COLUMNS),
    ("outbox", "outbox", OUTBOX_COLUMNS),
    ("told", "reporters_told", TOLD_COLUMNS),
)

Progress = Callable[[str], None]


def asyncpg_dsn(url: str) -> str:
    """postgresql+asyncpg://… → postgresql://… for asyncpg.connect."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database:
        raise ValueError(f"{url}: no SQLite file")
    return database


def _json_columns(columns: tuple[str, ...]) -> list[int]:
    return [i for i, name in enumerate(columns) if name in JSON_COLUMNS]


def _rows(rows: list[tuple[Any, ...]], columns: tuple[str, ...], convert: Any) -> Iterable[Any]:
    json_at = _json_columns(columns)
    for row in rows:
        values = list(row)
        for i in json_at:
            values[i] = as_json(values[i])
        yield tuple(convert(v) for v in values)


async def load_postgres(url: str, spec: Spec, progress: Progress) -> dict[str, int]:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    counts = dict.fromkeys((name for name, _, _ in TABLES), 0)
    started = time.perf_counter()
    try:
        for chunk in generate(spec):
            async with connection.transaction():
                for name, table, columns in TABLES:
                    rows = getattr(chunk, name)
                    if not rows:
                        continue
                    await connection.copy_records_to_table(
                        table, records=list(_rows(rows, columns, _same)), columns=list(columns)
                    )
                    counts[name] += len(rows)
            _report(progress, counts, spec, started)
        for table in ("cases", "reports", "case_timeline", "outbox", "reporters_told"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        progress("VACUUM ANALYZE …")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return counts


def load_sqlite(url: str, spec: Spec, progress: Progress) -> dict[str, int]:
    connection = sqlite3.connect(sqlite_path(url), isolation_level=None)
    counts = dict.fromkeys((name for name, _, _ in TABLES), 0)
    started = time.perf_counter()
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA foreign_keys=OFF")
        statements = {
            name: f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
            for name, table, columns in TABLES
        }
        connection.execute("BEGIN")
        for number, chunk in enumerate(generate(spec), start=1):
            for name, _, columns in TABLES:
                rows = getattr(chunk, name)
                connection.executemany(statements[name], _rows(rows, columns, _sqlite_value))
                counts[name] += len(rows)
            if number % 10 == 0:
                connection.execute("COMMIT")
                connection.execute("BEGIN")
            _report(progress, counts, spec, started)
        connection.execute("COMMIT")
        progress("ANALYZE …")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return counts


def _same(value: Any) -> Any:
    return value


def _sqlite_value(value: Any) -> Any:
    """Datetimes as SQLAlchemy stores them in SQLite: naive UTC text with microseconds."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _report(progress: Progress, counts: dict[str, int], spec: Spec, started: float) -> None:
    done = counts["cases"]
    if done % 50_000 and done != spec.cases:
        return
    elapsed = time.perf_counter() - started
    progress(
        f"  {done:,}/{spec.cases:,} cases, {counts['reports']:,} reports, "
        f"{counts['timeline']:,} timeline entries, {counts['outbox']:,} outbox rows "
        f"({elapsed:.0f} s)"
    )


PROPOSED_INDEXES = (
    ("ix_reports_created_at", "reports", "created_at"),
    ("ix_case_timeline_at", "case_timeline", "at"),
    ("ix_outbox_created_at", "outbox", "created_at"),
)
"""Indexes for the digest's week-range scans, not (yet) in the migrations: the bench measures
the digest without them, then with them."""


async def add_proposed_indexes(url: str) -> None:
    from sqlalchemy import text

    from storage.database import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for name, table, column in PROPOSED_INDEXES:
                await connection.execute(
                    text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")
                )
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


def main(argv: list[str]) -> None:
    """`python -m bench.digest.load URL REPORTS CASES`: load in a process of its own, so the
    measuring process never inherits this one's memory high-water mark."""
    import asyncio

    url, reports, cases = argv[0], int(argv[1]), int(argv[2])
    spec = Spec(reports=reports, cases=cases)

    def progress(line: str) -> None:
        print(line, flush=True)

    if make_url(url).get_backend_name() == "postgresql":
        asyncio.run(load_postgres(url, spec, progress))
    else:
        load_sqlite(url, spec, progress)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
