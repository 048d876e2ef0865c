"""The weekly digest, number by number, on a small fixed data set (SQLite and PostgreSQL).

Three systems, eleven cases and 23 reports over three weeks (2026-W05 … W07, Europe/London,
which is UTC in winter). Every expected number below was worked out by hand from the histories.

    case system category   sev      reports (week)          triage
    1    S      hallucin.  high     W05 ×2, W07 ×1 (reopen)  ack W05, resolved W06, reopened
                                                             W07 11 Feb 10:00, ack 10:30
    2    C      bad_format low      W05 ×1                   untouched, open
    3    S      hallucin.  high     W06 ×2                   ack W06, resolved 9 Feb 09:00 (told)
    4    H      pii_leak   critical W06 ×1                   breach, ack, won't fix (W06)
    5    C      edge_case  medium   W06 ×1, W07 ×1           breach W06, ack 10 Feb, breach W07
    6    S      unsafe     critical W07 ×5                   breach, ack 1h30m, resolved (told)
    7    C      hallucin.  high     W07 ×3                   ack 1h, resolved 2d (one DM unsent)
    8    C      hallucin.  high     W07 ×2                   ack 3h, open
    9    H      bad_format low      W07 ×1                   won't fix after 18h (no DM)
    10   H      pii_leak   critical W07 ×2                   breach, open
    11   S      edge_case  medium   W07 ×1                   open
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.loading import parse_routing
from bot.core.models import CaseStatus, Role, Severity
from bot.core.routing_rules import Routing
from digests.aggregate import WeekNotStarted, build_digest
from digests.history import (
    CaseHistory,
    Event,
    ReplayClock,
    acknowledged,
    closed,
    reopened,
    reported,
    sla_breached,
    write_history,
)
from digests.model import WeeklyDigest
from digests.percentile import percentile
from digests.week import IsoWeek
from storage.database import create_engine
from storage.digest_reads import SqlDigestReads
from storage.repository import SqlCaseStore

ROUTING_YAML = """
people:
  alice: {name: Alice, email: alice@example.com, slack: U0ALICE}
  bob:   {name: Bob, email: bob@example.com}
  carol: {name: Carol, email: carol@example.com}
  dave:  {name: Dave, email: dave@example.com}
  erin:  {name: Erin, email: erin@example.com}
categories:
  - {id: hallucination, label: "Made-up or wrong facts", severity: high, route_to: validation}
  - {id: unsafe, label: "Unsafe or harmful", severity: critical, route_to: governance}
  - {id: pii_leak, label: "Leaked personal data", severity: critical, route_to: governance}
  - {id: bad_format, label: "Wrong format or tone", severity: low, route_to: prompt}
  - {id: edge_case, label: "Edge case it can't handle", severity: medium, route_to: validation}
systems:
  - id: support-assistant
    name: Support Assistant
    owners: {validation: alice, governance: bob, prompt: alice, conductor: carol}
    triage: {slack_channel: C0TRIAGE}
  - id: code-helper
    name: Code Helper
    owners: {validation: dave, governance: bob, prompt: dave, conductor: carol}
    triage: {slack_channel: C0CODE}
  - id: hr-bot
    name: HR Bot
    owners: {validation: erin, governance: bob, prompt: erin, conductor: carol}
    triage: {slack_channel: C0HR}
digests:
  - name: weekly
    schedule: {day: mon, time: "09:00", timezone: Europe/London}
    slack_channel: C0CONDUCT
    systems: all
