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
import tempfile
from pathlib import Path
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
    parser.add_argument(
        "--no-sqlite",
        action="store_true",
        help="skip the run through a SQLite database and storage/theme_texts",
    )
    return parser.parse_args(argv)


def run(*arguments: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.themes.measure", *arguments],
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
    verdicts(f)


def verdicts(f: dict[str, Any]) -> None:
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
        report(run(str(args.reports), embedder))
    if not args.no_sqlite:
        report_sqlite(args.reports)


def report_sqlite(reports: int) -> None:
    from bench.themes.data import week_of_reports
    from bench.themes.load import load_sqlite

    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "themes.db")
        current = week_of_reports(reports, seed=1)
        load_sqlite(path, [current, week_of_reports(reports, seed=2, first_case=10_000_000)])
        f = run("sqlite", path)
    print("== through SQLite: themes_for_week, both weeks read by storage/theme_texts")
    print(f"  total             {f['total_s']:.2f} s (imports, reading, model, themes)")
    print(f"  peak RSS          {f['vm_hwm_mb']:.0f} MB")
    for theme in f["themes"][:3]:
        print(f"    {theme['cases']:>5} cases {theme['reports']:>5} reports  {theme['label']}")
    verdicts(f)
