"""The weekly digest job: one durable run per (digest, ISO week), posted exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.case_events import digest_event
from bot.core.models import DigestRun, OutboundMessage
from bot.core.ports import Clock
from bot.core.routing_rules import Digest, Routing
from bot.core.telemetry import NO_EVENTS, Events
from digests.aggregate import ThemeFinder, build_digest
from digests.chart_links import ChartLinks
from digests.model import WeeklyDigest
from digests.publisher import Publisher
from digests.reads import DigestReads
from digests.schedule import latest_due
from digests.week import IsoWeek

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(hours=1)
LATE_NOTE = "⏰ Posted late: loopkeeper was not running at the scheduled time."


class RunTransaction(Protocol):
    async def finish_digest_run(self, run_id: int, at: datetime, *, late: bool) -> bool:
        """Mark the run posted; False when another replica did first."""
        ...

    async def enqueue(self, message: OutboundMessage) -> bool: ...

    async def enqueue_all(self, messages: Sequence[OutboundMessage]) -> int: ...


class DigestRuns(Protocol):
    """Where digest runs are kept and claimed, and their messages queued."""

    async def has_cases_before(self, moment: datetime) -> bool: ...

    async def ensure_digest_run(self, digest: str, week: str, due_at: datetime) -> None: ...

    async def claim_digest_runs(self, now: datetime, lease: timedelta) -> list[DigestRun]: ...

    def transaction(self) -> AbstractAsyncContextManager[RunTransaction]: ...


class DigestJob:
    def __init__(
        self,
        routing: Routing,
        store: DigestRuns,
        clock: Clock,
        publishers: Sequence[Publisher],
        on_enqueued: Callable[[], None] | None = None,
        *,
        reads: DigestReads,
        themes: ThemeFinder | None = None,
        charts: ChartLinks | None = None,
        lease: timedelta = timedelta(minutes=5),
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._routing = routing
        self._store = store
        self._reads = reads
        self._themes = themes
        self._charts = charts
        self._clock = clock
        self._publishers = publishers
        self._on_enqueued = on_enqueued
        self._lease = lease
        self._ensured: set[tuple[str, str]] = set()

    async def tick(self) -> int:
        """Create the runs that are due, then post every unposted one we can claim."""
        now = self._clock.now()
        for digest in self._routing.digests:
            week, due = latest_due(digest.schedule, now)
            if (digest.name, week) in self._ensured:
                continue
            # A fresh install does not post a late digest of weeks it never saw.
            if now - due > LATE_AFTER and not await self._store.has_cases_before(due):
                continue
            await self._store.ensure_digest_run(digest.name, week, due)
            self._ensured.add((digest.name, week))
        posted = 0
        for run in await self._store.claim_digest_runs(now, self._lease):
            try:
                posted += await self._post(run, now)
            except Exception:  # its lease expires and another tick retries it
                log.exception("digest %s for %s failed", run.digest, run.week)
        return posted

    async def _post(self, run: DigestRun, now: datetime) -> int:
        digest = next((d for d in self._routing.digests if d.name == run.digest), None)
        late = now - run.due_at > LATE_AFTER
        messages: list[OutboundMessage] = []
        if digest is not None:
            weekly = await build_digest(
                self._reads,
                self._routing,
                digest,
                IsoWeek.parse(run.week),
                now,
                find_themes=self._themes,
            )
            key = f"digest:{run.digest}:{run.week}"
            note = LATE_NOTE if late else None
            chart_url = await self._chart_url(digest, weekly, now)
            for publish in self._publishers:
                # Rendering (a chart takes a few hundred ms) runs off the event loop.
                messages += await asyncio.to_thread(
                    publish, digest, weekly, key=key, note=note, now=now, chart_url=chart_url
                )
        async with self._store.transaction() as tx:
            if not await tx.finish_digest_run(run.id, now, late=late):
                return 0  # another replica posted it first
            for message in messages:
                await tx.enqueue(message)
            if messages and digest is not None:
                await tx.enqueue_all(self._event(digest, run.week, messages, now, late=late))
        if messages and self._on_enqueued:
            self._on_enqueued()
        for platform in dict.fromkeys(message.platform for message in messages):
            self._events.digest_posted(platform)
        log.info("digest %s for %s queued%s", run.digest, run.week, " (late)" if late else "")
        return 1

    async def _chart_url(self, digest: Digest, weekly: WeeklyDigest, now: datetime) -> str | None:
        """Where Teams loads the chart from; None (a card without it) when there is no chart,
        no public URL, or it cannot be kept: the digest itself still goes out."""
        if self._charts is None or weekly.quiet or not digest.teams_channel:
            return None
        from digests.chart import render_chart  # matplotlib: only when a chart is drawn

        try:
            png = await asyncio.to_thread(render_chart, weekly)
            return await self._charts.link(png, now)
        except Exception:
            log.exception(
                "the chart of digest %s could not be kept: its card goes without", digest.name
            )
            return None

    def _event(
        self,
        digest: Digest,
        week: str,
        posts: Sequence[OutboundMessage],
        now: datetime,
        *,
        late: bool = False,
        manual: bool = False,
    ) -> list[OutboundMessage]:
        """`digest.posted` for the webhooks (bot/core/case_events.py), naming the channels of
        the platforms it was queued for."""
        platforms = {post.platform for post in posts}
        channels = {"slack": digest.slack_channel, "teams": digest.teams_channel}
        return digest_event(
            self._routing.webhooks,
            now,
            digest=digest.name,
            week=week,
            systems=None if digest.systems == "all" else list(digest.systems),
            channels={p: c for p, c in channels.items() if p in platforms},
            late=late,
            manual=manual,
        )

    async def post_now(self, digest: Digest, week: IsoWeek) -> list[str]:
        """Queue a digest on demand (`loopkeeper digest --post`); returns the messages' keys."""
        now = self._clock.now()
        weekly = await build_digest(
            self._reads, self._routing, digest, week, now, find_themes=self._themes
        )
        key = f"digest:{digest.name}:{week}:manual:{now.isoformat()}"
        chart_url = await self._chart_url(digest, weekly, now)
        messages: list[OutboundMessage] = []
        for publish in self._publishers:
            messages += await asyncio.to_thread(
                publish, digest, weekly, key=key, note=None, now=now, chart_url=chart_url
            )
        queued: list[str] = []
        async with self._store.transaction() as tx:
            for message in messages:
                if await tx.enqueue(message):
                    queued.append(message.dedupe_key)
            if queued:
                await tx.enqueue_all(self._event(digest, str(week), messages, now, manual=True))
        if queued and self._on_enqueued:
            self._on_enqueued()
        return queued
