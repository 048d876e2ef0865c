"""`python -m bench.digest`: load a year of feedback, time one week's digest, print figures.

Without --database-url it runs twice: on a throwaway PostgreSQL database (created on the server
named by --postgres-server, LOOPKEEPER_TEST_POSTGRES_URL or the local default, dropped at the
end) and on a SQLite file in a temporary directory. With --database-url it runs on that
database, which must be empty (or hold this benchmark's data, with --reuse).
A measurement, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench.digest.data import NOW, SPAN, TIMEZONE, WEEK, Spec
from bench.digest.load import PROPOSED_INDEXES, add_proposed_indexes
from bench.server import run_on_server
from storage.database import create_engine, redact_url
from storage.migrate import upgrade
from storage.tables import CaseRow, OutboxRow, ReportRow, TimelineRow

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TARGET_SECONDS = 2.0
TARGET_RATIO = 1.5
TARGET_RSS_MB = 300.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.digest",
        description="Time build_digest for one week over a large database, beside the bare "
        "SQL it needs, and its peak memory. Exits 0 whatever the figures.",
    )
    parser.add_argument("--reports", type=int, default=1_000_000, help="reports (1,000,000)")
    parser.add_argument("--cases", type=int, default=200_000, help="cases (200,000)")
    parser.add_argument(
        "--database-url",
        help="run on this database only (default: a throwaway PostgreSQL database, then SQLite)",
    )
    parser.add_argument(
        "--postgres-server",
        default=os.environ.get("LOOPKEEPER_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="server for the throwaway PostgreSQL database "
        "(default: $LOOPKEEPER_TEST_POSTGRES_URL or %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (5)")
    parser.add_argument(
        "--reuse", action="store_true", help="with --database-url: keep the data already there"
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the throwaway database")
    parser.add_argument(
        "--no-proposed-indexes",
        action="store_true",
        help="skip the second timing with the indexes proposed for the digest "
        f"({', '.join(name for name, _, _ in PROPOSED_INDEXES)})",
    )
    parser.add_argument(
        "--history-reports",
        type=int,
        default=0,
        help="then add this many older reports (in --history-cases closed cases, at the same "
        "weekly volume, before the generated year) and time the same week again: e.g. "
        "9,000,000 on top of the default 1,000,000 for 10 M reports of history",
    )
    parser.add_argument(
        "--history-cases", type=int, default=0, help="cases of the older history (reports / 5)"
    )
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    return parser.parse_args(argv)


def say(line: str) -> None:
    print(line, flush=True)


@dataclass
class Run:
    name: str
    url: str
    counts: dict[str, int]
    load_seconds: float
    figures: dict[str, Any]
    indexed: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    history_counts: dict[str, int] | None = None
    history_seconds: float = 0.0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    spec = Spec(reports=args.reports, cases=args.cases)
    runs: list[Run] = []
    if args.database_url:
        runs.append(bench_database(args.database_url, spec, args, reuse=args.reuse))
    else:
        runs.append(bench_throwaway_postgres(args.postgres_server, spec, args))
        with tempfile.TemporaryDirectory(prefix="loopkeeper-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'digest.db'}"
            runs.append(bench_database(url, spec, args, reuse=False))
    say("")
    for run in runs:
        render(run)
    if args.json:
        say(json.dumps([run.__dict__ for run in runs], indent=2, default=str))


def bench_throwaway_postgres(server: str, spec: Spec, args: argparse.Namespace) -> Run:
    name = f"loopkeeper_bench_{secrets.token_hex(4)}"
    admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        return bench_database(url, spec, args, reuse=False)
    finally:
        if args.keep:
            say(f"Kept {redact_url(url)}")
        else:
            admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(server: str, sql: str) -> None:
    asyncio.run(run_on_server(server, sql))


def bench_database(url: str, spec: Spec, args: argparse.Namespace, *, reuse: bool) -> Run:
    backend = make_url(url).get_backend_name()
    label = "PostgreSQL" if backend == "postgresql" else "SQLite"
    say(f"== {label}: {redact_url(url)}")
    upgrade(url)
    counts = asyncio.run(table_counts(url))
    load_seconds = 0.0
    if counts["cases"] and not reuse:
        raise SystemExit(f"{redact_url(url)} already holds cases: use an empty database")
    if not counts["cases"]:
        say(f"Loading {spec.reports:,} reports in {spec.cases:,} cases …")
        started = time.perf_counter()
        child("bench.digest.load", url, str(spec.reports), str(spec.cases))
        load_seconds = time.perf_counter() - started
        counts = asyncio.run(table_counts(url))
        say(f"Loaded in {load_seconds:.0f} s.")
    say(f"Timing the digest of {WEEK} ({args.repeat} runs) in a fresh process …")
    figures = measure(url, args.repeat)
    if backend == "postgresql":
        figures["server"] = asyncio.run(server_version(url))
    run = Run(label, url, counts, load_seconds, figures)
    if not args.no_proposed_indexes:
        say("Adding the proposed digest indexes, timing again …")
        asyncio.run(add_proposed_indexes(url))
        run.indexed = measure(url, args.repeat)
    if args.history_reports:
        cases = args.history_cases or max(args.history_reports // 5, 1)
        weekly = spec.reports / (SPAN / timedelta(weeks=1))
        say(f"Adding {args.history_reports:,} older reports in {cases:,} cases …")
        started = time.perf_counter()
        child("bench.digest.history", url, str(args.history_reports), str(cases), str(weekly))
        run.history_seconds = time.perf_counter() - started
        run.history_counts = asyncio.run(table_counts(url))
        say(f"Added in {run.history_seconds:.0f} s; timing the same week again …")
        run.history = measure(url, args.repeat)
    return run


def child(module: str, *arguments: str, capture: bool = False) -> str:
    """Run `python -m module …` from the project root (a process of its own)."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        check=True,
        capture_output=capture,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return completed.stdout or ""


