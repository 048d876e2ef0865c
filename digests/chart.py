"""The digest's chart: reports per system per week over the last 8 weeks, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global figure
state), so it is safe in a server and in threads.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before anything could import pyplot: never a GUI backend in the bot

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from digests.model import WeeklyDigest  # noqa: E402

MAX_SERIES = 7
"""Systems drawn on their own; the rest are stacked together as "other systems"."""
COLOURS = ["#1264a3", "#e01e5a", "#2eb67d", "#ecb22e", "#36c5f0", "#8e44ad", "#e67e22", "#95a5a6"]


def render_chart(
    digest: WeeklyDigest, *, width: float = 8.0, height: float = 3.2, dpi: int = 100
) -> bytes:
    """PNG bytes: one stacked bar per week, one colour per system."""
    weeks = [p.week[-3:] for p in digest.series]
    totals: dict[str, int] = {}
    for point in digest.series:
        for system_id, count in point.reports_by_system.items():
            totals[system_id] = totals.get(system_id, 0) + count
    ranked = [s for s, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])) if n]
    shown, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bottom = [0] * len(weeks)
    layers = [
        (digest.system_name(s), [p.reports_by_system.get(s, 0) for p in digest.series])
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
