"""Alembic environment: async engine, URL given programmatically by storage.migrate."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.database import SQLITE_BEGIN_OPTION, create_engine
from storage.tables import Base

config = context.config
target_metadata = Base.metadata

# Replicas that start together all migrate first: on PostgreSQL they queue on this advisory
# lock, and each reads the current revision only once it holds the lock.
MIGRATION_LOCK_KEY = 0x6C6F6F70  # "loop"


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use storage.migrate.upgrade(url)")
    return str(url)


def _configure(**options: object) -> None:
    url = _database_url()
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=url.startswith("sqlite"),  # SQLite cannot ALTER most things in place
        # One transaction for the whole run, SQLite included (storage.database makes SQLAlchemy,
        # not the driver, emit BEGIN, so SQLite DDL is transactional): a failed migration
        # leaves nothing half-done, and concurrent migrators see each other's result whole.
        transactional_ddl=True,
        compare_type=True,
        **options,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit the SQL to stdout instead of running it (`alembic upgrade --sql`)."""
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def run_migrations_online() -> None:
    # Foreign keys off: SQLite batch migrations recreate tables that others reference.
    engine = create_engine(_database_url(), foreign_keys=False)
    try:
        # On SQLite, take the write lock up front (BEGIN IMMEDIATE), so concurrent migrators
        # wait for each other instead of failing to upgrade a read lock.
        options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}
        async with engine.execution_options(**options).connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
