"""Figures from the samples, the targets, and the table."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.ingest.load import LoadResult
from bench.stats import percentile

P99_TARGET_MS = 50.0
THROUGHPUT_RATIO_TARGET = 0.40
SLACK_DEADLINE_S = 3.0
"""Slack retries an event it has no answer to within 3 seconds."""


@dataclass
class Storage:
    """What loopkeeper's database holds after a phase."""

    stored: int
    """Reports the phase added (sum of report_count over cases, less what was there before)."""
    cases: int
    missing: int
    """Events answered 200 whose reporter has no report stored: must be 0."""
    confirmations: int = 0
    pending: int = 0
    drain_seconds: float = 0.0
    inbox_seconds: float = 0.0
    """Time after the last ack until the inbox worker had filed every accepted flag."""


@dataclass
class AppRun:
    name: str
    rate: LoadResult
    max: LoadResult
    rate_storage: Storage | None = None
    max_storage: Storage | None = None

    def latencies_ms(self) -> list[float]:
        """Every fixed-rate request's time to its answer; a failure counts until it failed
        (a request that timed out counts as the timeout: Slack got no ack that long)."""
        return [s.latency * 1000 for s in self.rate.samples]

    def errors(self, result: LoadResult) -> int:
        return sum(1 for s in result.samples if not s.ok)

    def achieved_rate(self) -> float:
        return len(self.rate.ok) / self.rate.elapsed if self.rate.elapsed > 0 else math.nan

    def max_send_lag_ms(self) -> float:
        return max((s.sent - s.due for s in self.rate.samples), default=0.0) * 1000

    def throughput(self) -> float:
        """Events acknowledged per second, flat out. loopkeeper commits each flag to its inbox
        before the ack (the report is durable from then on); the bare app stores nothing."""
        return len(self.max.ok) / self.max.elapsed if self.max.elapsed > 0 else math.nan

    def filing_throughput(self) -> float:
        """Reports filed in their cases per second, until the last one was (loopkeeper only:
        the message read from Slack, routed, stored with its case, timers and messages)."""
        if self.max_storage is None:
            return math.nan
        seconds = self.max.elapsed + self.max_storage.inbox_seconds
        return self.max_storage.stored / seconds if seconds > 0 else math.nan

    def error_kinds(self) -> dict[str, int]:
        kinds: Counter[str] = Counter()
        for result in (self.rate, self.max):
            for s in result.samples:
                if not s.ok:
                    kinds[s.error.split(":")[0] if s.error else f"HTTP {s.status}"] += 1
        return dict(kinds)


