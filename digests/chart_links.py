"""Links to the digest's chart for cards that cannot carry it: Teams cards must stay under
28 KB, which a PNG as a data URI would break, so the bot serves the chart itself.

Each chart gets its own unguessable token (`secrets.token_urlsafe(32)`: 256 random bits) and
lives in the database for `KEEP`, so whichever replica Teams reaches can serve it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Protocol

KEEP = timedelta(days=30)
"""How long a posted digest's chart stays readable: past a month, people read newer digests."""


class ChartImages(Protocol):
    """Where charts are kept (storage/chart_images.py)."""

    async def keep_chart(
        self, token: str, png: bytes, now: datetime, expires: datetime
    ) -> None: ...

    async def chart(self, token: str, now: datetime) -> bytes | None:
        """The PNG, or None for an unknown or expired token."""
        ...


class ChartLinks:
    def __init__(self, images: ChartImages, public_url: str, *, keep: timedelta = KEEP) -> None:
        self._images = images
        self._base = public_url.rstrip("/")
        self._keep = keep

    async def link(self, png: bytes, now: datetime) -> str:
        """Keep `png` and return the public URL that serves it until it expires."""
        token = secrets.token_urlsafe(32)
        await self._images.keep_chart(token, png, now, now + self._keep)
        return f"{self._base}/charts/{token}.png"
