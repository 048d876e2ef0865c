"""A year of feedback at scale, generated deterministically in chunks of cases.

Six systems, the example routing's six categories, 1,000,000 reports in 200,000 cases by
default, spread evenly over 52 weeks up to NOW. Reports per case follow a heavy tail (most cases
have one to three, a few hundreds). Cases are acknowledged after a log-normal delay, most are
closed within days, 2 % are reopened, 10 % breach an SLA; every closed case has one outcome DM
per report in the outbox (95 % delivered) and a reporters-told receipt per delivered one.
Timeline entries carry real hash chains.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.loading import parse_routing
from bot.core.routing_rules import Routing
from digests.week import IsoWeek
from storage.audit import GENESIS_HASH, entry_hash

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
TIMEZONE = "Europe/London"
WEEK = IsoWeek.last_full_week(NOW, TIMEZONE)  # 2026-W07
SPAN = timedelta(weeks=52)
SEED = 424242
REPORTERS = 50_000

PEOPLE = [f"owner{i}" for i in range(12)]
SYSTEMS = [f"assistant-{i}" for i in range(6)]

ROUTING_YAML = (
    "people:\n"
    + "".join(f"  {p}: {{email: {p}@example.com}}\n" for p in PEOPLE)
    + """categories:
  - {id: hallucination, label: "Made-up or wrong facts", severity: high, route_to: validation}
  - {id: unsafe, label: "Unsafe or harmful", severity: critical, route_to: governance}
  - {id: pii_leak, label: "Leaked personal data", severity: critical, route_to: governance}
  - {id: bad_format, label: "Wrong format or tone", severity: low, route_to: prompt}
  - {id: edge_case, label: "Edge case it can't handle", severity: medium, route_to: validation}
  - {id: other, label: "Something else", severity: medium, route_to: validation}
systems:
"""
    + "".join(
        f"  - id: {s}\n    name: Assistant {i}\n"
        f"    owners: {{validation: owner{2 * i}, governance: owner{2 * i + 1}, "
        f"prompt: owner{2 * i}, conductor: owner{(2 * i + 2) % 12}}}\n"
        f"    triage: {{slack_channel: C0TRIAGE{i}}}\n"
        for i, s in enumerate(SYSTEMS)
    )
    + f"""digests:
  - name: weekly
    schedule: {{day: mon, time: "09:00", timezone: {TIMEZONE}}}
    slack_channel: C0CONDUCT
    systems: all
