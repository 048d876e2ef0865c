"""The digest's chart: reports per system per week over the last 8 weeks, and beside it the
week's top recurring themes against last week, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global figure
state), so it is safe in a server and in threads.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before anything could import pyplot: never a GUI backend in the bot

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.core.limits import ELLIPSIS  # noqa: E402
from digests.model import WeeklyDigest  # noqa: E402

MAX_SERIES = 7
"""Systems drawn on their own; the rest are stacked together as "other systems"."""
COLOURS = ["#1264a3", "#e01e5a", "#2eb67d", "#ecb22e", "#36c5f0", "#8e44ad", "#e67e22", "#95a5a6"]
LABEL_CHARS = 32
"""Names and theme labels are cut to this length so the legend never squeezes the bars."""
MAX_THEMES = 5


def _label(text: str, limit: int = LABEL_CHARS) -> str:
    """User text as a plain label, and `$` escaped so matplotlib does not read what sits
    between two of them as mathtext (which can fail to parse). A long one loses its middle:
    names that differ only at the end stay apart."""
    text = " ".join(text.split())
    if len(text) > limit:
        head = (limit - 1) // 2
        text = text[:head] + ELLIPSIS + text[-(limit - 1 - head) :]
    return text.replace("$", r"\$")


def render_chart(
    digest: WeeklyDigest, *, width: float = 8.0, height: float = 3.2, dpi: int = 100
) -> bytes:
    """PNG bytes: one stacked bar per week, one colour per system; under it, when the week has
    recurring themes, its top themes' reports this week and last week."""
    themes = digest.themes[:MAX_THEMES]
    panel = 0.55 * len(themes) + 0.8 if themes else 0.0
    weeks = [p.week[-3:] for p in digest.series]
    totals: dict[str, int] = {}
    for point in digest.series:
        for system_id, count in point.reports_by_system.items():
            totals[system_id] = totals.get(system_id, 0) + count
    ranked = [s for s, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])) if n]
    shown, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]

    figure = Figure(figsize=(width, height + panel), dpi=dpi)
    FigureCanvasAgg(figure)
    if themes:
        axes, theme_axes = figure.subplots(2, 1, height_ratios=[height, panel])
        _themes_panel(theme_axes, digest)
    else:
        axes = figure.add_subplot()
    bottom = [0] * len(weeks)
    layers = [
        (_label(digest.system_name(s)), [p.reports_by_system.get(s, 0) for p in digest.series])
        for s in shown
    ]
    if rest:
        layers.append(
            (
                f"{len(rest)} other systems",
                [sum(p.reports_by_system.get(s, 0) for s in rest) for p in digest.series],
            )
        )
    for (name, values), colour in zip(layers, COLOURS, strict=False):
        axes.bar(weeks, values, bottom=bottom, label=name, color=colour, width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if not layers:
        axes.text(
            0.5, 0.5, "No reports in these 8 weeks", ha="center", va="center",
            transform=axes.transAxes, color="#616061",
        )  # fmt: skip
    marks = (" (so far)" if digest.so_far else "") + (" · DEMO DATA" if digest.demo else "")
    axes.set_title(
        f"Reports per week by system · {digest.week.iso}{marks}", fontsize=11, loc="left"
    )
    axes.set_ylabel("reports")
    axes.spines[["top", "right"]].set_visible(False)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if layers:
        axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _themes_panel(axes: Axes, digest: WeeklyDigest) -> None:
    """One row per theme, biggest on top: its label over two bars, this week's reports and
    last week's, each with its number. Labels sit above the bars, not left of them, so long
    ones take no width from the weekly bars above."""
    themes = digest.themes[:MAX_THEMES]
    top = len(themes) - 1
    most = max(max(t.change.current, t.change.previous) for t in themes) or 1
    for index, theme in enumerate(themes):
        row = top - index
        now, before = theme.change.current, theme.change.previous
        axes.barh(
            row, now, height=0.28, color=COLOURS[0], label="this week" if index == 0 else None
        )
        axes.barh(row - 0.3, before, height=0.28, color="#c7c7c7",
                  label="last week" if index == 0 else None)  # fmt: skip
        axes.text(0, row + 0.2, _label(theme.label, LABEL_CHARS * 2), fontsize=8, va="bottom")
        for y, value in ((row, now), (row - 0.3, before)):
            axes.text(value + most * 0.01, y, str(value), fontsize=7, va="center", color="#616061")
    axes.set_ylim(-0.6, top + 0.65)
    axes.set_xlim(0, most * 1.1)
    axes.set_yticks([])
    axes.set_title("Top recurring themes · reports this week and last", fontsize=11, loc="left")
    axes.spines[["top", "right", "left"]].set_visible(False)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