def measure(url: str, repeat: int) -> dict[str, Any]:
    output = child("bench.digest.measure", url, str(repeat), capture=True)
    figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return figures


async def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                name: int(await connection.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in (
                    ("cases", CaseRow),
                    ("reports", ReportRow),
                    ("timeline", TimelineRow),
                    ("outbox", OutboxRow),
                )
            }
    finally:
        await engine.dispose()


async def server_version(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text("SHOW server_version")))
    finally:
        await engine.dispose()


def render(run: Run) -> None:
    version = f" {run.figures['server']}" if "server" in run.figures else ""
    c = run.counts
    say(
        f"{run.name}{version}: {c['reports']:,} reports, {c['cases']:,} cases, "
        f"{c['timeline']:,} timeline entries, {c['outbox']:,} outbox rows"
    )
    f = run.figures
    say(
        f"  week {f['week']} ({TIMEZONE}, as of {NOW:%Y-%m-%d %H:%M} UTC): "
        f"{f['week_reports']:,} reports on {f['week_cases']:,} cases"
    )
    say("  -- indexes as migrated --")
    render_figures(run.name, run.figures)
    if run.indexed:
        say(f"  -- with the proposed indexes ({', '.join(n for n, _, _ in PROPOSED_INDEXES)}) --")
        render_figures(run.name, run.indexed)
    if run.history and run.history_counts:
        c = run.history_counts
        say(
            f"  -- with older history: {c['reports']:,} reports, {c['cases']:,} cases, "
            f"{c['timeline']:,} timeline entries (same week, same weekly volume) --"
        )
        render_figures(run.name, run.history)
    if run.load_seconds:
        say(f"  (data loaded in {run.load_seconds:.0f} s)")
    if run.history_seconds:
        say(f"  (older history added in {run.history_seconds:.0f} s)")
    say("")


def render_figures(name: str, f: dict[str, Any]) -> None:
    build, bare = statistics.median(f["build_s"]), statistics.median(f["bare_s"])
    ratio = build / bare if bare else float("inf")
    rss = f["peak_rss_mb"]
    say(
        f"  build_digest   median {build:.3f} s  (min {min(f['build_s']):.3f}, "
        f"cold first run {f['cold_build_s']:.3f}, {len(f['build_s'])} runs)"
    )
    say(f"  bare SQL       median {bare:.3f} s  (min {min(f['bare_s']):.3f})")
    say(
        "    per query: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in f["bare_query_median_s"].items())
    )
    say(
        f"  peak RSS       {rss:.0f} MB (ru_maxrss of the measuring process; "
        f"VmHWM {f['vm_hwm_mb']:.0f} MB)"
    )
    if name == "PostgreSQL":
        target = f"under {TARGET_SECONDS:g} s on PostgreSQL"
        verdict(build < TARGET_SECONDS, target, f"{build:.3f} s")
    else:
        say(f"  (the {TARGET_SECONDS:g} s target is PostgreSQL's; SQLite: {build:.3f} s)")
    verdict(ratio <= TARGET_RATIO, f"within {TARGET_RATIO:g}× of the bare SQL", f"{ratio:.2f}×")
    verdict(rss < TARGET_RSS_MB, f"peak RSS under {TARGET_RSS_MB:g} MB", f"{rss:.0f} MB")


def verdict(ok: bool, target: str, value: str) -> None:
    say(f"  {'PASS  ' if ok else 'MISSED'} {target}: {value}")
