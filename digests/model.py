"""One weekly digest as data: what every renderer draws from, and what `--format json` prints.

Counting rules (digests/aggregate.py computes them):
- A report counts in the week it was first filed (`reports.created_at`); re-flagging the same
  output updates a report but does not count it again.
- Breakdowns by system, category and severity use the report's *case*: every report counts under
  its case's system, category and severity (a case's severity is its reports' highest), so the
  reports and cases of one row belong together and rows add up to the totals.
- "Cases" in a week are the cases that received reports that week; "new" were opened that week,
  "reopened" were reopened that week (flagged again after closing).
- Time to acknowledge runs from when the case was opened (or last reopened) to its
  acknowledgement, for cases acknowledged during the week; time to resolve runs to its closing
  (resolved, won't fix or duplicate: what the resolve SLA counts), for cases closed during the week.
- Reporters are counted (distinct reporter ids), never named.
- Loop closure: of the cases closed during the week, those whose every reporter was told how
  that closing ended, counted from the receipts recorded when each notice was delivered.
- Versions: reports count under the prompt version and model the flagged output came from
  (digests/versions.py says how rates and regressions are worked out).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field

from bot.core.models import CaseStatus, Severity

SEVERITY_WEIGHT: dict[Severity, int] = {
    Severity.critical: 8,
    Severity.high: 4,
    Severity.medium: 2,
    Severity.low: 1,
}
"""How much one report weighs when ranking cases and priorities."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Change(_Model):
    """A count this week beside last week's."""

    current: int
    previous: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delta(self) -> int:
        return self.current - self.previous

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ratio(self) -> float | None:
        """current / previous; None when there was nothing last week."""
        return None if self.previous == 0 else self.current / self.previous


class Week(_Model):
    iso: str = Field(description='ISO year-week, e.g. "2026-W07"')
    timezone: str = Field(description="IANA zone the week is counted in")
    start_local: datetime = Field(description="Monday 00:00 in `timezone`")
    end_local: datetime = Field(description="next Monday 00:00 in `timezone` (exclusive)")
    start_utc: datetime
    end_utc: datetime
    hours: int = Field(description="168, or 167/169 across a daylight-saving change")
    label: str = Field(description='the days for people, e.g. "9–15 Feb 2026"')


class SystemRef(_Model):
    id: str
    name: str


class Totals(_Model):
    reports: Change
    cases: Change = Field(description="cases that received reports")
    reporters: Change = Field(description="distinct people who reported")
    new_cases: int
    reopened_cases: int
    acknowledged_cases: int
    closed_cases: int
    sla_breaches: int
    activity: int = Field(description="timeline entries written during the week")


class Breakdown(_Model):
    """One row of a breakdown by system, category or severity."""

    key: str
    label: str
    reports: Change
    cases: Change


class WeekPoint(_Model):
    """One week of the series, oldest first; the last point is the digest's week."""

    week: str
    start_utc: datetime
    reports: int
    cases: int
    reports_by_system: dict[str, int]


class TopCase(_Model):
    rank: int
    case_id: int
    system_id: str
    system_name: str
    category_id: str
    category_label: str
    severity: Severity
    status: CaseStatus
    reports: int = Field(description="reports filed on the case during the week")
    total_reports: int = Field(description="reports on the case in all")
    score: int = Field(description="reports during the week × severity weight")
    opened_at: datetime
    owner: str | None
    owner_name: str | None
    slack_card_channel: str | None
    slack_card_ts: str | None
    output_permalink: str | None


class Mover(_Model):
    """A category whose report count moved against last week."""

    category_id: str
    label: str
    current: int
    previous: int
    delta: int
    ratio: float | None = Field(description="current / previous; None if previous was 0")


class Response(_Model):
    """How fast owners answered, for one system or one owner."""

    key: str = Field(description="system id or person id ('' for cases routed to nobody)")
    name: str
    acknowledged: int
    acknowledge_median_seconds: float | None
    acknowledge_p90_seconds: float | None
    resolved: int = Field(description="cases closed during the week")
    resolve_median_seconds: float | None
    resolve_p90_seconds: float | None
    sla_breaches: int


class BacklogRow(_Model):
    key: str = Field(description="system id, or '' for the total")
    name: str
    under_1d: int
    from_1d_to_7d: int = Field(description="at least 1 day, at most 7 days old")
    over_7d: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return self.under_1d + self.from_1d_to_7d + self.over_7d


class Backlog(_Model):
    """Open cases at the end of the week (or now, for the week in progress) by age."""

    as_of: datetime
    total: BacklogRow
    by_system: list[BacklogRow]


