"""The digest as Markdown, for the command line and e-mail."""

from __future__ import annotations

import re

from bot.core.card_markdown import plain
from digests.lines import next_step_line, theme_line, version_line
from digests.links import card_link
from digests.model import Breakdown, Response, WeeklyDigest
from digests.surges import surge_line
from digests.text import change, duration, percent, plural, relative, signed

MAX_VERSIONS = 8
"""Version rows listed (regressions always are); JSON and `loopkeeper versions` list them all."""

_SPECIAL = re.compile(r"([\\`*_~\[\]<>|#])")
# An `&` only matters where it starts an entity ("&amp;" would show as "&").
_ENTITY = re.compile(r"&(?=#?\w+;)")
# What makes a line a list item, quote, heading or setext underline where a value starts one.
_LINE_START = re.compile(r"^(\s*)([-+=])")
_ORDERED = re.compile(r"^(\s*\d+)([.)])")


def md(text: str) -> str:
    """Text as Markdown that shows exactly these characters, on one line: no link, image,
    heading, list, emphasis, HTML or table cell break can come out of it. `(` and `)` stay
    as typed: they only make a link after a `]`, which is escaped."""
    flat = " ".join(plain(text).splitlines())
    escaped = _ENTITY.sub(r"\\&", _SPECIAL.sub(r"\\\1", flat))
    escaped = _ORDERED.sub(r"\1\\\2", escaped)
    return _LINE_START.sub(r"\1\\\2", escaped)


def render_markdown(digest: WeeklyDigest, *, permalink_base: str | None = None) -> str:
    """The whole digest; a quiet week is the one line that says so."""
    if digest.quiet:
        return md(digest.headline) + "\n"
    lines = [
        f"# {md(title(digest))}",
        "",
        f"_{md(subtitle(digest))}_",
        "",
        md(digest.headline),
        "",
    ]
    if digest.priorities:
        lines += ["## Suggested priorities", ""]
        for p in digest.priorities:
            lines.append(
                f"{p.rank}. **{md(p.system_name)} · {md(p.category_label)}**: {md(p.reason)}"
            )
            step = next_step_line(p)
            if step:
                lines.append(f"   {md(step)}")
        lines.append("")
    lines += _backlog(digest)
    lines += _themes(digest)
    if digest.top_cases:
        lines += [
            "## Top cases",
            "",
            "| # | Case | System | Category | Severity | Reports this week | Status |",
            "|--:|---|---|---|---|--:|---|",
        ]
        for c in digest.top_cases:
            link = card_link(c.slack_card_channel, c.slack_card_ts, permalink_base)
            label = f"[#{c.case_id}]({link})" if link else f"#{c.case_id}"
            lines.append(
                f"| {c.rank} | {label} | {md(c.system_name)} | {md(c.category_label)} | "
                f"{c.severity.value} | {c.reports} of {c.total_reports} | "
                f"{c.status.value.replace('_', ' ')} |"
            )
        lines.append("")
    lines += _versions(digest)
    if digest.surges:
        lines += ["## Surges", "", *(f"- {md(surge_line(s, digest))}" for s in digest.surges), ""]
    lines += _breakdown("Reports by system", "System", digest.by_system)
    if digest.movers:
        lines += ["## Categories that moved most", ""]
        for m in digest.movers:
            lines.append(
                f"- {md(m.label)}: {m.previous} → {m.current} "
                f"({signed(m.delta)}, {relative(m.current, m.previous)})"
            )
        lines.append("")
    lines += _breakdown("Reports by category", "Category", digest.by_category)
    lines += _breakdown("Reports by severity", "Severity", digest.by_severity)
    lines += [
        "## Last 8 weeks",
        "",
        "| Week | " + " | ".join(p.week[-3:] for p in digest.series) + " |",
        "|---|" + "--:|" * len(digest.series),
        "| Reports | " + " | ".join(str(p.reports) for p in digest.series) + " |",
        "| Cases | " + " | ".join(str(p.cases) for p in digest.series) + " |",
        "",
    ]
    lines += _responses("Owner response by system", "System", digest.response_by_system)
    lines += _responses("Owner response by owner", "Owner", digest.response_by_owner)
    lines += ["## Loop closure", "", md(loop_closure_line(digest)), ""]
    lines.append(f"_{md(footer(digest))}_")
    return "\n".join(lines) + "\n"


