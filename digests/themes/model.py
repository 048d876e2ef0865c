"""What the themes engine reads (one report's texts) and what it finds (a theme)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from digests.model import Change


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


class Theme(BaseModel):
    """One recurring theme of a week (DESIGN.md, "Digest JSON": `themes`)."""

    model_config = ConfigDict(frozen=True)

    label: str = Field(description="its most distinctive terms, for people")
    terms: list[str] = Field(description="the distinctive terms, most distinctive first")
    reports: int = Field(description="reports in the theme this week")
    cases: int = Field(description="distinct cases: a case counts once per theme")
    systems: list[str] = Field(description="system ids it spans, most reports first")
    categories: list[str] = Field(description="category ids it spans, most reports first")
    change: Change = Field(description="reports this week beside last week's in the same theme")
    case_numbers: list[int] = Field(description="its three most-reported cases this week")