class LoopClosure(_Model):
    """Of the cases closed this week, how many had every reporter told how it ended."""

    closed_cases: int
    all_told: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ratio(self) -> float | None:
        return None if self.closed_cases == 0 else self.all_told / self.closed_cases


class Owner(_Model):
    """Who answers for a priority: the person the routing file names for its role."""

    person: str | None = Field(description="person id; None when the routing names nobody")
    name: str
    role: str = Field(description="the role the category routes to, e.g. 'validation'")


class Priority(_Model):
    rank: int
    system_id: str
    system_name: str
    category_id: str
    category_label: str
    severity: Severity
    reports: int
    previous_reports: int
    cases: int
    open_cases: int
    sla_breaches: int
    score: float
    reason: str = Field(description='one line, e.g. "14 reports, critical, up 3× on last week"')
    owner: Owner | None = None
    oldest_breach_at: datetime | None = Field(
        default=None, description="the earliest SLA deadline one of its open cases has missed"
    )
    theme: str | None = Field(default=None, description="label of the theme behind it, if any")
    next_step: str = Field(
        default="",
        description='one action, e.g. "ask Alice (validation) for a fix date: 9 open, oldest '
        'breached 3 d"',
    )


class Theme(_Model):
    """One recurring theme of the week (the digest JSON's `themes`): digests/themes finds them,
    the digest carries and renders them."""

    label: str = Field(description="its most distinctive terms, for people")
    terms: list[str] = Field(description="the distinctive terms, most distinctive first")
    reports: int = Field(description="reports in the theme this week")
    cases: int = Field(description="distinct cases: a case counts once per theme")
    systems: list[str] = Field(description="system ids it spans, most reports first")
    categories: list[str] = Field(description="category ids it spans, most reports first")
    change: Change = Field(description="reports this week beside last week's in the same theme")
    case_numbers: list[int] = Field(description="its three most-reported cases this week")


class VersionRow(_Model):
    """Reports on one system × prompt version × model (the digest JSON's `versions`)."""

    system_id: str
    prompt_version: str | None
    model: str | None
    reports: int = Field(description="reports this week")
    previous: int = Field(description="reports last week")
    rate: float = Field(description="reports per day it was live in the 8-week window")
    rate_per_1k: float | None = Field(
        description="reports per 1,000 outputs served, where the AI app reported its volume"
    )
    regression: str | None = Field(
        description="set when it is flagged clearly more than its predecessor, e.g. "
        '"support-assistant prompt v8: 3.1× the flags per day of v7, since Tue"'
    )
    predecessor: str | None = Field(
        default=None, description="the version first seen before it on the same system"
    )
    first_seen: datetime | None = Field(default=None, description="its first report in the window")
    series: list[int] = Field(default_factory=list, description="reports per week, oldest first")


class SurgeEntry(_Model):
    """A surge that began in the week: many new cases on one system at once, one card."""

    system_id: str
    first_seen: datetime
    ended: datetime | None = Field(description="None while it lasts")
    cases: int
    open: int = Field(description="of its cases, those not closed")


class WeeklyDigest(_Model):
    digest: str = Field(description="name of the `digests:` entry")
    generated_at: datetime
    demo: bool = Field(default=False, description="the week's cases include demo data")
    so_far: bool = Field(
        default=False, description="the week is still in progress: its numbers are so far"
    )
    week: Week
    systems: list[SystemRef] = Field(description="systems covered")
    quiet: bool = Field(description="no reports and no case activity during the week")
    headline: str = Field(description="one line that sums the week up")
    totals: Totals
    by_system: list[Breakdown]
    by_category: list[Breakdown]
    by_severity: list[Breakdown]
    series: list[WeekPoint] = Field(description="the last 8 weeks, oldest first")
    top_cases: list[TopCase]
    movers: list[Mover] = Field(description="categories that moved most, biggest change first")
    response_by_system: list[Response]
    response_by_owner: list[Response]
    backlog: Backlog
    loop_closure: LoopClosure
    priorities: list[Priority] = Field(description="what to fix first, at most 5")
    themes: list[Theme] = Field(default_factory=list, description="recurring themes")
    versions: list[VersionRow] = Field(
        default_factory=list, description="reports per prompt version and model"
    )
    surges: list[SurgeEntry] = Field(
        default_factory=list, description="surges that began in the week, one entry each"
    )

    def system_name(self, system_id: str) -> str:
        return next((s.name for s in self.systems if s.id == system_id), system_id)
