"""Digest charts kept for GET /charts/<token>.png (digests/chart_links.py names them).

Only the SHA-256 of a token is stored. Keeping a chart also drops the expired ones, so the
table holds about one chart per digest per week for as long as they live, with no sweeper.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.digest_tables import ChartImageRow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SqlChartImages:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def keep_chart(self, token: str, png: bytes, now: datetime, expires: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(ChartImageRow).where(ChartImageRow.expires_at <= now))
            await connection.execute(
                insert(ChartImageRow).values(
                    token_hash=token_hash(token), png=png, created_at=now, expires_at=expires
                )
            )

    async def chart(self, token: str, now: datetime) -> bytes | None:
        """The chart's PNG, or None when the token is unknown or has expired."""
        statement = select(ChartImageRow.png).where(
            ChartImageRow.token_hash == token_hash(token), ChartImageRow.expires_at > now
        )
        async with self._engine.connect() as connection:
            png = (await connection.execute(statement)).scalar_one_or_none()
        return png
