"""Alembic, driven from code: no alembic.ini, the migrations ship inside the package."""

from __future__ import annotations

import asyncio
import functools
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Alembic keeps its running environment in module globals (`alembic.context`): one migration
# run at a time per process. Across processes, env.py locks the database itself.
_upgrade_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for the packaged migrations, targeting `url` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Not set_main_option: ConfigParser interpolation chokes on '%' in encoded passwords.
        config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`.

    Synchronous: the migration environment runs its own event loop (asyncio.run), so call it
    from sync code or from a worker thread (`await asyncio.to_thread(upgrade, url)`), never
    directly from a coroutine.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with _upgrade_lock:
            command.upgrade(alembic_config(url), revision)
        return
    raise RuntimeError("upgrade() blocks and runs its own event loop: use `await upgrade_async()`")


async def upgrade_async(url: str, revision: str = "head") -> None:
    """`upgrade` from a coroutine: runs it in a worker thread."""
    await asyncio.to_thread(upgrade, url, revision)


@functools.cache
def head_revision() -> str:
    """The newest revision the packaged migrations define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def is_up_to_date(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest revision."""
    return await current_revision(engine) == head_revision()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
