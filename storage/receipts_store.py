"""Receipts the digest reads: reporters told how their case ended, and outputs served per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.reporters_told import ReporterTold
from bot.core.volume import OutputVolume
from storage.sessions import Sessions
from storage.transaction import unit_of_work
from storage.volume import record_volume, volume_row


class SqlReceipts:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def reporters_told(self, told: Sequence[ReporterTold], at: datetime) -> None:
        """Record reporters told how their case ended (bot/core/reporters_told.py)."""
        async with unit_of_work(self._db) as tx:
            await tx.reporters_told(told, at)

    async def record_volume(self, volume: OutputVolume) -> None:
        """Store an AI app's output count for a day (storage/volume.py)."""
        async with self._db.write_session() as connection:
            await self._db.direct.execute(
                connection,
                record_volume(self._db.dialect),
                volume_row(volume, self._db.clock.now()),
            )
