"""`python -m bench.surge`: parse, run the phases `--runs` times, print ranges. Exits 0."""

from __future__ import annotations

import argparse
import json
import sys

from bench.hog import cpu_hog, load_average
from bench.honest.cli import print_lines
from bench.ingest.targets import Databases
from bench.surge.phases import PHASES, Sizes, run_phase
from bench.surge.report import Run, render


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.surge",
        description="Many people flag many different outputs of one system at once. The app runs "
        "in its own process with pacing on (the production default) against a fake Slack that "
        "answers each call in 50-150 ms and enforces Slack's limits with 429 and Retry-After. "
        "Phases: surge (routing.yaml with a surge: section), baseline (the same flags without "
        "it), pacing (many cards for one triage channel at once). Exits 0 whatever the figures.",
    )
    parser.add_argument("--flags", type=int, default=200, help="flags in surge/baseline (200)")
    parser.add_argument(
        "--spread", type=float, default=120.0, help="seconds the flags are sent over (120)"
    )
    parser.add_argument(
        "--surge-cases", type=int, default=20, help="surge.cases: more than this opens one (20)"
    )
    parser.add_argument("--cards", type=int, default=100, help="flags at once in pacing (100)")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, of {', '.join(PHASES)} (all)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL instead of SQLite: a postgresql+asyncpg:// URL of a server "
        "where throwaway databases may be made",
    )
    parser.add_argument("--runs", type=int, default=1, help="runs (1)")
    parser.add_argument("--hog", action="store_true", help="keep one core busy the whole time")
    parser.add_argument("--json", action="store_true", help="also print every run as JSON")
    args = parser.parse_args(argv)
    args.phase_list = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not args.phase_list or any(p not in PHASES for p in args.phase_list):
        parser.error(f"--phases: some of {', '.join(PHASES)}")
    if min(args.flags, args.cards, args.runs, args.surge_cases) < 1 or args.spread <= 0:
        parser.error("--flags, --cards, --runs, --surge-cases: at least 1; --spread above 0")
    return args


def _say(message: str) -> None:
    print(f"[bench.surge] {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> list[str]:
    sizes = Sizes(args.flags, args.spread, args.surge_cases, args.cards)
    runs: list[Run] = []
    with cpu_hog(args.hog) as hog:
        header = [
            f"CPU hog: {hog}; store: {'PostgreSQL' if args.postgres else 'SQLite'}",
            f"surge/baseline: {sizes.flags} flags on {sizes.flags} outputs of one system, sent "
            f"evenly over {sizes.spread_s:g} s; surge: more than {sizes.surge_cases} new cases "
            f"within 10m; pacing: {sizes.pacing_cards}"
            " flags at once",
        ]
        for n in range(args.runs):
            databases = Databases(args.postgres)
            figures: Run = {}
            try:
                for phase in args.phase_list:
                    before = load_average()
                    _say(f"run {n + 1} {phase}: load {before}")
                    figures[phase] = await run_phase(phase, sizes, databases, f"run{n + 1}")
                    header.append(
                        f"run {n + 1}, {phase}: load {before} before, {load_average()} after"
                    )
            finally:
                await databases.cleanup()
            runs.append(figures)
            if args.json:
                print(json.dumps({"run": n + 1, "figures": figures}))
    return render(runs, header)


def main(argv: list[str] | None = None) -> None:
    print_lines(run(parse_args(argv)))
