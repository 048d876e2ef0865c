"""What the themes engine reads: one report's texts. What it finds is `digests.model.Theme`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThemeInput:
    """One report's words, with the case, system and category it counts under."""

    report_id: int
    case_id: int
    system_id: str
    category_id: str
    comment: str | None = None
    expected: str | None = None
    output: str | None = None
    """The case's redacted output excerpt; None where `privacy.store_output_text` is off."""
