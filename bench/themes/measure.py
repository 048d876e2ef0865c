"""The timed part, in a fresh process so its peak RSS is the themes' alone. Prints one JSON object.

The clock runs from before the model is loaded to the themes found: what the digest pays."""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from bench.themes.data import week_of_reports


def measure(reports: int, fallback: bool) -> dict[str, Any]:
    current = week_of_reports(reports, seed=1)
    previous = week_of_reports(reports, seed=2, first_case=10_000_000)
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
    print(json.dumps(measure(int(sys.argv[1]), sys.argv[2] == "tf-idf")))
