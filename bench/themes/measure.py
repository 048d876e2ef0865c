"""The timed part, in a fresh process so its peak RSS is the themes' alone. Prints one JSON object.

The clock runs from before the model is loaded to the themes found: what the digest pays."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from bench.themes.data import NOW, week_of_reports
from digests.model import Theme
from digests.themes.model import ThemeInput


def weeks(reports: int) -> tuple[list[ThemeInput], list[ThemeInput]]:
    return (
        week_of_reports(reports, seed=1),
        week_of_reports(reports, seed=2, first_case=10_000_000),
    )


def measure_sqlite(path: str) -> dict[str, Any]:
    """`themes_for_week` as the digest calls it: both weeks read through storage/theme_texts."""
    started = time.perf_counter()
    from digests.themes.section import themes_for_week
    from digests.week import IsoWeek
    from storage.database import create_engine
    from storage.theme_texts import SqlThemeTexts

    async def run() -> list[Theme]:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            source = SqlThemeTexts(engine, include_output=True)
            return await themes_for_week(source, IsoWeek(2026, 7), None, tz="UTC", now=NOW)
        finally:
            await engine.dispose()

    themes = asyncio.run(run())
    done = time.perf_counter()
    return {
        "total_s": done - started,
        "vm_hwm_mb": _vm_hwm_mb(),
        "themes": [_theme(t) for t in themes],
    }


def _theme(t: Theme) -> dict[str, Any]:
    return {"label": t.label, "cases": t.cases, "reports": t.reports, "previous": t.change.previous}


def measure(reports: int, fallback: bool) -> dict[str, Any]:
    current, previous = weeks(reports)
    started = time.perf_counter()
    from digests.themes.embed_tfidf import TfidfEmbedder
    from digests.themes.embedder import load_embedder
    from digests.themes.engine import find_themes

    embedder = TfidfEmbedder() if fallback else load_embedder()
    loaded = time.perf_counter()
    themes = find_themes(current, previous, embedder)
    done = time.perf_counter()
    return {
        "embedder": embedder.name,
        "reports": len(current),
        "previous_reports": len(previous),
        "distinct_texts": len({(r.comment, r.expected) for r in current}),
        "load_s": loaded - started,
        "themes_s": done - loaded,
        "total_s": done - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mb": _vm_hwm_mb(),
        "themes": [
            {
                "label": t.label,
                "cases": t.cases,
                "reports": t.reports,
                "previous": t.change.previous,
            }
            for t in themes
        ],
    }


def _vm_hwm_mb() -> float:
    """This process's own peak RSS (Linux VmHWM)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


if __name__ == "__main__":
    if sys.argv[1] == "sqlite":
        print(json.dumps(measure_sqlite(sys.argv[2])))
    else:
        print(json.dumps(measure(int(sys.argv[1]), sys.argv[2] == "tf-idf")))