@dataclass
class Outcome:
    events: int
    rate: float
    concurrency: int
    database: str
    database_kind: str
    inline: bool
    loopkeeper: AppRun
    bare: AppRun
    extras: list[AppRun] = field(default_factory=list)
    """Diagnostic apps (`--decompose`): shown, not part of the targets."""
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """loopkeeper's acks/s (each flag committed first) over the bare app's events/s."""
        bare = self.bare.throughput()
        return self.loopkeeper.throughput() / bare if bare else math.nan

    @property
    def filing_ratio(self) -> float:
        """loopkeeper's reports filed (not yet delivered) per second over bare events/s."""
        bare = self.bare.throughput()
        return self.loopkeeper.filing_throughput() / bare if bare else math.nan

    def p99_met(self) -> bool:
        lk = self.loopkeeper
        return percentile(lk.latencies_ms(), 99) < P99_TARGET_MS and lk.errors(lk.rate) == 0

    def throughput_met(self) -> bool:
        storage = self.loopkeeper.max_storage
        every_report = (
            storage is not None
            and storage.missing == 0
            and storage.stored == self.events
            and self.loopkeeper.errors(self.loopkeeper.max) == 0
        )
        return every_report and self.ratio >= THROUGHPUT_RATIO_TARGET

    def as_json(self) -> dict[str, Any]:
        def app(run: AppRun) -> dict[str, Any]:
            lat = run.latencies_ms()
            figures: dict[str, Any] = {
                "fixed_rate": {
                    "offered_rate": run.rate.rate,
                    "achieved_rate": run.achieved_rate(),
                    "ok": len(run.rate.ok),
                    "errors": run.errors(run.rate),
                    "ack_ms": {
                        "p50": percentile(lat, 50),
                        "p95": percentile(lat, 95),
                        "p99": percentile(lat, 99),
                        "max": max(lat, default=math.nan),
                    },
                    "max_send_lag_ms": run.max_send_lag_ms(),
                },
                "max_throughput": {
                    "concurrency": run.max.concurrency,
                    "ok": len(run.max.ok),
                    "errors": run.errors(run.max),
                    "seconds": run.max.elapsed,
                    "acks_per_second": run.throughput(),
                    "reports_filed_per_second": run.filing_throughput(),
                },
                "error_kinds": run.error_kinds(),
            }
            for key, storage in (
                ("fixed_rate", run.rate_storage),
                ("max_throughput", run.max_storage),
            ):
                if storage is not None:
                    figures[key]["storage"] = storage.__dict__
            return figures

        return {
            "events": self.events,
            "rate": self.rate,
            "concurrency": self.concurrency,
            "database": self.database,
            "inline": self.inline,
            "loopkeeper": app(self.loopkeeper),
            "bare_bolt": app(self.bare),
            "diagnostics": {run.name: app(run) for run in self.extras},
            "throughput_ratio": self.ratio,
            "filing_ratio": self.filing_ratio,
            "targets": {
                "p99_ack_under_50ms_at_rate": self.p99_met(),
                "throughput_at_least_40pct_of_bare_storing_every_report": self.throughput_met(),
            },
            "notes": self.notes,
        }


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def render(outcome: Outcome) -> str:
    lk = outcome.loopkeeper
    apps = [outcome.loopkeeper, outcome.bare, *outcome.extras]
    where = "in this process" if outcome.inline else "in a separate process"
    at = f"@ {outcome.rate:g}/s"
    lines = [
        f"loopkeeper ingest benchmark: {outcome.events} signed reaction_added events "
        f"to POST /slack/events",
        f"  database: {outcome.database}",
        f"  fixed rate: open loop at {outcome.rate:g} events/s; max throughput: closed loop, "
        f"{outcome.concurrency} in flight",
        f"  load generator and fake Slack Web API {where}",
        "",
    ]

    def row(label: str, cell: Callable[[AppRun], str]) -> list[str]:
        return [label, *(cell(run) for run in apps)]

    def ack(q: float) -> Callable[[AppRun], str]:
        return lambda run: _ms(percentile(run.latencies_ms(), q))

    rows = [
        ["", *(run.name for run in apps)],
        row(f"ack p50 (ms) {at}", ack(50)),
        row(f"ack p95 (ms) {at}", ack(95)),
        row(f"ack p99 (ms) {at}", ack(99)),
        row(f"ack max (ms) {at}", ack(100)),
        row(
            f"acks > {SLACK_DEADLINE_S:g} s (Slack retries)",
            lambda run: str(sum(1 for ms in run.latencies_ms() if ms > SLACK_DEADLINE_S * 1000)),
        ),
        row("achieved rate (acks/s)", lambda run: f"{run.achieved_rate():.1f}"),
        row("max send lag (ms)", lambda run: _ms(run.max_send_lag_ms())),
        row("errors (fixed rate)", lambda run: str(run.errors(run.rate))),
        row("errors (max throughput)", lambda run: str(run.errors(run.max))),
        row("max throughput (acks/s)", lambda run: f"{run.throughput():.1f}"),
        row("  (elapsed s)", lambda run: f"{run.max.elapsed:.2f}"),
        row(
            "reports filed/s (not delivered)",
            lambda run: "-" if run.max_storage is None else f"{run.filing_throughput():.1f}",
        ),
    ]
    width = max(len(r[0]) for r in rows) + 2
    for label, *cells in rows:
        lines.append(f"{label:<{width}}" + "".join(f"{cell:>20}" for cell in cells))
    lines.append("")
    for name, storage, result in (
        ("fixed rate", lk.rate_storage, lk.rate),
        ("max throughput", lk.max_storage, lk.max),
    ):
        if storage is None:
            continue
        lines.append(
            f"loopkeeper {name}: {storage.stored} reports stored in {storage.cases} cases for "
            f"{len(result.ok)} acked events; acked but not stored: {storage.missing}; "
            f"confirmations delivered: {storage.confirmations} "
            f"(outbox empty {storage.drain_seconds:.1f} s after the last ack"
            + (f", {storage.pending} STILL PENDING" if storage.pending else "")
            + ")"
        )
    kinds = {f"{run.name} {k}": v for run in apps for k, v in run.error_kinds().items()}
    if kinds:
        lines.append("errors by kind: " + ", ".join(f"{k}: {v}" for k, v in kinds.items()))
    lines.append("")
    lines.append(
        f"throughput ratio loopkeeper/bare: {outcome.ratio:.2f} ({outcome.ratio:.0%}) acks, each "
        f"flag committed before its ack; {outcome.filing_ratio:.2f} "
        f"({outcome.filing_ratio:.0%}) counting reports filed (their delivery not counted: see "
        "bench.honest), work the bare app "
        "does none of (reading the message from Slack, routing, case, timers, outbox)"
    )
    lines.append("")
    lines.append("targets:")
    p99 = percentile(lk.latencies_ms(), 99)
    sqlite_note = "" if outcome.database_kind == "sqlite" else " (target is set for SQLite)"
    lines.append(
        f"  p99 ack < {P99_TARGET_MS:g} ms at {outcome.rate:g} events/s{sqlite_note}: "
        f"{_ms(p99)} ms -> {'met' if outcome.p99_met() else 'MISSED'}"
    )
    storage = lk.max_storage
    stored = f"{storage.stored}/{outcome.events} filed" if storage else "not measured"
    lines.append(
        f"  throughput >= {THROUGHPUT_RATIO_TARGET:.0%} of bare, storing every report: acks at "
        f"{outcome.ratio:.0%} of bare, each flag committed before its ack, {stored} in the "
        f"end -> {'met' if outcome.throughput_met() else 'MISSED'}"
    )
    for note in outcome.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
