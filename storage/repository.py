"""The SQL store behind the core's ports: one facade over the concept stores of storage/.

Each concept has its own module (cases, card locations, outbox, inbox, timers, digest runs,
the directory cache, Teams records, retention), all sharing one `Sessions`: the database's
connection policy. `SqlCaseStore` is their union, for the composition root and the command line; a
consumer that needs one concept can be given that store alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.ports import Clock
from storage.card_locations import SqlCardLocations
from storage.cases import SqlCases
from storage.digest_runs import SqlDigestRuns
from storage.directory_cache import SqlDirectoryCache
from storage.inbox_store import SqlInbox
from storage.outbox_store import SqlOutbox
from storage.receipts_store import SqlReceipts
from storage.retention import SqlRetention
from storage.sessions import Sessions
from storage.surges import SqlSurges
from storage.teams_records import SqlTeamsRecords
from storage.timers_store import SqlTimers
from storage.transaction import SqlCaseTransaction

if TYPE_CHECKING:
    from bot.core.ports import (
        CaseCards,
        CaseStore,
        CaseTransaction,
        DirectoryCache,
        Outbox,
        TimerQueue,
    )

__all__ = ["SqlCaseStore", "SqlCaseTransaction"]


class SqlCaseStore(
    SqlCases,
    SqlCardLocations,
    SqlOutbox,
    SqlInbox,
    SqlTimers,
    SqlDigestRuns,
    SqlDirectoryCache,
    SqlTeamsRecords,
    SqlRetention,
    SqlReceipts,
    SqlSurges,
):
    """Every concept store over one database: SQLite (one process) or PostgreSQL (any
    number). Do not open a transaction (or call an outbox method) while holding one: on
    SQLite that would wait forever for the one writer."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock | None = None) -> None:
        # Every concept store reads `self._db`: they share its connections and write turns.
        self._db = Sessions(engine, clock=clock)
        self.engine = engine

    @property
    def sessions(self) -> Sessions:
        return self._db

    @property
    def reading_engine(self) -> AsyncEngine:
        return self._db.reading_engine

    async def ping(self) -> None:
        """Raise unless the database answers."""
        await self._db.ping()

    async def close(self) -> None:
        await self._db.close()


if TYPE_CHECKING:

    def _implements_ports(
        store: SqlCaseStore, tx: SqlCaseTransaction
    ) -> tuple[CaseStore, CaseCards, Outbox, TimerQueue, DirectoryCache, CaseTransaction]:
        return store, store, store, store, store, tx
