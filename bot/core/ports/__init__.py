"""The ports the core needs, as Protocols grouped by who uses them. Adapters live outside bot/.

- `cases`: the unit of work and the reads (intake, triage, escalation, fill-in, the edges)
- `cards`: where each case's card was posted, per platform (the Slack and Teams edges)
- `outbox`, `timers`: the delivery and escalation workers' queues
- `directory`: reaching people on each platform, and the cache of looked-up accounts
- `notices`: what a platform says about a case
- `clock`: the time
"""

from __future__ import annotations

from bot.core.ports.cards import CardLocations, CaseCards, CaseCardStore, CaseForCards
from bot.core.ports.cases import (
    CaseReads,
    CaseStore,
    CaseTransaction,
    ChunkWork,
    Done,
    Item,
    ItemWork,
    ReportWithCase,
)
from bot.core.ports.clock import Clock
from bot.core.ports.directory import Directory, DirectoryCache, Reach
from bot.core.ports.notices import Notices
from bot.core.ports.outbox import Outbox, Platforms
from bot.core.ports.surges import SurgeReads, SurgeTransaction
from bot.core.ports.timers import TimerQueue

__all__ = [
    "CardLocations",
    "CaseCardStore",
    "CaseCards",
    "CaseForCards",
    "CaseReads",
    "CaseStore",
    "Done",
    "Item",
    "ItemWork",
    "CaseTransaction",
    "ChunkWork",
    "Clock",
    "Directory",
    "DirectoryCache",
    "Notices",
    "Outbox",
    "Platforms",
    "Reach",
    "ReportWithCase",
    "SurgeReads",
    "SurgeTransaction",
    "TimerQueue",
]
