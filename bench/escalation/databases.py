"""Fresh, migrated databases for each phase (SQLite files or throwaway PostgreSQL databases),
all removed at the end."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.server import run_on_server
from storage.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Database:
    url: str
    label: str
    kind: str  # "sqlite" or "postgresql"


async def postgres_reachable(url: str, within: float = 3.0) -> bool:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(within), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


def backend(url: str | None) -> str:
    """'sqlite' for None, 'sqlite' or any sqlite URL; else the URL's backend name."""
    if url is None or url.split(":", 1)[0].split("+", 1)[0] == "sqlite":
        return "sqlite"
    try:
        return make_url(url).get_backend_name()
    except Exception:
        return url


class Databases:
    """Hands out fresh migrated databases; `cleanup` drops or deletes every one of them."""

    def __init__(self) -> None:
        self._tmp: Path | None = None
        self._dropped: list[tuple[URL, str]] = []

    async def fresh(self, base: str | None, phase: str) -> Database:
        """A new database for `phase`: on the PostgreSQL server of `base`, else a SQLite file."""
        kind = backend(base)
        if kind == "postgresql":
            assert base is not None
            database = await self._postgres(make_url(base), phase)
        elif kind == "sqlite":
            database = self._sqlite(phase)
        else:
            raise SystemExit(f"--database-url: SQLite or PostgreSQL, not {base}")
        await asyncio.to_thread(upgrade, database.url)  # upgrade runs its own event loop
        return database

    def _sqlite(self, phase: str) -> Database:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="loopkeeper-bench-escalation-"))
        path = self._tmp / f"{phase}.db"
        return Database(f"sqlite+aiosqlite:///{path}", f"SQLite, fresh file {path}", "sqlite")

    async def _postgres(self, server: URL, phase: str) -> Database:
        name = f"loopkeeper_bench_{phase}_{secrets.token_hex(4)}"
        await run_on_server(server, f'CREATE DATABASE "{name}"')
        self._dropped.append((server, name))
        url = server.set(database=name)
        label = f"PostgreSQL, throwaway {url.render_as_string(hide_password=True)}"
        return Database(url.render_as_string(hide_password=False), label, "postgresql")

    async def cleanup(self) -> None:
        for server, name in self._dropped:
            try:
                await run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # report, keep cleaning up
                print(f"could not drop database {name}: {error!r}")
        self._dropped.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
