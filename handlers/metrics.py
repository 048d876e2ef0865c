"""Prometheus metrics: the core's events as counters, the database's state as gauges read at
each scrape, the process's own. Names follow Prometheus conventions (`loopkeeper_` prefix, base
units, `_total` on counters, added by prometheus_client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from bot.core.models import CaseStatus, Severity, TimerKind
from bot.core.ports import Clock
from bot.core.telemetry import Health

FLAG_TO_CARD_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
"""Seconds: a card normally follows its flag in a few; minutes mean a backlog or an outage."""


class PrometheusEvents:
    """The core's `bot.core.telemetry.Events`, counted in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"loopkeeper_{name}", help_text, labels, registry=registry)

        self._flags = counter(
            "flags_received", "Flags that reached filing, by intake path", ("path", "platform")
        )
        self._reports = counter("reports_filed", "Reports added to a case (not updates)")
        self._opened = counter("cases_opened", "Cases opened or reopened", ("severity",))
        self._closed = counter("cases_closed", "Cases closed, by closing status", ("status",))
        self._delivered = counter(
            "notices_delivered", "Outbox messages delivered to a platform", ("platform",)
        )
        self._failed = counter(
            "notices_failed", "Failed outbox delivery attempts (retried or not)", ("platform",)
        )
        self._dead = counter("notices_dead_lettered", "Outbox messages given up on", ("platform",))
        self._timers = counter("timers_fired", "Escalation and SLA timers that acted", ("kind",))
        self._digests = counter(
            "digests_posted", "Weekly digests queued for a platform", ("platform",)
        )
        self._flag_to_card = Histogram(
            "loopkeeper_flag_to_card_seconds",
            "Time from a flag opening a case to its card's post in the triage channel",
            ("platform",),
            buckets=FLAG_TO_CARD_BUCKETS,
            registry=registry,
        )
        # Known label values start at 0, so a rate or an alert sees the series before the
        # first event rather than nothing.
        for severity in Severity:
            self._opened.labels(severity.value)
        for status in CaseStatus:
            if status.is_closed:
                self._closed.labels(status.value)
        for kind in TimerKind:
            self._timers.labels(kind.value)

    def flag_received(self, path: str, platform: str) -> None:
        self._flags.labels(path, platform).inc()

    def report_filed(self) -> None:
        self._reports.inc()

    def case_opened(self, severity: str) -> None:
        self._opened.labels(severity).inc()

    def case_closed(self, status: str) -> None:
        self._closed.labels(status).inc()

    def notice_delivered(self, platform: str) -> None:
        self._delivered.labels(platform).inc()

    def notice_failed(self, platform: str, dead: bool) -> None:
        self._failed.labels(platform).inc()
        if dead:
            self._dead.labels(platform).inc()

    def card_posted(self, platform: str, seconds: float) -> None:
        self._flag_to_card.labels(platform).observe(max(seconds, 0.0))

    def timer_fired(self, kind: str) -> None:
        self._timers.labels(kind).inc()

    def digest_posted(self, platform: str) -> None:
        self._digests.labels(platform).inc()


def process_metrics(registry: CollectorRegistry) -> None:
    """CPU, memory, open files and the Python version of this process, on its own registry."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)


def health_gauges(
    registry: CollectorRegistry, read: Callable[[datetime], Awaitable[Health]], clock: Clock
) -> Callable[[], Awaitable[None]]:
    """Gauges read from the database (all replicas' state) by the refresh returned."""
    oldest = {
        queue: Gauge(
            f"loopkeeper_{queue}_oldest_pending_seconds",
            f"Age of the oldest {what} still tried (0 when none waits)",
            registry=registry,
        )
        for queue, what in (("outbox", "outbox message"), ("inbox", "inbox item"))
    }
    open_cases = Gauge(
        "loopkeeper_cases_open", "Cases not closed, by severity", ("severity",), registry=registry
    )
    breaches = Gauge(
        "loopkeeper_sla_breaches_open",
        "Open cases past their acknowledge or resolve deadline",
        registry=registry,
    )

    async def refresh() -> None:
        now = clock.now()
        health = await read(now)
        for queue, since in (("outbox", health.oldest_outbox), ("inbox", health.oldest_inbox)):
            oldest[queue].set(max((now - since).total_seconds(), 0.0) if since else 0.0)
        for severity in Severity:
            open_cases.labels(severity.value).set(health.open_cases.get(severity, 0))
        breaches.set(health.sla_breaches)

    return refresh
