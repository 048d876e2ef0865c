"""A surge as stored: many new cases on one system at once, announced as one card."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SurgeRecord(BaseModel):
    """One surge of one system, from the first case of the window that opened it until it
    has been quiet for `surge.quiet`. Its cases keep their own records; `surge_cases` links
    them (`folded`: announced only through the surge card, not with a card of its own)."""

    id: int | None = None
    system_id: str
    first_seen_at: datetime
    opened_at: datetime
    last_case_at: datetime
    case_count: int
    ended_at: datetime | None = None

    @property
    def stored_id(self) -> int:
        assert self.id is not None, "the surge is not stored yet"
        return self.id

    @property
    def active(self) -> bool:
        return self.ended_at is None
