"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL runs when LOOPKEEPER_TEST_POSTGRES_URL names a server (any database on it): the
session creates one throwaway database there, migrates it once and drops it at the end; each
test starts from empty tables (TRUNCATE). SQLite tests each get a copy of a template file
migrated once per session.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.database import create_engine
from storage.migrate import upgrade
from storage.repository import SqlCaseStore
from storage.tables import Base

# The bot-under-test fixtures (fake Slack, signed requests) live in their own module.
pytest_plugins = ["tests.harness"]

POSTGRES_URL_ENV = "LOOPKEEPER_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "LOOPKEEPER_REQUIRE_POSTGRES"
POSTGRES_SKIP_REASON = f"set {POSTGRES_URL_ENV} to run the PostgreSQL tests"
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]
"""The bot's tests: SQLite as the bot runs it by default (its fast paths on), and PostgreSQL."""
STORAGE_BACKENDS = [
    pytest.param("sqlite-plain", id="sqlite-plain"),
    pytest.param("sqlite", id="sqlite-fast"),
    pytest.param("postgresql", id="postgresql"),
]
"""The storage contract's: also SQLite through plain SQLAlchemy (LOOPKEEPER_SQLITE_FAST=off).
A test module runs over these by overriding `backend` (tests/test_storage_contract.py)."""

T = TypeVar("T")


def _in_thread(function: Callable[..., T], *args: object) -> T:
    """Run blocking or asyncio.run-based work away from the test's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def _run(coroutine_function: Callable[[], Awaitable[T]]) -> T:
    return _in_thread(lambda: asyncio.run(coroutine_function()))  # type: ignore[arg-type]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class PostgresServer:
    """Creates and drops throwaway databases on the server named by the environment."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def create_database(self) -> str:
        name = f"loopkeeper_test_{secrets.token_hex(6)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        async def run() -> None:
            engine = create_async_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            try:
                async with engine.connect() as connection:
                    await connection.execute(text(sql))
            finally:
                await engine.dispose()

        _run(run)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_URL_ENV} is not")
        pytest.skip(POSTGRES_SKIP_REASON)
    return PostgresServer(url)


@pytest.fixture(scope="session")
def _postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """One migrated throwaway database for the whole session."""
    name = postgres_server.create_database()
    try:
        url = postgres_server.url_of(name)
        _in_thread(upgrade, url)
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "loopkeeper.db"
    _in_thread(upgrade, sqlite_url(path))
    return path


async def _truncate_all(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database `database_url` is: "sqlite", "sqlite-plain" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def sqlite_fast(backend: str) -> bool:
    """Whether stores made over `database_url` take SQLite's fast paths."""
    return backend != "sqlite-plain"


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database: SQLite, then PostgreSQL."""
    if backend == "postgresql":
        url: str = request.getfixturevalue("_postgres_database")
        await _truncate_all(url)
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "loopkeeper.db"
    shutil.copyfile(template, path)
    return sqlite_url(path)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables at all (never migrated)."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = server.create_database()
        try:
            yield server.url_of(name)
        finally:
            server.drop_database(name)
    else:
        yield sqlite_url(tmp_path / "empty" / "loopkeeper.db")


@pytest.fixture
async def store(database_url: str, sqlite_fast: bool) -> AsyncIterator[SqlCaseStore]:
    """A SqlCaseStore over `database_url`, closed after the test."""
    case_store = SqlCaseStore(create_engine(database_url, sqlite_fast=sqlite_fast))
    yield case_store
    await case_store.close()
