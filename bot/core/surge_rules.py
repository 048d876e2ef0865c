"""The `surge:` section of routing.yaml: when many new cases on one system fold into one card.

A surge opens when a system gets more than `cases` new cases within `within`; it ends after
`quiet` without a new one. Without a `surge:` section nothing folds: every case gets its own
card, as before (a file can say `surge: {}` to use the defaults below).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from bot.core.routing_fields import Duration, FrozenModel

DEFAULT_CASES = 20
DEFAULT_WITHIN = timedelta(minutes=10)
DEFAULT_QUIET = timedelta(minutes=30)
MAX_CASES = 10_000


class Surge(FrozenModel):
    """More than `cases` new cases on one system within `within` open a surge; `quiet` without
    a new case ends it."""

    cases: int = Field(default=DEFAULT_CASES, ge=1, le=MAX_CASES)
    within: Duration = DEFAULT_WITHIN
    quiet: Duration = DEFAULT_QUIET

    @field_validator("within", "quiet")
    @classmethod
    def _longer_than_zero(cls, value: timedelta) -> timedelta:
        # A zero window never counts two cases together; zero quiet would end a surge at once.
        if value <= timedelta(0):
            raise ValueError("must be longer than 0m (e.g. 10m)")
        return value
