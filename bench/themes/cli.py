"""`python -m bench.themes`: time a week's themes at 20,000 reports and print the figures.

Each measurement runs in a fresh interpreter (bench/themes/measure.py), so its peak RSS is the
themes' own: imports, the model, both weeks' texts, the clustering. A measurement, not a test:
it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

TARGET_SECONDS = 10.0
TARGET_RSS_MB = 300.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.themes",
        description="Time a week's themes (and the week before, for the change) over synthetic "
        "reports, with the measuring process's peak RSS. Exits 0 whatever the figures.",
    )
    parser.add_argument("--reports", type=int, default=20_000, help="reports a week (20,000)")
    parser.add_argument(
        "--embedder",
        choices=["both", "model", "tf-idf"],
        default="both",
        help="the local model (wordllama), the TF-IDF fallback, or both (default)",
    )
    return parser.parse_args(argv)


def run(reports: int, embedder: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.themes.measure", str(reports), embedder],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def report(f: dict[str, Any]) -> None:
    print(f"== {f['embedder']}: {f['reports']:,} reports this week, {f['previous_reports']:,} last")
    print(f"  distinct comments {f['distinct_texts']:,}")
    print(f"  model load        {f['load_s']:.2f} s")
    print(f"  themes            {f['themes_s']:.2f} s (both weeks embedded, one clustered)")
    print(f"  total             {f['total_s']:.2f} s")
    print(f"  peak RSS          {f['vm_hwm_mb']:.0f} MB (VmHWM of the measuring process)")
    for theme in f["themes"][:5]:
        print(
            f"    {theme['cases']:>5} cases {theme['reports']:>5} reports "
            f"(last week {theme['previous']:>5})  {theme['label']}"
        )
    ok_time = f["total_s"] < TARGET_SECONDS
    ok_rss = f["vm_hwm_mb"] < TARGET_RSS_MB
    print(f"  {'✓' if ok_time else '✗'} under {TARGET_SECONDS:g} s: {f['total_s']:.2f} s")
    print(
        f"  {'✓' if ok_rss else '✗'} peak RSS under {TARGET_RSS_MB:g} MB: {f['vm_hwm_mb']:.0f} MB"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    chosen = ["model", "tf-idf"] if args.embedder == "both" else [args.embedder]
    for embedder in chosen:
        report(run(args.reports, embedder))
