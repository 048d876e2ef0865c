"""The benchmarks' statement/commit counter (tests/support/sql_counter.py) counts what a store
really sends, on every backend, including SQLite's fast path that bypasses SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage.database import create_engine
from storage.repository import SqlCaseStore
from tests.conftest import STORAGE_BACKENDS
from tests.support.sql_counter import Counts, SqlCounter


@pytest.fixture(params=STORAGE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Also SQLite through plain SQLAlchemy, where BEGIN is a statement SQLAlchemy sends."""
    return str(request.param)


@pytest.fixture
def counter() -> Iterator[SqlCounter]:
    counting = SqlCounter()
    counting.watch_inline_sqlite()
    yield counting
    counting.unwatch()


async def test_a_transaction_of_two_statements_is_two_statements_and_one_commit(
    database_url: str, sqlite_fast: bool, counter: SqlCounter
) -> None:
    engine = create_engine(database_url, sqlite_fast=sqlite_fast)
    counter.attach(engine)
    try:
        async with engine.connect() as warm:  # connection set-up (PRAGMAs) is not the workload
            await warm.rollback()
        before = counter.counts()
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.execute(text("SELECT 2"))
        done = counter.counts() - before
    finally:
        counter.detach(engine)
        await engine.dispose()
    assert done.statements == 2
    assert done.commits == 1
    assert done.rollbacks == 0


async def test_a_store_read_on_the_fast_path_is_counted_once(
    database_url: str, sqlite_fast: bool, counter: SqlCounter
) -> None:
    store = SqlCaseStore(create_engine(database_url, sqlite_fast=sqlite_fast))
    counter.attach(store.engine)
    try:
        await store.list_cases()  # opens and warms the store's connections
        before = counter.counts()
        await store.list_cases()
        await store.list_cases()
        done = counter.counts() - before
    finally:
        counter.detach(store.engine)
        await store.close()
    assert done.statements == 2
    assert done.commits == 0


async def test_postgres_autocommit_reads_count_no_transaction(
    backend: str, database_url: str, counter: SqlCounter
) -> None:
    if backend != "postgresql":
        pytest.skip("the store reads in AUTOCOMMIT on PostgreSQL only")
    store = SqlCaseStore(create_engine(database_url))
    counter.attach(store.engine)
    try:
        await store.list_cases()
        before = counter.counts()
        await store.list_cases()
        done = counter.counts() - before
    finally:
        counter.detach(store.engine)
        await store.close()
    assert done == Counts(statements=1, begins=0, commits=0, rollbacks=0)


def test_sqlite_trace_sorts_transaction_control_from_statements() -> None:
    counter = SqlCounter()
    for sql in ("BEGIN IMMEDIATE", "INSERT INTO t VALUES (1)", "COMMIT", "  rollback", "SELECT 1"):
        counter.trace(sql)
    assert counter.counts() == Counts(statements=2, begins=1, commits=1, rollbacks=1)
    assert counter.counts().per(2)["statements"] == 1.0