"""
)

CATEGORY_WEIGHTS = {
    "hallucination": 40,
    "unsafe": 4,
    "pii_leak": 3,
    "bad_format": 25,
    "edge_case": 18,
    "other": 10,
}

CASE_COLUMNS = (
    "id", "output_key", "system_id", "category_id", "severity", "status", "owner",
    "owner_role", "output_platform", "output_channel_id", "output_ts", "output_excerpt",
    "report_count", "acknowledge_due_at", "resolve_due_at", "created_at", "updated_at",
    "closed_at", "acknowledged_at", "reopened_at",
)  # fmt: skip
CARD_COLUMNS = ("case_id", "platform", "conversation_id", "message_id", "posted_at")
REPORT_COLUMNS = (
    "id", "case_id", "reporter_id", "channel", "category_id", "severity", "comment",
    "created_at", "updated_at",
)  # fmt: skip
TIMELINE_COLUMNS = ("id", "case_id", "at", "actor", "kind", "detail", "prev_hash", "hash")
OUTBOX_COLUMNS = (
    "id", "dedupe_key", "platform", "method", "payload", "attempts", "next_attempt_at",
    "delivered_at", "created_at",
)  # fmt: skip
TOLD_COLUMNS = ("id", "case_id", "report_id", "closed_at", "owed", "platform", "told_at")
JSON_COLUMNS = {"detail", "payload"}


def bench_routing() -> Routing:
    return parse_routing(ROUTING_YAML, "<bench routing>")


@dataclass
class Chunk:
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    cards: list[tuple[Any, ...]] = field(default_factory=list)
    reports: list[tuple[Any, ...]] = field(default_factory=list)
    timeline: list[tuple[Any, ...]] = field(default_factory=list)
    outbox: list[tuple[Any, ...]] = field(default_factory=list)
    told: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class Spec:
    reports: int
    cases: int
    seed: int = SEED

    def __post_init__(self) -> None:
        if not 0 < self.cases <= self.reports:
            raise ValueError("need at least one case and at least one report per case")


def report_counts(spec: Spec) -> list[int]:
    """Reports per case, exactly `spec.reports` in all: one each, the rest heavy-tailed."""
    rng = random.Random(spec.seed)
    counts = [1] * spec.cases
    weights = [rng.paretovariate(1.6) for _ in range(spec.cases)]
    extra = rng.choices(range(spec.cases), weights=weights, k=spec.reports - spec.cases)
    for index in extra:
        counts[index] += 1
    # A reporter reports a case once: keep every case within the number of reporters.
    overflow = 0
    for index, count in enumerate(counts):
        if count > REPORTERS:
            overflow += count - REPORTERS
            counts[index] = REPORTERS
    index = 0
    while overflow:
        if counts[index] < REPORTERS:
            counts[index] += 1
            overflow -= 1
        index = (index + 1) % spec.cases
    return counts


def generate(spec: Spec, chunk_cases: int = 5000) -> Iterator[Chunk]:
    """Rows for every table, `chunk_cases` cases at a time (bounded memory)."""
    routing = bench_routing()
    counts = report_counts(spec)
    rng = random.Random(spec.seed + 1)
    start = NOW - SPAN
    step = SPAN / spec.cases
    categories = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    ids = {"report": 0, "timeline": 0, "outbox": 0, "told": 0}
    chunk = Chunk()
    for index in range(spec.cases):
        case_id = index + 1
        created = start + step * (index + rng.random())
        system = routing.systems[rng.randrange(len(routing.systems))]
        category = routing.category(rng.choices(categories, weights)[0])
        assert category is not None
        sla = routing.sla[category.severity]
        owner = routing.owner_of(system, category.route_to)
        events: list[tuple[datetime, str, str, dict[str, Any]]] = [
            (created, "bench:user-0", "opened", {"system": system.id, "basis": "bench"})
        ]
        first_reporter = rng.randrange(REPORTERS)
        report_ids = []
        for position in range(counts[index]):
            at = created if position == 0 else created + timedelta(hours=rng.expovariate(1 / 8))
            at = min(at, NOW - timedelta(seconds=1))
            reporter = f"bench:user-{(first_reporter + position) % REPORTERS}"
            ids["report"] += 1
            report_ids.append(ids["report"])
            chunk.reports.append(
                (ids["report"], case_id, reporter, "slack_reaction", category.id,
                 category.severity.value, None, at, at)
            )  # fmt: skip
            events.append(
                (at, reporter, "reported",
                 {"category": category.id, "severity": category.severity.value})
            )  # fmt: skip
        acknowledged = created + sla.acknowledge * rng.lognormvariate(-1.0, 1.0)
        closed = acknowledged + timedelta(days=rng.lognormvariate(0.5, 1.0))
        status, closed_at, acknowledged_at, reopened_at = "new", None, None, None
        if rng.random() < 0.1:
            events.append(
                (created + sla.acknowledge, "loopkeeper", "sla_breached", {"sla": "acknowledged"})
            )
        if acknowledged < NOW:
            status, acknowledged_at = "acknowledged", acknowledged
            events.append((acknowledged, owner or "?", "acknowledge", {"to": "acknowledged"}))
            if closed < NOW and rng.random() < 0.97:
                roll = rng.random()
                status = "resolved" if roll < 0.85 else "wont_fix" if roll < 0.95 else "duplicate"
                closed_at = closed
                events.append((closed, owner or "?", status, {"to": status}))
                delivered = rng.random() < 0.95
                for report_id in report_ids:
                    ids["outbox"] += 1
                    chunk.outbox.append(
                        (ids["outbox"], f"slack:outcome:{case_id}:{report_id}:bench", "slack",
                         "loopkeeper.reporter", {"case_id": case_id}, 1, closed,
                         closed + timedelta(seconds=20) if delivered else None, closed)
                    )  # fmt: skip
                    if delivered:
                        ids["told"] += 1
                        chunk.told.append(
                            (ids["told"], case_id, report_id, closed, len(report_ids), "slack",
                             closed + timedelta(seconds=20))
                        )  # fmt: skip
                reopen = closed + timedelta(days=rng.uniform(1, 10))
                if rng.random() < 0.02 and reopen < NOW:
                    status, closed_at, acknowledged_at, reopened_at = "new", None, None, reopen
                    events.append((reopen, "bench:user-1", "reopened", {"previous_status": "x"}))
        opened = reopened_at or created
        chunk.cases.append(
            (case_id, f"bench:{case_id}", system.id, category.id, category.severity.value,
             status, owner, category.route_to.value, "slack", "C0AI", f"{created.timestamp():.6f}",
             "An answer that someone flagged.", counts[index], opened + sla.acknowledge,
             opened + sla.resolve, created, max(e[0] for e in events), closed_at,
             acknowledged_at, reopened_at)
        )  # fmt: skip
        chunk.cards.append(
            (case_id, "slack", system.triage.slack_channel, f"{created.timestamp() + 1:.6f}",
             created)
        )  # fmt: skip
        events.sort(key=lambda e: e[0])
        prev = GENESIS_HASH
        for at, actor, kind, detail in events:
            ids["timeline"] += 1
            own = entry_hash(prev, case_id, at, actor, kind, detail)
            chunk.timeline.append((ids["timeline"], case_id, at, actor, kind, detail, prev, own))
            prev = own
        if len(chunk.cases) >= chunk_cases:
            yield chunk
            chunk = Chunk()
    if chunk.cases:
        yield chunk


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
