"""Statements for a database server itself: creating and dropping throwaway databases."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


async def run_on_server(server: str | URL, sql: str) -> None:
    """Run one statement outside a transaction, connected to the URL's database (`postgres`
    when it names none)."""
    url = make_url(server)
    target = url if url.database else url.set(database="postgres")
    engine = create_async_engine(target, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()
