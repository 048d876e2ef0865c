"""What a surge card says, the same on every platform: computed from the surge's cases when
the card is sent, so an update shows every case filed until then."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot.core.models import Case, CaseStatus
from bot.core.routing_rules import Routing
from bot.core.surge_record import SurgeRecord


@dataclass(frozen=True)
class SurgeSummary:
    surge: SurgeRecord
    system_name: str
    cases: int
    first_seen_at: datetime
    ended_at: datetime | None
    categories: list[tuple[str, int]]
    """(category label, cases), most first."""
    version: tuple[str, int] | None
    """The most common "prompt version / model" and its cases; None when none was reported."""
    statuses: list[tuple[str, int]]
    waiting: list[Case]
    """Cases still `new` (unacknowledged), newest first: the ones to triage."""
    list_command: str
    """Where an operator sees them all: the command line."""


def summarise(surge: SurgeRecord, cases: list[Case], routing: Routing) -> SurgeSummary:
    system = routing.system(surge.system_id)
    categories: Counter[str] = Counter()
    for case in cases:
        category = routing.category(case.category_id)
        categories[category.label if category else case.category_id] += 1
    versions = Counter(
        " / ".join(p for p in (c.prompt_version, c.model) if p)
        for c in cases
        if c.prompt_version or c.model
    )
    statuses = Counter(c.status.value for c in cases)
    waiting = sorted(
        (c for c in cases if c.status is CaseStatus.new), key=lambda c: c.id or 0, reverse=True
    )
    return SurgeSummary(
        surge=surge,
        system_name=system.name if system else surge.system_id,
        cases=max(len(cases), surge.case_count),
        first_seen_at=surge.first_seen_at,
        ended_at=surge.ended_at,
        categories=categories.most_common(),
        version=versions.most_common(1)[0] if versions else None,
        statuses=statuses.most_common(),
        waiting=waiting,
        list_command=f"loopkeeper cases --system {surge.system_id} --status new",
    )
