"""The port the themes engine reads reports through (storage/theme_texts.py implements it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from digests.themes.model import ThemeInput


class ThemeSource(Protocol):
    async def report_texts(
        self, start: datetime, end: datetime, systems: Sequence[str] | None
    ) -> list[ThemeInput]:
        """Reports first filed in [start, end) on `systems` (None: all) that carry any text,
        oldest first."""
        ...
