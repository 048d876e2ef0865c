"""`python -m bench.honest`: parse, run each store `--runs` times, print ranges. Exits 0."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any

from bench.hog import cpu_hog, load_average
from bench.honest.outside import Outside
from bench.honest.phases import Sizes, plans, run_app
from bench.honest.process import app_process
from bench.honest.report import APPS, Run, render, targets
from bench.ingest.targets import Databases

POSTGRES_ENV = "LOOPKEEPER_TEST_POSTGRES_URL"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.honest",
        description="loopkeeper's POST /slack/events beside the floor of its own stack (aiohttp, "
        "signature check, json.loads, one INSERT) and bare bolt; flags until their cards are "
        "posted; SQL statements and commits per flag. The load generator, the fake Slack and "
        "the app each run in a process of their own. Exits 0 whatever the figures.",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_ENV),
        help=f"also run on PostgreSQL: a postgresql+asyncpg:// URL of a server where throwaway "
        f"databases may be made (default: ${POSTGRES_ENV}, if set)",
    )
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="one store only")
    parser.add_argument("--runs", type=int, default=1, help="runs per store (1)")
    parser.add_argument("--hog", action="store_true", help="keep one core busy the whole time")
    parser.add_argument("--ack-events", type=int, default=1000, help="open-loop events (1000)")
    parser.add_argument("--ack-rate", type=float, default=200.0, help="events/s (200)")
    parser.add_argument("--burst", type=int, default=1000, help="flags in the burst (1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="burst in flight (32)")
    parser.add_argument("--card-flags", type=int, default=500, help="open-loop flags (500)")
    parser.add_argument("--card-rate", type=float, default=100.0, help="flags/s (100)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed events per app (50)")
    parser.add_argument("--json", action="store_true", help="also print every run as JSON")
    args = parser.parse_args(argv)
    if min(args.runs, args.ack_events, args.burst, args.concurrency, args.card_flags) < 1:
        parser.error("--runs, --ack-events, --burst, --concurrency, --card-flags: at least 1")
    if args.ack_rate <= 0 or args.card_rate <= 0 or args.warmup < 0:
        parser.error("--ack-rate and --card-rate must be positive, --warmup >= 0")
    if args.only == "postgres" and not args.postgres:
        parser.error(f"--only postgres needs --postgres URL or ${POSTGRES_ENV}")
    return args


def _say(message: str) -> None:
    print(f"[bench.honest] {message}", file=sys.stderr, flush=True)


async def one_run(store_url: str | None, sizes: Sizes, label: str) -> tuple[Run, list[str]]:
    """Every app once against one store; its figures, and the load before and after each."""
    databases = Databases(store_url)
    outside = Outside()
    all_plans = plans(sizes)
    run: Run = {}
    loads: list[str] = []
    try:
        slack_url = await outside.slack.call("start")
        for plan in all_plans.values():
            if plan.events:
                await outside.slack.call("seed", plan)
        for kind in APPS:
            database_url = await databases.fresh(f"{kind}-{label}")
            before = load_average()
            _say(f"{label} {kind}: load {before}")
            async with app_process(kind, database_url, slack_url) as app:
                run[kind] = await run_app(kind, app, outside, all_plans, sizes)
            loads.append(f"{kind}: load {before} before, {load_average()} after")
    finally:
        await outside.stop()
        await databases.cleanup()
    return run, loads


async def run(args: argparse.Namespace) -> list[str]:
    sizes = Sizes(
        args.ack_events, args.ack_rate, args.burst, args.concurrency,
        args.card_flags, args.card_rate, args.warmup,
    )  # fmt: skip
    stores: list[tuple[str, str | None]] = []
    if args.only in (None, "sqlite"):
        stores.append(("SQLite", None))
    if args.only in (None, "postgres") and args.postgres:
        stores.append(("PostgreSQL", args.postgres))
    lines: list[str] = []
    with cpu_hog(args.hog) as hog:
        for store, url in stores:
            runs: list[Run] = []
            header = [
                f"CPU hog: {hog}",
                f"ack: {sizes.ack_events} events at {sizes.ack_rate:g}/s; burst: {sizes.burst} "
                f"distinct flags, {sizes.concurrency} in flight; cards: {sizes.card_flags} "
                f"flags at {sizes.card_rate:g}/s; {sizes.warmup} warm-up events per app",
            ]
            for n in range(args.runs):
                figures, loads = await one_run(url, sizes, f"run{n + 1}")
                runs.append(figures)
                header += [f"run {n + 1}, {line}" for line in loads]
                if args.json:
                    print(json.dumps({"store": store, "run": n + 1, "figures": figures}))
            lines += render(store, runs, header)
            lines += targets(store, runs, sizes.ack_rate, sizes.card_rate) + [""]
    return lines


def print_lines(benchmark: Coroutine[Any, Any, list[str]]) -> None:
    """Run a benchmark's coroutine and print the lines it returns; Ctrl-C ends it quietly."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        lines = asyncio.run(benchmark)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    print_lines(run(parse_args(argv)))
