"""The digest's themes section: one call, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import datetime

from digests.model import Theme
from digests.themes.embedder import Embedder, load_embedder
from digests.themes.engine import LIMIT, find_themes
from digests.themes.model import ThemeInput
from digests.themes.source import ThemeSource
from digests.week import IsoWeek, Zone


async def themes_for_week(
    source: ThemeSource,
    week: IsoWeek,
    systems: Sequence[str] | None,
    *,
    tz: Zone,
    now: datetime,
    embedder: Embedder | None = None,
    limit: int = LIMIT,
) -> list[Theme]:
    """`week`'s themes (so far, for the week in progress) with their change on the week before.

    The model is loaded (when `embedder` is None) and the themes computed in a worker thread:
    both take seconds on a big week, and the bot's event loop must keep answering meanwhile.
    """
    return await WeekThemes(source, embedder, limit=limit)(week, systems, tz=tz, now=now)


class WeekThemes:
    """Finds a week's themes for the digest (`digests.aggregate.ThemeFinder`), loading the
    embedding model on first use and keeping it: a process loads it once, not per digest."""

    def __init__(
        self, source: ThemeSource, embedder: Embedder | None = None, *, limit: int = LIMIT
    ) -> None:
        self._source = source
        self._embedder = embedder
        self._limit = limit
        self._loading = threading.Lock()  # two digests due together load the model once

    async def __call__(
        self, week: IsoWeek, systems: Sequence[str] | None, *, tz: Zone, now: datetime
    ) -> list[Theme]:
        start, end = week.start_utc(tz), min(week.end_utc(tz), now)
        current = await self._source.report_texts(start, end, systems)
        previous = await self._source.report_texts(week.previous().start_utc(tz), start, systems)
        return await asyncio.to_thread(self._compute, current, previous)

    def embedder(self) -> Embedder:
        with self._loading:
            if self._embedder is None:
                self._embedder = load_embedder()
            return self._embedder

    def _compute(self, current: list[ThemeInput], previous: list[ThemeInput]) -> list[Theme]:
        return find_themes(current, previous, self.embedder(), limit=self._limit)
