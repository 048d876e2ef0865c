"""Sizes for Teams: a message, Adaptive Card included, must stay under about 28 KB, and Teams
refuses a card update over it (the old card then stays, stale, for good). Cards are built to a
byte budget, measured the way the bytes go on the wire.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

from bot.core.card_markdown import inert

TEAMS_MESSAGE_LIMIT = 28_000
"""Teams' documented "about 28 KB", rounded down below 28 KiB."""

ENVELOPE_ALLOWANCE = 3_000
"""What botbuilder adds around the activity we build (from, recipient, conversation,
serviceUrl, channelData, ids; about 1 KB in practice) and what Teams adds to it."""

ACTIVITY_BUDGET = TEAMS_MESSAGE_LIMIT - ENVELOPE_ALLOWANCE
"""Most bytes an activity (or an invoke answer) the bot builds may take."""

ELLIPSIS = "…"

# Characters that belong to the one before them: cutting just before one would split a
# grapheme (a flag, a family emoji, a letter with its accent) and show a broken glyph.
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}


def wire_size(value: Any) -> int:
    """Bytes of `value` as JSON on the wire: botbuilder (msrest) sends `json.dumps` output,
    which escapes every non-ASCII character (six bytes each, twelve for an emoji), so this is
    never less than its UTF-8 JSON."""
    return len(json.dumps(value).encode())


def cut(text: str, length: int) -> str:
    """`text` cut to at most `length` characters, ending in an ellipsis when cut, and never
    inside a grapheme (the cut moves back past joiners, variation and combining marks)."""
    if len(text) <= length:
        return text
    end = max(length - len(ELLIPSIS), 0)
    while 0 < end < len(text) and (
        text[end] in _JOINERS
        or text[end - 1] == "\u200d"
        or unicodedata.combining(text[end])
        or _regional_pair_split(text, end)
    ):
        end -= 1
    return text[:end].rstrip() + ELLIPSIS


def _regional_pair_split(text: str, end: int) -> bool:
    """Whether `end` falls between the two regional indicators of one flag."""
    if not _regional(text[end - 1]) or not _regional(text[end]):
        return False
    run = 0
    while end - run - 1 >= 0 and _regional(text[end - run - 1]):
        run += 1
    return run % 2 == 1


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def fit(text: str, max_bytes: int, render: Callable[[str], str] = inert) -> str:
    """`render(text)`, shortened (before rendering, so never inside an escape sequence) to the
    longest prefix whose JSON string takes at most `max_bytes` on the wire; "" if none does."""
    rendered = render(text)
    if _string_size(rendered) <= max_bytes:
        return rendered
    low, high = 0, len(text) - 1  # the longest fitting cut lies in [low, high]
    best = ""
    while low <= high:
        middle = (low + high) // 2
        candidate = render(cut(text, middle)) if middle else ""
        if _string_size(candidate) <= max_bytes:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best if best.strip(ELLIPSIS) else ""


def _string_size(text: str) -> int:
    return wire_size(text) - 2  # without the quotes
