"""Slack's Block Kit limits, as budgets every renderer spends instead of limits it trips over.

Slack refuses a whole message or modal when one text is a character too long, so a routing
file with a long label or a reporter pasting a novel would otherwise cost the card. The numbers
are Slack's documented maximums (https://api.slack.com/reference/block-kit).
"""

from __future__ import annotations

from typing import Any

from bot.core.mrkdwn import ELLIPSIS

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
CONTEXT_TEXT = 2000
CONTEXT_ELEMENTS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
OPTIONS = 100
OPTION_GROUPS = 100
LABEL_TEXT = 2000
MODAL_TITLE = 24
PRIVATE_METADATA = 3000
INITIAL_VALUE = 3000
MESSAGE_TEXT = 3000
"""Top-level `text` of a message: Slack takes 40,000, but a thread line or DM longer than a
section is one nobody reads, and the reporter DM repeats it in a section."""


def fit(text: str, limit: int) -> str:
    """Plain text cut to `limit` characters, ending in an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object: Slack shows it as written (no markup to escape), within `limit`."""
    return {"type": "plain_text", "text": fit(text, limit) or "—", "emoji": True}
