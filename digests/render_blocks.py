"""The digest as a Slack message (Block Kit), short enough to read in a minute.

Slack's limits are enforced here, whatever the number of systems, owners or cases: at most 50
blocks, a header of at most 150 characters, section text of at most 3000; long lists are cut with
"… and N more". `block_kit_problems` checks a payload against those limits.

Every name, label and note goes through the Slack edge's one mrkdwn escaper, and the case links
are built with its `link`; it is a leaf module with no Slack SDK behind it.
"""

from __future__ import annotations

from typing import Any

from bot.core.mrkdwn import escape, link, shorten
from digests.lines import backlog_label, backlog_line, next_step_line, theme_line, version_line
from digests.links import card_link
from digests.model import Response, WeeklyDigest
from digests.render_markdown import footer, loop_closure_line, title
from digests.surges import surge_detail
from digests.text import arrow, change, duration, join_names, plural, relative, trend

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_CONTEXT_ELEMENT = 2000
MAX_FIELDS = 10
MAX_LINES = 8
"""Rows shown per list (systems, owners); the rest are summed up in one line."""

Block = dict[str, Any]


MAX_NAME = 60
"""Names and labels are cut to this length so every listed case keeps its line and link."""
MAX_STEP = 300
"""A next step, theme or version line is cut to this length, so a list of them fits a section."""


def esc(text: str, limit: int | None = None) -> str:
    """Text made inert for Slack mrkdwn, at most `limit` characters."""
    return escape(text, limit)


def name(text: str) -> str:
    return esc(text, MAX_NAME)


def _cut(text: str, limit: int) -> str:
    """Whole lines when some fit (no markup spans lines), else a cut that keeps markup whole."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if "\n" in head:
        return head[: head.rfind("\n")].rstrip() + "…"
    return shorten(text, limit)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def _context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": _cut(t, MAX_CONTEXT_ELEMENT)} for t in texts[:10] if t
        ],
    }


def _limited(lines: list[str], more: str) -> list[str]:
    """At most MAX_LINES lines; the rest become one line saying how many were left out."""
    if len(lines) <= MAX_LINES:
        return lines
    hidden = len(lines) - (MAX_LINES - 1)
    return [*lines[: MAX_LINES - 1], f"_… and {hidden} more {more}_"]


def render_blocks(
    digest: WeeklyDigest,
    *,
    permalink_base: str | None = None,
    chart_file_id: str | None = None,
    chart_url: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage.

    `chart_file_id` (a file uploaded with files.uploadV2) or `chart_url` adds the chart image;
    `note` adds a line under the title (e.g. that the digest is posted late).
    """
    if digest.quiet:
        line = esc(digest.headline) + (f" _{esc(note)}_" if note else "")
        return {"text": esc(digest.headline), "blocks": [_section(line)]}
    t = digest.totals
    names = [s.name for s in digest.systems]
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(title(digest), MAX_HEADER), "emoji": True},
        },
        _context(
            esc(f"{digest.week.label} ({digest.week.timezone}) · {join_names(names)}"),
            *([f"*{esc(note)}*"] if note else []),
        ),
        _section(
            f"*{plural(t.reports.current, 'report')}* ({trend(t.reports)}) on "
            f"*{plural(t.cases.current, 'case')}* from "
            f"{plural(t.reporters.current, 'person', 'people')} · {t.new_cases} new · "
            f"{t.reopened_cases} reopened · {t.closed_cases} closed · "
            f"{plural(t.sla_breaches, 'SLA breach', 'SLA breaches')}"
        ),
    ]
    if chart_file_id or chart_url:
        image: Block = {
            "type": "image",
            "alt_text": "Reports per system, last 8 weeks",
            "title": {"type": "plain_text", "text": "Reports per system, last 8 weeks"},
        }
        if chart_file_id:
            image["slack_file"] = {"id": chart_file_id}
        else:
            image["image_url"] = chart_url
        blocks.append(image)
    blocks.append({"type": "divider"})
    if digest.priorities:
        lines = []
        for p in digest.priorities:
            lines.append(
                f"{p.rank}. *{name(p.system_name)} · {name(p.category_label)}*: {esc(p.reason)}"
            )
            step = next_step_line(p)
            if step:
                lines.append(f"      {esc(step, MAX_STEP)}")
        blocks.append(_section("*🎯 Suggested priorities*\n" + "\n".join(lines)))
    b = digest.backlog.total
    blocks.append(_section(f"*📥 {backlog_label(digest)}*: {esc(backlog_line(b))}"))
    if digest.themes:
        lines = [
            f"*{name(t.label)}*: {esc(theme_line(t, digest), MAX_STEP)}" for t in digest.themes
        ]
        blocks.append(_section("*🧩 Recurring themes*\n" + "\n".join(_limited(lines, "themes"))))
    if digest.top_cases:
        lines = []
        for c in digest.top_cases:
            url = card_link(c.slack_card_channel, c.slack_card_ts, permalink_base)
            case = link(url, f"#{c.case_id}")
            lines.append(
                f"{case} {name(c.system_name)} · {name(c.category_label)} · {c.severity.value} · "
                f"{plural(c.reports, 'report')} this week · {c.status.value.replace('_', ' ')}"
            )
        blocks.append(_section("*🔥 Top cases*\n" + "\n".join(lines)))
    if digest.versions:
        lines = [f"⚠ *{esc(v.regression, MAX_STEP)}*" for v in digest.versions if v.regression]
        lines += [esc(version_line(v, digest), MAX_STEP) for v in digest.versions if v.reports]
        if lines:
            blocks.append(
                _section(
                    "*🧪 Prompt versions and models*\n" + "\n".join(_limited(lines, "versions"))
                )
            )
    if digest.surges:
        lines = [
            f"{name(digest.system_name(s.system_id))}: {esc(surge_detail(s))}"
            for s in digest.surges
        ]
        blocks.append(_section("*🌊 Surges*\n" + "\n".join(_limited(lines, "surges"))))
    system_lines = [
        f"{name(r.label)}: {r.reports.current} {arrow(r.reports)} {esc(change(r.reports))}"
        for r in digest.by_system
        if r.reports.current or r.reports.previous
    ]
    moved = [
        f"{name(m.label)}: {m.previous} → {m.current} ({relative(m.current, m.previous)})"
        for m in digest.movers
    ]
    sections = []
    if system_lines:
        sections.append("*By system*\n" + "\n".join(_limited(system_lines, "systems")))
    if moved:
        sections.append("*Moved most*\n" + "\n".join(moved))
    if sections:
        blocks.append(_section("\n\n".join(sections)))
    response = _response_lines(digest.response_by_system)
    owners = _response_lines(digest.response_by_owner)
    if response or owners:
        text = []
        if response:
            text.append("*⏱ Owner response by system*\n" + "\n".join(_limited(response, "systems")))
        if owners:
            text.append("*By owner*\n" + "\n".join(_limited(owners, "owners")))
        blocks.append(_section("\n\n".join(text)))
    blocks.append(_section(f"*🔁 Loop closure*: {esc(loop_closure_line(digest))}"))
    blocks.append(_context(esc(footer(digest))))
    return {"text": esc(digest.headline), "blocks": blocks[:MAX_BLOCKS]}


