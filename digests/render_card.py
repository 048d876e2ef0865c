"""The digest as an Adaptive Card 1.5 for Teams: the Block Kit message's content, compact.

TextBlocks and FactSets render markdown in Teams, so every text put in one is made inert
(`bot.core.card_markdown.inert`: names come from routing.yaml, and nobody vetted them as markup);
TextRuns of a RichTextBlock are never parsed and are only shortened. Names are cut to
`name_chars`, so whoever posts the card can shrink it to Teams' size limit."""

from __future__ import annotations

from typing import Any

from bot.core.card_markdown import inert
from bot.core.limits import shortened
from digests.lines import (
    backlog_label,
    backlog_line,
    next_step_line,
    theme_line,
    version_name,
    version_rate,
)
from digests.links import card_link
from digests.model import WeeklyDigest
from digests.render_markdown import footer, loop_closure_line, title
from digests.surges import surge_detail
from digests.text import change, duration, join_names, plural, relative, trend

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_ROWS = 8
NAME_CHARS = 80
STEP_CHARS = 300
"""A next step, theme or version line is cut to this length."""

Element = dict[str, Any]


def _text(text: str, **style: Any) -> Element:
    """A TextBlock showing `text` (plain) as written."""
    return {"type": "TextBlock", "text": inert(text), "wrap": True, **style}


def _facts(rows: list[tuple[str, str]]) -> Element:
    if len(rows) > MAX_ROWS:
        rows = [*rows[: MAX_ROWS - 1], ("…", f"{len(rows) - MAX_ROWS + 1} more")]
    return {
        "type": "FactSet",
        "facts": [{"title": inert(t), "value": inert(v)} for t, v in rows],
    }


def _heading(text: str) -> Element:
    return _text(text, weight="Bolder", spacing="Medium", separator=True)


def _rich(*runs: Element) -> Element:
    """A RichTextBlock: its TextRuns are shown as given, never parsed as markdown."""
    return {"type": "RichTextBlock", "inlines": list(runs), "spacing": "Small"}


def _run(text: str, **style: Any) -> Element:
    return {"type": "TextRun", "text": text, **style}


def render_card(
    digest: WeeklyDigest,
    *,
    permalink_base: str | None = None,
    chart_url: str | None = None,
    note: str | None = None,
    name_chars: int = NAME_CHARS,
) -> dict[str, Any]:
    """An AdaptiveCard dict (send it as an attachment of contentType
    application/vnd.microsoft.card.adaptive). `chart_url` may be an https or data: URL."""

    def name(text: str) -> str:
        return shortened(text, name_chars)

    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "msteams": {"width": "Full"},
        "body": [],
    }
    body: list[Element] = card["body"]
    if digest.quiet:
        body.append(_text(digest.headline + (f" ({note})" if note else "")))
        return card
    t = digest.totals
    body += [
        _text(title(digest), size="Large", weight="Bolder", style="heading"),
        _text(
            f"{digest.week.label} ({digest.week.timezone}) · "
            f"{join_names([name(s.name) for s in digest.systems])}",
            isSubtle=True,
            spacing="None",
        ),
    ]
    if note:
        body.append(_text(note, weight="Bolder", color="Warning"))
    body.append(
        _facts(
            [
                ("Reports", f"{t.reports.current} ({trend(t.reports)})"),
                ("Cases", f"{t.cases.current}: {t.new_cases} new, {t.reopened_cases} reopened"),
                ("Reporters", str(t.reporters.current)),
                ("Closed", str(t.closed_cases)),
                ("SLA breaches", str(t.sla_breaches)),
            ]
        )
    )
    if chart_url:
        body.append(
            {
                "type": "Image",
                "url": chart_url,
                "altText": "Reports per system, last 8 weeks"
                + (", and the top recurring themes" if digest.themes else ""),
            }
        )
    if digest.priorities:
        body.append(_heading("Suggested priorities"))
        for p in digest.priorities:
            body.append(
                _rich(
                    _run(f"{p.rank}. "),
                    _run(f"{name(p.system_name)} · {name(p.category_label)}", weight="Bolder"),
                    _run(f": {p.reason}"),
                )
            )
            step = next_step_line(p)
            if step:
                body.append(_rich(_run(shortened(step, STEP_CHARS), isSubtle=True)))
    b = digest.backlog.total
    body += [_heading(backlog_label(digest)), _text(backlog_line(b), spacing="Small")]
    if digest.themes:
        body += [
            _heading("Recurring themes"),
            _facts(
                [
                    (name(t.label), shortened(theme_line(t, digest), STEP_CHARS))
                    for t in digest.themes
                ]
            ),
        ]
    if digest.top_cases:
        body.append(_heading("Top cases"))
        for c in digest.top_cases:
            link = card_link(c.slack_card_channel, c.slack_card_ts, permalink_base)
            case = _run(f"#{c.case_id}", weight="Bolder")
            if link:
                case |= {"color": "Accent", "selectAction": {"type": "Action.OpenUrl", "url": link}}
            body.append(
                _rich(
                    case,
                    _run(
                        f" {name(c.system_name)} · {name(c.category_label)} · {c.severity.value} · "
                        f"{plural(c.reports, 'report')} this week · "
                        f"{c.status.value.replace('_', ' ')}"
                    ),
                )
            )
    if any(v.reports or v.regression for v in digest.versions):
        body.append(_heading("Prompt versions and models"))
        body += [
            _text(f"⚠ {shortened(v.regression, STEP_CHARS)}", color="Warning", spacing="Small")
            for v in digest.versions
            if v.regression
        ]
        body.append(
            _facts(
                [
                    (
                        name(f"{digest.system_name(v.system_id)} {version_name(v)}"),
                        f"{v.reports} this week ({v.previous} last week), {version_rate(v)}",
                    )
                    for v in digest.versions
                    if v.reports
                ]
            )
        )
    if digest.surges:
        body += [
            _heading("Surges"),
            _facts(
                [(name(digest.system_name(s.system_id)), surge_detail(s)) for s in digest.surges]
            ),
        ]
    systems = [
        (name(r.label), f"{r.reports.current} ({change(r.reports)})")
        for r in digest.by_system
        if r.reports.current or r.reports.previous
    ]
    if systems:
        body += [_heading("Reports by system"), _facts(systems)]
    if digest.movers:
        body += [
            _heading("Moved most"),
            _facts(
                [
                    (
                        name(m.label),
                        f"{m.previous} → {m.current} ({relative(m.current, m.previous)})",
                    )
                    for m in digest.movers
                ]
            ),
        ]
    responses = [
        (
            name(r.name),
            f"ack {duration(r.acknowledge_median_seconds)} "
            f"(p90 {duration(r.acknowledge_p90_seconds)}) · closed "
            f"{duration(r.resolve_median_seconds)} (p90 {duration(r.resolve_p90_seconds)}) · "
            f"{plural(r.sla_breaches, 'SLA breach', 'SLA breaches')}",
        )
        for r in digest.response_by_system + digest.response_by_owner
    ]
    if responses:
        body += [_heading("Owner response (median)"), _facts(responses)]
    body += [
        _heading("Loop closure"),
        _text(loop_closure_line(digest), spacing="Small"),
        _text(footer(digest), isSubtle=True, size="Small", spacing="Medium"),
    ]
    return card
