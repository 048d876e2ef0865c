"""Names and ids that look like markup are text in the Markdown and HTML digests, and a cell
that looks like a formula is text in `loopkeeper cases --format csv`: a hostile digest has
exactly the structure (headings, tables, links) of a plain one."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from bot.core.models import Case, Role, Severity
from digests.model import WeeklyDigest
from digests.render_html import render_html
from digests.render_markdown import render_markdown
from storage.repository import SqlCaseStore
from tests.inert_markup import EMOJI, EVIL, HOSTILE, HOSTILE_TEXT, JAPANESE, shown_text, tokens
from tests.test_cases_cli import run_cli
from tests.test_digest_render import big_digest

HOSTILE_NAME = HOSTILE_TEXT + " " + JAPANESE[:300] + EMOJI


def digest_named(name: str) -> WeeklyDigest:
    return big_digest(systems=3, system_name=name).model_copy(update={"headline": name})


def markdown_structure(markdown: str) -> list[str]:
    """Every block and inline element, with where its links lead; no text."""
    return [
        f"{t.type} {t.attrGet('href') or ''}".strip()
        for t in tokens(markdown)
        if t.type not in ("text", "text_special", "softbreak", "hardbreak", "inline")
    ]


def test_the_markdown_digest_has_the_same_structure_whatever_the_names() -> None:
    plain = render_markdown(digest_named("Support Assistant"))
    hostile = render_markdown(digest_named(HOSTILE_NAME))
    assert markdown_structure(hostile) == markdown_structure(plain)
    assert EVIL not in " ".join(markdown_structure(hostile))
    shown = shown_text(hostile)
    for line in HOSTILE[:-1]:  # each line of the name reads as typed (on one line)
        assert line.replace("\n", " ") in shown, line


def test_a_quiet_week_line_is_inert_too() -> None:
    quiet = digest_named(HOSTILE[0]).model_copy(update={"quiet": True})
    assert markdown_structure(render_markdown(quiet)) == ["paragraph_open", "paragraph_close"]


class Tags(HTMLParser):
    """The start tags of a page with their attributes, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Tags:
    page = Tags()
    page.feed(html)
    return page


def test_the_html_digest_has_the_same_tags_whatever_the_names() -> None:
    plain = parsed(render_html(digest_named("Support Assistant")))
    hostile_html = render_html(digest_named(HOSTILE_NAME))
    hostile = parsed(hostile_html)
    assert hostile.tags == plain.tags
    hrefs = [value for _, attrs in hostile.tags for name, value in attrs if name == "href"]
    assert hrefs and all(str(h).startswith("https://slack.com/") for h in hrefs)
    text = "".join(hostile.text)
    assert "<script>alert(1)</script>" in text and f"[the refund page]({EVIL})" in text
    assert "\u202e" not in hostile_html  # no override reversing the rest of a line


async def test_a_formula_in_an_exported_cell_is_text(
    database_url: str, store: SqlCaseStore
) -> None:
    now = datetime.now(UTC)
    formulas = ['=HYPERLINK("https://evil.example","refund")', "+1+1", "-2+3", "@SUM(A1)"]
    for number, formula in enumerate(formulas):
        async with store.transaction() as tx:
            case, _ = await tx.lock_or_create_case(
                Case.model_validate(
                    {
                        "output_key": f"api:link:{number}",
                        "system_id": "support-assistant",
                        "category_id": "hallucination",
                        "severity": Severity.high,
                        "owner": "alice",
                        "owner_role": Role.validation,
                        "acknowledge_due_at": now + timedelta(hours=4),
                        "trace_id": formula,
                        "output_permalink": "\t=cmd|' /C calc'!A0" if number == 0 else None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            )
    result = await run_cli(database_url, "cases", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["trace_id"] for row in rows] == [f"'{formula}" for formula in formulas]
    assert rows[0]["permalink"] == "'\t=cmd|' /C calc'!A0"
    assert rows[0]["case"].isdigit() and rows[0]["reporters"] == "0"  # numbers stay numbers
