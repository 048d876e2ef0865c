"""Sizes every value from outside is held to before it reaches the database or a card.

Platform ids are short (Slack's are ~11 characters, Teams' under 200); a longer one is not an
id but an attack or a bug, and one of 100 kB would not even fit PostgreSQL's index rows. Texts
are kept, but shortened, so one pasted novel cannot fill a card or the database.
"""

from __future__ import annotations

import re

MAX_ID = 255
"""Any identifier: user, channel, message ts, trace id, category, system, dedupe key."""

MAX_KEY = 600
"""A key built from several ids (an output key, a dedupe key)."""

MAX_TEXT = 40_000
"""Free text: a comment, the expected answer, the flagged AI output."""

MAX_URL = 2_000
"""A permalink or message link."""

ELLIPSIS = "…"

# NUL cannot be stored in PostgreSQL text; other C0 controls (bar tab and newlines) only
# ever come from broken or hostile clients and break renderers downstream.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_controls(value: str) -> str:
    """The text with NUL and the other control characters (but tab and newlines) removed."""
    return _CONTROLS.sub("", value)


def shortened(value: str, limit: int) -> str:
    """The text cut to at most `limit` characters, ending in an ellipsis when it was cut."""
    if len(value) <= limit:
        return value
    return value[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS


def clean_text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """Free text made safe to store: controls dropped, shortened to `limit`."""
    if value is None:
        return None
    return shortened(without_controls(value), limit)


def check_id(value: str | None, limit: int = MAX_ID) -> str | None:
    """An identifier as given, or ValueError when it cannot be one (too long, or controls)."""
    if value is None:
        return None
    if len(value) > limit:
        raise ValueError(f"is {len(value)} characters long; at most {limit} are allowed")
    if _CONTROLS.search(value):
        raise ValueError("contains control characters")
    return value
