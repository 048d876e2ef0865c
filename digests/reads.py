"""The digest's read model: what it asks the database, and the typed answers it gets back.

`storage/` implements `DigestReads` (storage/digest_reads.py); nothing under `digests/` knows
SQL. Every answer is grouped rows (per week bucket × system × category × severity, per case for
the top cases, …), so its size follows the number of groups, never the number of reports.
Buckets number the weeks of the series 0 … 7, oldest first (`digests.window`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from bot.core.models import CaseStatus, Severity
from digests.window import Window


@dataclass(frozen=True)
class SeriesCount:
    """Reports filed in one week of the series on cases of one system × category × severity."""

    bucket: int
    system_id: str
    category_id: str
    severity: Severity
    reports: int
    cases: int


@dataclass(frozen=True)
class TopCaseCount:
    """One of the week's cases with the most reports × severity weight."""

    case_id: int
    system_id: str
    category_id: str
    severity: Severity
    status: CaseStatus
    report_count: int
    opened_at: datetime
    owner: str | None
    slack_card_channel: str | None
    slack_card_ts: str | None
    output_permalink: str | None
    reports: int
    score: int


@dataclass(frozen=True)
class CaseFlow:
    """Per system × category: cases opened, acknowledged and closed in the week, and those open
    at `Window.as_of` by age; `oldest_breach` is the earliest SLA deadline an open case has
    missed (None when none has)."""

    system_id: str
    category_id: str
    new: int
    acknowledged: int
    closed: int
    under_1d: int
    from_1d_to_7d: int
    over_7d: int
    oldest_breach: datetime | None = None

    @property
    def open(self) -> int:
        return self.under_1d + self.from_1d_to_7d + self.over_7d


@dataclass(frozen=True)
class TimelineCount:
    """Timeline entries written in the week, per kind × system × category × owner."""

    kind: str
    system_id: str
    category_id: str
    owner: str | None
    entries: int
    cases: int


@dataclass(frozen=True)
class Durations:
    """Seconds from opening to acknowledgement and to closing, for cases acknowledged or
    closed in the week: how many, median and 90th percentile."""

    acknowledged: int = 0
    ack_median: float | None = None
    ack_p90: float | None = None
    resolved: int = 0
    close_median: float | None = None
    close_p90: float | None = None


@dataclass(frozen=True)
class ResponseTimes:
    by_system: Mapping[str, Durations] = field(default_factory=dict)
    by_owner: Mapping[str, Durations] = field(default_factory=dict)
    """Keyed by person id; '' for cases routed to nobody."""


@dataclass(frozen=True)
class ClosureCount:
    """Cases of one system closed in the week whose every reporter was told how it ended."""

    system_id: str
    all_told: int


@dataclass(frozen=True)
class VersionCount:
    """Reports in one week of the series on one system × prompt version × model."""

    bucket: int
    system_id: str
    prompt_version: str | None
    model: str | None
    reports: int
    first_at: datetime
    """The first report of that week on it."""


@dataclass(frozen=True)
class VolumeCount:
    """How many outputs the AI app says one system × prompt version × model served on a day."""

    system_id: str
    prompt_version: str | None
    model: str | None
    day: date
    count: int


@dataclass(frozen=True)
class SurgeCount:
    """A surge that began in the week: many new cases on one system folded into one card."""

    system_id: str
    first_seen_at: datetime
    ended_at: datetime | None
    cases: int
    open: int
    """Of its cases, those not closed at the time of reading."""


TOP_CASE_CANDIDATES = 20
"""How many of the week's highest-scoring cases `top_cases` holds: the digest shows five,
open ones first, so it needs more than five to choose from."""

DEMO_KEY_PREFIX = "demo:"
"""Demo cases' output keys start with this (digests/demo.py): a digest over them says so."""

VersionKey = tuple[str, str | None, str | None]
"""(system id, prompt version, model)."""


@dataclass(frozen=True)
class WeekRows:
    """Everything one digest reads, from one consistent snapshot."""

    series: Sequence[SeriesCount]
    reporters: Mapping[int, int]
    """Distinct reporters per bucket, for the digest's week and the one before."""
    top_cases: Sequence[TopCaseCount]
    cases: Sequence[CaseFlow]
    timeline: Sequence[TimelineCount]
    response: ResponseTimes
    loop_closure: Sequence[ClosureCount]
    versions: Sequence[VersionCount] = ()
    versions_seen_before: frozenset[VersionKey] = frozenset()
    """Versions with reports in the eight weeks before the series: not new in it."""
    volume: Sequence[VolumeCount] = ()
    surges: Sequence[SurgeCount] = ()
    demo: bool = False
    """Some of the window's cases are demo cases."""


class DigestReads(Protocol):
    async def week(self, window: Window, system_ids: Sequence[str] | None) -> WeekRows:
        """The grouped rows of `window`, for `system_ids` (None: every system)."""
        ...


class DemoData(Protocol):
    """Finds and removes demo cases (their output keys start with `prefix`)."""

    async def count_cases(self, prefix: str) -> int: ...

    async def delete_cases(self, prefix: str) -> int:
        """Remove those cases with everything recorded about them; how many went."""
        ...
