"""The digest's themes section: one call, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from digests.themes.embedder import Embedder, load_embedder
from digests.themes.engine import LIMIT, find_themes
from digests.themes.model import Theme, ThemeInput
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
    start, end = week.start_utc(tz), min(week.end_utc(tz), now)
    current = await source.report_texts(start, end, systems)
    previous = await source.report_texts(week.previous().start_utc(tz), start, systems)
    return await asyncio.to_thread(_compute, current, previous, embedder, limit)


def _compute(
    current: list[ThemeInput], previous: list[ThemeInput], embedder: Embedder | None, limit: int
) -> list[Theme]:
    return find_themes(current, previous, embedder or load_embedder(), limit=limit)
