"""A DM about a case that Teams cannot deliver (nobody in the teams the bot is in has the
person's e-mail, and routing.yaml names no Teams id): said in the case's thread instead."""

from __future__ import annotations

from typing import Any

from bot.core.card_markdown import inert
from handlers.teams import cards


def unreached_message(name: str, text: str) -> dict[str, Any]:
    """The thread reply standing in for the DM; `text` is the DM's, already inert markdown, and
    the name is made inert here (routing.yaml's, shown as written)."""
    said = (
        f"⚠️ {name} could not be reached on Teams (no account found for them), so this goes here: "
    )
    return cards.text_message(inert(said) + text)