def title(digest: WeeklyDigest) -> str:
    """ "Weekly AI feedback digest · 2026-W07", marked "(so far)" while the week runs and
    "DEMO DATA" over demo cases, so no reader takes either for a finished, real week."""
    text = f"Weekly AI feedback digest · {digest.week.iso}"
    if digest.so_far:
        text += " (so far)"
    if digest.demo:
        text += " · DEMO DATA"
    return text


def subtitle(digest: WeeklyDigest) -> str:
    names = ", ".join(s.name for s in digest.systems) or "no systems"
    return f"{digest.week.label} ({digest.week.timezone}) · {names}"


def footer(digest: WeeklyDigest) -> str:
    w = digest.week
    return (
        f"Week {w.start_local:%Y-%m-%d %H:%M} → {w.end_local:%Y-%m-%d %H:%M} {w.timezone} "
        f"({w.hours} h). Reporters are counted, never named. "
        f"Generated {digest.generated_at:%Y-%m-%d %H:%M} UTC."
    )


def loop_closure_line(digest: WeeklyDigest) -> str:
    closure = digest.loop_closure
    if not closure.closed_cases:
        return "No cases were closed this week."
    return (
        f"{closure.all_told} of {plural(closure.closed_cases, 'case')} closed this week told "
        f"every reporter how it ended ({percent(closure.ratio)})."
    )


def _backlog(digest: WeeklyDigest) -> list[str]:
    backlog = digest.backlog
    lines = [
        f"## Open backlog {'now' if digest.so_far else 'at week end'}",
        "",
        "| | < 1 day | 1–7 days | > 7 days | Open |",
        "|---|--:|--:|--:|--:|",
    ]
    for row in [backlog.total, *backlog.by_system]:
        name = f"**{md(row.name)}**" if row is backlog.total else md(row.name)
        lines.append(
            f"| {name} | {row.under_1d} | {row.from_1d_to_7d} | {row.over_7d} | {row.total} |"
        )
    return [*lines, ""]


def _themes(digest: WeeklyDigest) -> list[str]:
    if not digest.themes:
        return []
    lines = ["## Recurring themes", ""]
    lines += [f"- **{md(t.label)}**: {md(theme_line(t, digest))}" for t in digest.themes]
    return [*lines, ""]


def _versions(digest: WeeklyDigest) -> list[str]:
    if not digest.versions:
        return []
    lines = ["## Prompt versions and models", ""]
    lines += [f"- ⚠ **{md(v.regression)}**" for v in digest.versions if v.regression]
    lines += [
        f"- {md(version_line(v, digest))}" for v in digest.versions[:MAX_VERSIONS] if v.reports
    ]
    return [*lines, ""]


def _breakdown(heading: str, column: str, rows: list[Breakdown]) -> list[str]:
    if not rows:
        return []
    lines = [
        f"## {heading}",
        "",
        f"| {column} | Reports | vs last week | Cases | vs last week |",
        "|---|--:|---|--:|---|",
    ]
    lines += [
        f"| {md(r.label)} | {r.reports.current} | {change(r.reports)} | {r.cases.current} | "
        f"{change(r.cases)} |"
        for r in rows
    ]
    return [*lines, ""]


def _responses(heading: str, column: str, rows: list[Response]) -> list[str]:
    if not rows:
        return []
    lines = [
        f"## {heading}",
        "",
        f"| {column} | Acknowledged | median | p90 | Closed | median | p90 | SLA breaches |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {md(r.name)} | {r.acknowledged} | {duration(r.acknowledge_median_seconds)} | "
        f"{duration(r.acknowledge_p90_seconds)} | {r.resolved} | "
        f"{duration(r.resolve_median_seconds)} | {duration(r.resolve_p90_seconds)} | "
        f"{r.sla_breaches} |"
        for r in rows
    ]
    return [*lines, ""]