def _response_lines(rows: list[Response]) -> list[str]:
    lines = []
    for r in rows:
        parts = []
        if r.acknowledged:
            parts.append(
                f"ack {duration(r.acknowledge_median_seconds)} median "
                f"(p90 {duration(r.acknowledge_p90_seconds)})"
            )
        if r.resolved:
            parts.append(
                f"closed {duration(r.resolve_median_seconds)} median "
                f"(p90 {duration(r.resolve_p90_seconds)})"
            )
        if r.sla_breaches:
            parts.append(plural(r.sla_breaches, "SLA breach", "SLA breaches"))
        lines.append(f"{name(r.name)}: " + " · ".join(parts))
    return lines


def block_kit_problems(payload: dict[str, Any]) -> list[str]:
    """Where a message payload breaks Slack's Block Kit limits (empty when it is fine)."""
    problems = []
    blocks = payload.get("blocks", [])
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (at most {MAX_BLOCKS})")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if kind == "header" and len(text) > MAX_HEADER:
            problems.append(f"blocks[{i}]: header of {len(text)} characters")
        if kind == "section":
            if len(text) > MAX_SECTION:
                problems.append(f"blocks[{i}]: section text of {len(text)} characters")
            if len(block.get("fields", [])) > MAX_FIELDS:
                problems.append(f"blocks[{i}]: more than {MAX_FIELDS} fields")
        if kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"blocks[{i}]: context with {len(elements)} elements")
            for element in elements:
                if len(element.get("text", "")) > MAX_CONTEXT_ELEMENT:
                    problems.append(f"blocks[{i}]: context element too long")
    if not payload.get("text"):
        problems.append("no fallback text")
    return problems
