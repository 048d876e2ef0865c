"""The digest as one self-contained HTML page (inline style, chart embedded), for e-mail."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from html import escape

from bot.core.card_markdown import plain
from digests.lines import next_step_line, version_rate
from digests.links import card_link
from digests.model import Breakdown, Response, WeeklyDigest
from digests.render_markdown import MAX_VERSIONS, footer, loop_closure_line, subtitle, title
from digests.surges import surge_line
from digests.text import change, duration, join_names, relative, signed, trend

STYLE = """
body{font:15px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1d1c1d;
max-width:860px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.sub,.foot{color:#616061;font-size:13px}.lead{font-size:16px;margin:12px 0}
table{border-collapse:collapse;margin:4px 0 8px}
th,td{padding:4px 10px;border-bottom:1px solid #e8e8e8;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.critical{color:#b42318;font-weight:600}.high{color:#b54708}
ol li{margin:2px 0}img{max-width:100%}.step{color:#1264a3;font-size:14px}
.alert{color:#b42318;font-weight:600;padding-left:20px}
"""


def e(value: object) -> str:
    """`value` as HTML text or attribute value, without the bidi controls that would reorder
    the rest of its line."""
    return escape(plain(str(value)), quote=True)


def href(link: str | None) -> str | None:
    """An escaped link the page may carry: http(s) only, whoever built it."""
    if not link or not re.match(r"https?://[^\s]+$", link, re.IGNORECASE):
        return None
    return e(link)


def render_html(
    digest: WeeklyDigest, *, chart_png: bytes | None = None, permalink_base: str | None = None
) -> str:
    """A complete HTML document; every value from the database is escaped."""
    if digest.quiet:
        return _page(digest, f"<p>{e(digest.headline)}</p>")
    parts = [
        f"<h1>{e(title(digest))}</h1>",
        f'<p class="sub">{e(subtitle(digest))}</p>',
        f'<p class="lead">{e(digest.headline)}</p>',
    ]
    if digest.priorities:
        items = "".join(
            f"<li><strong>{e(p.system_name)} · {e(p.category_label)}</strong>: {e(p.reason)}"
            + (f'<br><span class="step">{e(next_step_line(p))}</span>' if next_step_line(p) else "")
            + "</li>"
            for p in digest.priorities
        )
        parts += ["<h2>Suggested priorities</h2>", f"<ol>{items}</ol>"]
    parts += _backlog(digest)
    if chart_png:
        data = base64.b64encode(chart_png).decode("ascii")
        parts.append(
            f'<img alt="Reports per system, last 8 weeks" src="data:image/png;base64,{data}">'
        )
    parts += _themes(digest)
    if digest.top_cases:
        rows = []
        for c in digest.top_cases:
            link = href(card_link(c.slack_card_channel, c.slack_card_ts, permalink_base))
            case = f'<a href="{link}">#{c.case_id}</a>' if link else f"#{c.case_id}"
            rows.append(
                [
                    (str(c.rank), True),
                    (case, False),
                    (e(c.system_name), False),
                    (e(c.category_label), False),
                    (f'<span class="{e(c.severity.value)}">{e(c.severity.value)}</span>', False),
                    (f"{c.reports} of {c.total_reports}", True),
                    (e(c.status.value.replace("_", " ")), False),
                ]
            )
        parts += [
            "<h2>Top cases</h2>",
            _table(
                ["#", "Case", "System", "Category", "Severity", "Reports this week", "Status"],
                rows,
                numeric={0, 5},
            ),
        ]
    parts += _versions(digest)
    if digest.surges:
        items = "".join(f"<li>{e(surge_line(s, digest))}</li>" for s in digest.surges)
        parts += ["<h2>Surges</h2>", f"<ul>{items}</ul>"]
    parts += _breakdown("Reports by system", "System", digest.by_system)
    if digest.movers:
        items = "".join(
            f"<li>{e(m.label)}: {m.previous} → {m.current} "
            f"({signed(m.delta)}, {relative(m.current, m.previous)})</li>"
            for m in digest.movers
        )
        parts += ["<h2>Categories that moved most</h2>", f"<ul>{items}</ul>"]
    parts += _breakdown("Reports by category", "Category", digest.by_category)
    parts += _breakdown("Reports by severity", "Severity", digest.by_severity)
    parts += [
        "<h2>Last 8 weeks</h2>",
        _table(
            ["Week", *(p.week[-3:] for p in digest.series)],
            [
                [("Reports", False), *((str(p.reports), True) for p in digest.series)],
                [("Cases", False), *((str(p.cases), True) for p in digest.series)],
            ],
            numeric=set(range(1, len(digest.series) + 1)),
        ),
    ]
    parts += _responses("Owner response by system", "System", digest.response_by_system)
    parts += _responses("Owner response by owner", "Owner", digest.response_by_owner)
    parts += [
        "<h2>Loop closure</h2>",
        f"<p>{e(loop_closure_line(digest))}</p>",
        f'<p class="foot">{e(footer(digest))}</p>',
    ]
    return _page(digest, "\n".join(parts))


def _backlog(digest: WeeklyDigest) -> list[str]:
    backlog = digest.backlog
    return [
        f"<h2>Open backlog {'now' if digest.so_far else 'at week end'}</h2>",
        _table(
            ["", "&lt; 1 day", "1–7 days", "&gt; 7 days", "Open"],
            [
                [
                    (f"<strong>{e(r.name)}</strong>" if r is backlog.total else e(r.name), False),
                    (str(r.under_1d), True),
                    (str(r.from_1d_to_7d), True),
                    (str(r.over_7d), True),
                    (str(r.total), True),
                ]
                for r in [backlog.total, *backlog.by_system]
            ],
            numeric={1, 2, 3, 4},
            escape_head=False,
        ),
    ]


def _themes(digest: WeeklyDigest) -> list[str]:
    if not digest.themes:
        return []
    rows = [
        [
            (e(t.label), False),
            (str(t.reports), True),
            (str(t.cases), True),
            (e(trend(t.change)), False),
            (e(join_names([digest.system_name(s) for s in t.systems])), False),
            (e(" ".join(f"#{n}" for n in t.case_numbers)), False),
        ]
        for t in digest.themes
    ]
    head = ["Theme", "Reports", "Cases", "Last week", "Systems", "Top cases"]
    return ["<h2>Recurring themes</h2>", _table(head, rows, numeric={1, 2})]


def _versions(digest: WeeklyDigest) -> list[str]:
    if not digest.versions:
        return []
    called = "".join(f"<li>⚠ {e(v.regression)}</li>" for v in digest.versions if v.regression)
    rows = [
        [
            (e(digest.system_name(v.system_id)), False),
            (e(v.prompt_version or "—"), False),
            (e(v.model or "—"), False),
            (str(v.reports), True),
            (str(v.previous), True),
            (e(" ".join(str(n) for n in v.series)), False),
            (e(version_rate(v)), False),
        ]
        for v in digest.versions[:MAX_VERSIONS]
    ]
    head = ["System", "Prompt", "Model", "This week", "Last week", "8 weeks", "Rate"]
    return [
        "<h2>Prompt versions and models</h2>",
        *([f'<ul class="alert">{called}</ul>'] if called else []),
        _table(head, rows, numeric={3, 4}),
    ]


def _page(digest: WeeklyDigest, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title(digest))}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[tuple[str, bool]]],
    *,
    numeric: set[int],
    escape_head: bool = True,
) -> str:
    """Cells arrive as (html, is_number); head cells are escaped unless told otherwise."""
    th = "".join(
        f"<th{' class=n' if i in numeric else ''}>{e(h) if escape_head else h}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if number else ''}>{cell}</td>" for cell, number in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _breakdown(heading: str, column: str, rows: list[Breakdown]) -> list[str]:
    if not rows:
        return []
    return [
        f"<h2>{e(heading)}</h2>",
        _table(
            [column, "Reports", "vs last week", "Cases", "vs last week"],
            [
                [
                    (e(r.label), False),
                    (str(r.reports.current), True),
                    (e(change(r.reports)), False),
                    (str(r.cases.current), True),
                    (e(change(r.cases)), False),
                ]
                for r in rows
            ],
            numeric={1, 3},
        ),
    ]


def _responses(heading: str, column: str, rows: list[Response]) -> list[str]:
    if not rows:
        return []
    return [
        f"<h2>{e(heading)}</h2>",
        _table(
            [column, "Acknowledged", "median", "p90", "Closed", "median", "p90", "SLA breaches"],
            [
                [
                    (e(r.name), False),
                    (str(r.acknowledged), True),
                    (duration(r.acknowledge_median_seconds), True),
                    (duration(r.acknowledge_p90_seconds), True),
                    (str(r.resolved), True),
                    (duration(r.resolve_median_seconds), True),
                    (duration(r.resolve_p90_seconds), True),
                    (str(r.sla_breaches), True),
                ]
                for r in rows
            ],
            numeric={1, 2, 3, 4, 5, 6, 7},
        ),
    ]
