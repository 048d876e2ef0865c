"""Digest runs: one per (digest, ISO week), created when due, claimed under a lease."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.core.models import DigestRun
from storage.sessions import Sessions
from storage.statements import DIGEST_RUNS, insert
from storage.tables import DigestRunRow


class SqlDigestRuns:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def ensure_digest_run(self, digest: str, week: str, due_at: datetime) -> None:
        """Create the (digest, week) run if absent: replicas racing create one row."""
        statement = (
            insert(self._db.dialect, DIGEST_RUNS)
            .values(digest=digest, week=week, due_at=due_at, late=False)
            .on_conflict_do_nothing(index_elements=[DigestRunRow.digest, DigestRunRow.week])
        )
        await self._db.write(statement)

    async def claim_digest_runs(self, now: datetime, lease: timedelta) -> list[DigestRun]:
        """Claim unposted digest runs whose lease is free."""
        sql = self._db.sql
        rows = await self._db.lease(sql.digest_runs_claim, now, now + lease, 1000)
        return [DigestRun.model_validate(row, from_attributes=True) for row in rows]

    async def digest_runs(self) -> list[DigestRun]:
        rows = await self._db.read(select(DIGEST_RUNS).order_by(DigestRunRow.id))
        return [DigestRun.model_validate(row, from_attributes=True) for row in rows]