"""

S, C, H = "support-assistant", "code-helper", "hr-bot"
W07 = IsoWeek(2026, 7)  # Mon 9 Feb – Sun 15 Feb 2026
NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)  # Monday after, when the digest is posted


def at(day: int, hour: int, minute: int = 0, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def case(
    number: int,
    system: str,
    category: str,
    severity: Severity,
    owner: str,
    role: Role,
    *events: Event,
) -> CaseHistory:
    return CaseHistory(
        output_key=f"fixture:{number}",
        system_id=system,
        category_id=category,
        severity=severity,
        owner=owner,
        owner_role=role,
        events=events,
        slack_card=("C0TRIAGE", f"1770000000.{number:06d}"),
    )


HIGH, CRIT, MED, LOW = Severity.high, Severity.critical, Severity.medium, Severity.low
VAL, GOV, PROMPT = Role.validation, Role.governance, Role.prompt

FIXTURE = [
    case(1, S, "hallucination", HIGH, "alice", VAL,
         reported(at(27, 10, month=1), "u1"), reported(at(27, 12, month=1), "u2"),
         acknowledged(at(27, 11, month=1)), closed(at(3, 10)),
         reopened(at(11, 10), "u6"), acknowledged(at(11, 10, 30))),
    case(2, C, "bad_format", LOW, "dave", PROMPT, reported(at(28, 9, month=1), "u3")),
    case(3, S, "hallucination", HIGH, "alice", VAL,
         reported(at(2, 9), "u1"), reported(at(2, 15), "u4"),
         acknowledged(at(2, 10)), closed(at(9, 9))),
    case(4, H, "pii_leak", CRIT, "bob", GOV,
         reported(at(4, 14), "u5"), sla_breached(at(4, 15)), acknowledged(at(4, 16)),
         closed(at(5, 10), CaseStatus.wont_fix, delivered=[False])),
    case(5, C, "edge_case", MED, "dave", VAL,
         reported(at(6, 11), "u2"), sla_breached(at(7, 11)), reported(at(10, 10), "u9"),
         acknowledged(at(10, 11)), sla_breached(at(13, 11), "resolved")),
    case(6, S, "unsafe", CRIT, "bob", GOV,
         reported(at(10, 8), "u1"), reported(at(10, 8, 30), "u2"), reported(at(10, 9), "u3"),
         sla_breached(at(10, 9)), reported(at(10, 9, 30), "u4"),
         acknowledged(at(10, 9, 30)), reported(at(10, 10), "u7"), closed(at(10, 20))),
    case(7, C, "hallucination", HIGH, "dave", VAL,
         reported(at(11, 13), "u5"), acknowledged(at(11, 14)), reported(at(11, 14), "u8"),
         reported(at(11, 15), "u9"), closed(at(13, 13), delivered=[True, False, True])),
    case(8, C, "hallucination", HIGH, "dave", VAL,
         reported(at(12, 9), "u1"), reported(at(12, 10), "u2"), acknowledged(at(12, 12))),
    case(9, H, "bad_format", LOW, "erin", PROMPT,
         reported(at(13, 16), "u3"), closed(at(14, 10), CaseStatus.wont_fix, delivered=[])),
    case(10, H, "pii_leak", CRIT, "bob", GOV,
         reported(at(15, 20), "u4"), reported(at(15, 21), "u10"), sla_breached(at(15, 21))),
    case(11, S, "edge_case", MED, "alice", VAL, reported(at(14, 12), "u11")),
]  # fmt: skip


def routing() -> Routing:
    return parse_routing(ROUTING_YAML, "test routing")


async def seed(database_url: str, histories: list[CaseHistory]) -> None:
    clock = ReplayClock()
    store = SqlCaseStore(create_engine(database_url), clock=clock)
    try:
        for history in histories:
            await write_history(store, clock, history)
    finally:
        await store.close()


async def digest_of(database_url: str, week: IsoWeek = W07, now: datetime = NOW) -> WeeklyDigest:
    rules = routing()
    engine = create_engine(database_url)
    try:
        return await build_digest(SqlDigestReads(engine), rules, rules.digests[0], week, now)
    finally:
        await engine.dispose()


@pytest.fixture
async def fixture_digest(database_url: str) -> WeeklyDigest:
    await seed(database_url, FIXTURE)
    return await digest_of(database_url)


def changes(rows: list) -> dict[str, tuple[int, int, int, int]]:  # type: ignore[type-arg]
    """key → (reports now, reports before, cases now, cases before)."""
    return {
        r.key: (r.reports.current, r.reports.previous, r.cases.current, r.cases.previous)
        for r in rows
    }


async def test_week_and_totals(fixture_digest: WeeklyDigest) -> None:
    d = fixture_digest
    assert d.week.iso == "2026-W07"
    assert d.week.start_utc == at(9, 0) and d.week.end_utc == at(16, 0)
    assert d.week.start_local.isoformat() == "2026-02-09T00:00:00+00:00"
    assert d.week.hours == 168
    assert d.week.label == "9–15 Feb 2026"
    assert [s.id for s in d.systems] == [S, C, H]
    assert not d.quiet
    t = d.totals
    assert (t.reports.current, t.reports.previous, t.reports.delta) == (16, 4, 12)
    assert t.reports.ratio == 4.0
    assert (t.cases.current, t.cases.previous) == (8, 3)
    assert (t.reporters.current, t.reporters.previous) == (11, 4)
    assert (t.new_cases, t.reopened_cases) == (6, 1)
    assert (t.acknowledged_cases, t.closed_cases) == (5, 4)
    assert t.sla_breaches == 3
    # opened 6 + reported 16 + reopened 1 + acknowledge 5 + resolve 3 + wont_fix 1 + breach 3
    assert t.activity == 35
    # Each comparison stands beside its own number (issue #13: "(up from 4 last week)" after
    # the people read as if the number of people had gone down).
    assert d.headline == (
        "16 reports (up from 4 last week) on 8 cases (up from 3) from 11 people (up from 4); "
        "6 new, 1 reopened, 4 closed."
    )
    assert not d.demo and not d.so_far


async def test_breakdowns(fixture_digest: WeeklyDigest) -> None:
    d = fixture_digest
    assert changes(d.by_system) == {S: (7, 2, 3, 1), C: (6, 1, 3, 1), H: (3, 1, 2, 1)}
    assert [r.key for r in d.by_system] == [S, C, H]
    assert changes(d.by_category) == {
        "hallucination": (6, 2, 3, 1),
        "unsafe": (5, 0, 1, 0),
        "pii_leak": (2, 1, 1, 1),
        "edge_case": (2, 1, 2, 1),
        "bad_format": (1, 0, 1, 0),
    }
    assert [r.key for r in d.by_category] == [
        "hallucination", "unsafe", "pii_leak", "edge_case", "bad_format"
    ]  # fmt: skip
    assert changes(d.by_severity) == {
        "critical": (7, 1, 2, 1),
        "high": (6, 2, 3, 1),
        "medium": (2, 1, 2, 1),
        "low": (1, 0, 1, 0),
    }
    assert [r.key for r in d.by_severity] == ["critical", "high", "medium", "low"]


async def test_eight_week_series(fixture_digest: WeeklyDigest) -> None:
    series = fixture_digest.series
    assert [p.week for p in series] == [
        "2025-W52", "2026-W01", "2026-W02", "2026-W03",
        "2026-W04", "2026-W05", "2026-W06", "2026-W07",
    ]  # fmt: skip
    assert [p.reports for p in series] == [0, 0, 0, 0, 0, 3, 4, 16]
    assert [p.cases for p in series] == [0, 0, 0, 0, 0, 2, 3, 8]
    assert series[5].reports_by_system == {S: 2, C: 1, H: 0}
    assert series[7].reports_by_system == {S: 7, C: 6, H: 3}
    assert series[0].start_utc == datetime(2025, 12, 22, tzinfo=UTC)


async def test_top_cases_by_reports_times_severity(fixture_digest: WeeklyDigest) -> None:
    top = fixture_digest.top_cases
    # scores: #6 5×8=40, #10 2×8=16, #7 3×4=12, #8 2×4=8, #1 1×4=4 (then #5, #11: 2; #9: 1);
    # open cases come first (issue #13: a table of resolved cases gives nothing to act on), so
    # the resolved #6 and #7 give way to the open #5 and #11.
    assert [(c.case_id, c.reports, c.score) for c in top] == [
        (10, 2, 16), (8, 2, 8), (1, 1, 4), (5, 1, 2), (11, 1, 2)
    ]  # fmt: skip
    first = top[0]
    assert (first.rank, first.system_id, first.system_name) == (1, H, "HR Bot")
    assert (first.category_id, first.category_label) == ("pii_leak", "Leaked personal data")
    assert (first.severity, first.status) == (Severity.critical, CaseStatus.new)
    assert (first.total_reports, first.owner, first.owner_name) == (2, "bob", "Bob")
    assert (first.slack_card_channel, first.slack_card_ts) == ("C0TRIAGE", "1770000000.000010")
    reopened_case = top[2]
    assert reopened_case.total_reports == 3
    assert reopened_case.opened_at == at(11, 10)  # its reopening
    assert reopened_case.status == CaseStatus.acknowledged


async def test_movers(fixture_digest: WeeklyDigest) -> None:
    movers = [
        (m.category_id, m.current, m.previous, m.delta, m.ratio) for m in fixture_digest.movers
    ]
    # biggest absolute change first; among the +1s, the one that had nothing before
    assert movers == [
        ("unsafe", 5, 0, 5, None),
        ("hallucination", 6, 2, 4, 3.0),
        ("bad_format", 1, 0, 1, None),
    ]


async def test_owner_response(fixture_digest: WeeklyDigest) -> None:
    d = fixture_digest
    by_system = {
        r.key: (
            r.acknowledged,
            r.acknowledge_median_seconds,
            r.acknowledge_p90_seconds,
            r.resolved,
            r.resolve_median_seconds,
            r.resolve_p90_seconds,
            r.sla_breaches,
        )
        for r in d.response_by_system
    }
    # S: ack #1 30m (from its reopening), #6 1h30m; closed #3 7d, #6 12h
    # C: ack #5 4d, #7 1h, #8 3h; closed #7 2d.  H: closed #9 18h
    assert by_system == {
        S: (2, 3600.0, 5040.0, 2, 324000.0, 548640.0, 1),
        C: (3, 10800.0, 278640.0, 1, 172800.0, 172800.0, 1),
        H: (0, None, None, 1, 64800.0, 64800.0, 1),
    }
    by_owner = {
        r.key: (
            r.name,
            r.acknowledged,
            r.acknowledge_median_seconds,
            r.acknowledge_p90_seconds,
            r.resolved,
            r.resolve_median_seconds,
            r.sla_breaches,
        )
        for r in d.response_by_owner
    }
    assert by_owner == {
        "alice": ("Alice", 1, 1800.0, 1800.0, 1, 604800.0, 0),
        "bob": ("Bob", 1, 5400.0, 5400.0, 1, 43200.0, 2),
        "dave": ("Dave", 3, 10800.0, 278640.0, 1, 172800.0, 1),
        "erin": ("Erin", 0, None, None, 1, 64800.0, 0),
    }
    assert [r.key for r in d.response_by_owner] == ["alice", "bob", "dave", "erin"]


async def test_backlog_at_week_end(fixture_digest: WeeklyDigest) -> None:
    backlog = fixture_digest.backlog
    assert backlog.as_of == at(16, 0)
    # open at Mon 16 Feb 00:00: #10 4h; #11 1d12h, #8 3d15h, #1 4d14h; #5 9d13h, #2 19d15h
    total = backlog.total
    assert (total.under_1d, total.from_1d_to_7d, total.over_7d, total.total) == (1, 3, 2, 6)
    assert {b.key: (b.under_1d, b.from_1d_to_7d, b.over_7d) for b in backlog.by_system} == {
        S: (0, 2, 0),
        C: (0, 1, 2),
        H: (1, 0, 0),
    }


async def test_loop_closure(fixture_digest: WeeklyDigest) -> None:
    # closed in W07: #3 and #6 told everyone; #7 has an undelivered DM; #9 sent none
    closure = fixture_digest.loop_closure
    assert (closure.closed_cases, closure.all_told, closure.ratio) == (4, 2, 0.5)


async def test_suggested_priorities(fixture_digest: WeeklyDigest) -> None:
    priorities = fixture_digest.priorities
    assert [(p.rank, p.system_id, p.category_id, p.score) for p in priorities] == [
        (1, S, "unsafe", 168.0),  # 8 × (5 reports × 4 (new, capped) + 1 breach)
        (2, C, "hallucination", 80.0),  # 4 × 5 × 4
        (3, H, "pii_leak", 40.0),  # 8 × (2 × 2 + 1)
        (4, S, "hallucination", 4.0),  # 4 × 1; ties #5 on score, wins on severity
        (5, C, "edge_case", 4.0),  # 2 × (1 + 1)
    ]
    assert [p.reason for p in priorities] == [
        "5 reports, critical, new this week, 1 SLA breach",
        "5 reports, high, new this week, 1 still open",
        "2 reports, critical, up 2× on last week, 1 SLA breach, 1 still open",
        "1 report, high, down from 2 last week, 1 still open",
        "1 report, medium, as many as last week, 1 SLA breach, 1 still open",
    ]
    first = priorities[0]
    assert (first.system_name, first.category_label, first.severity) == (
        "Support Assistant",
        "Unsafe or harmful",
        Severity.critical,
    )
    assert (first.reports, first.previous_reports, first.cases, first.open_cases) == (5, 0, 1, 0)


async def test_previous_week_counts_from_its_own_window(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    d = await digest_of(database_url, W07.previous())
    assert d.week.iso == "2026-W06"
    assert (d.totals.reports.current, d.totals.reports.previous) == (4, 3)
    assert d.totals.sla_breaches == 2  # #4 and #5
    assert [c.case_id for c in d.top_cases] == [5, 3, 4]  # open first


async def test_a_digest_limited_to_some_systems(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    rules = routing()
    digest = rules.digests[0].model_copy(update={"systems": [H]})
    engine = create_engine(database_url)
    try:
        d = await build_digest(SqlDigestReads(engine), rules, digest, W07, NOW)
    finally:
        await engine.dispose()
    assert [s.id for s in d.systems] == [H]
    assert (d.totals.reports.current, d.totals.reports.previous) == (3, 1)
    assert [c.case_id for c in d.top_cases] == [10, 9]
    assert (d.loop_closure.closed_cases, d.loop_closure.all_told) == (1, 0)
    assert d.totals.reporters.current == 3


async def test_week_in_progress_measures_backlog_now(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    d = await digest_of(database_url, W07, now=at(12, 12))
    assert d.so_far
    assert d.headline.startswith(
        "So far this week: 16 reports (4 in all of last week) on 8 cases (3 last week) from "
    )
    assert d.backlog.as_of == at(12, 12)
    # open then: #7 23h, #8 3h; #1 1d2h, #5 6d1h; #2 15d3h (#9–#11 not yet opened)
    total = d.backlog.total
    assert (total.under_1d, total.from_1d_to_7d, total.over_7d) == (2, 2, 1)


async def test_reporters_told_in_teams_count_too(database_url: str) -> None:
    told = case(21, H, "bad_format", LOW, "erin", PROMPT,
                reported(at(10, 9), "teams:u1"), reported(at(10, 10), "teams:u2"),
                closed(at(11, 9)))  # fmt: skip
    untold = case(22, H, "bad_format", LOW, "erin", PROMPT,
                  reported(at(10, 9), "teams:u3"),
                  closed(at(12, 9), delivered=[False]))  # fmt: skip
    teams = [CaseHistory(**{**vars(h), "dm_platform": "teams"}) for h in (told, untold)]
    await seed(database_url, teams)
    closure = (await digest_of(database_url)).loop_closure
    assert (closure.closed_cases, closure.all_told) == (2, 1)


async def test_a_week_that_has_not_started_is_refused(database_url: str) -> None:
    with pytest.raises(WeekNotStarted, match=r"^2026-W08 has not started yet \(it starts Mon 16"):
        await digest_of(database_url, IsoWeek(2026, 8), now=at(15, 23))


def test_percentile_interpolates_like_postgresql() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([3600, 10800, 345600], 0.5) == 10800
    assert percentile([3600, 10800, 345600], 0.9) == pytest.approx(278640)
    assert percentile([1, 2, 3, 4], 0.5) == 2.5


async def test_empty_database_is_a_quiet_week(database_url: str) -> None:
    d = await digest_of(database_url)
    assert d.quiet
    assert d.headline == (
        "Quiet week: no reports on Support Assistant, Code Helper and HR Bot in 2026-W07."
    )
    assert d.top_cases == [] and d.priorities == [] and d.movers == []
    assert d.loop_closure.ratio is None
    assert d.backlog.total.total == 0


def test_fixture_has_the_advertised_size() -> None:
    reports = sum(1 for h in FIXTURE for e in h.events if e.kind in ("reported", "reopened"))
    assert (len(FIXTURE), reports) == (11, 23)
    assert timedelta(0) < NOW - at(15, 21)
