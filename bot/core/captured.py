"""What the AI was asked and its whole answer, kept on a report as privacy allows."""

from __future__ import annotations

from bot.core.models import ReportDraft
from bot.core.privacy import redact
from bot.core.routing_rules import Privacy

CAPTURED = ("input", "output")
"""Report fields an eval dataset is made of, besides the expected answer."""


def captured(draft: ReportDraft, privacy: Privacy) -> dict[str, str | None]:
    """Both are kept only with `privacy.store_output_text`, redacted like every stored text."""
    if not privacy.store_output_text:
        return dict.fromkeys(CAPTURED)
    output = draft.output
    asked = draft.input or (output.input if output else None)
    answer = output.text if output else None
    return {
        "input": redacted(_blank_none(asked), privacy),
        "output": redacted(_blank_none(answer), privacy),
    }


def redacted(text: str | None, privacy: Privacy) -> str | None:
    return None if text is None else redact(text, privacy.redact)


def _blank_none(text: str | None) -> str | None:
    return text if text and text.strip() else None
