"""`python -m bench.escalation`: run the phases, print the figures. A measurement: exits 0."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bench.escalation.cards import CardRun, run_cards
from bench.escalation.databases import DEFAULT_POSTGRES_URL, Databases, postgres_reachable
from bench.escalation.report import render_cards, render_timers
from bench.escalation.stats import Profiler
from bench.escalation.timers import TimerRun, run_timers
from bench.hog import cpu_hog, load_average


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.escalation",
        description="(1) flag → card latency through the real runtime against a fake Slack; "
        "(2) two timer workers racing over 10,000 due escalation timers. Exits 0 whatever "
        "the figures.",
    )
    parser.add_argument(
        "--database-url",
        help="the backend for both phases: `sqlite` or a sqlite URL gives fresh SQLite files in a "
        "temporary directory; a postgresql+asyncpg:// URL gives a throwaway database per phase "
        "on that server, dropped at the end. Default: SQLite for (1), and for (2) PostgreSQL "
        f"at {DEFAULT_POSTGRES_URL} when reachable, else SQLite",
    )
    parser.add_argument("--flags", type=int, default=1000, help="timed flags in (1) (1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop flags/s (100)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed flags first (20)")
    parser.add_argument("--timers", type=int, default=10_000, help="due timers in (2) (10000)")
    parser.add_argument("--workers", type=int, default=2, help="racing timer workers (2)")
    parser.add_argument(
        "--tick",
        type=float,
        help="Settings.tick_seconds for (1) (default: the Settings default)",
    )
    parser.add_argument(
        "--card-timeout", type=float, default=120.0, help="seconds to wait for cards (120)"
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="run the fake Slack and the event sender in the bot's event loop, not a child",
    )
    parser.add_argument(
        "--only", choices=("cards", "timers"), help="run one phase only (default: both)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the bot's side of each measured phase and print the top functions",
    )
    parser.add_argument("--profile-out", help="also dump the cProfile stats to this prefix")
    parser.add_argument(
        "--hog", action="store_true", help="keep one core busy the whole time (bench.hog)"
    )
    args = parser.parse_args(argv)
    if args.flags < 1 or args.rate <= 0 or args.timers < 1 or args.workers < 1:
        parser.error("--flags, --rate, --timers and --workers must be positive")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


async def run(args: argparse.Namespace) -> list[str]:
    databases = Databases()
    lines = ["loopkeeper escalation benchmark", ""]
    profiles: list[Profiler] = []

    def profiler(phase: str) -> Profiler | None:
        if not args.profile:
            return None
        out = f"{args.profile_out}-{phase}.prof" if args.profile_out else None
        profiles.append(Profiler(phase, out))
        return profiles[-1]

    try:
        if args.only in (None, "cards"):
            database = await databases.fresh(args.database_url, "cards")
            cards: CardRun = await run_cards(
                database,
                flags=args.flags,
                rate=args.rate,
                warmup=args.warmup,
                tick_seconds=args.tick,
                inline=args.inline,
                card_deadline=args.card_timeout,
                profiler=profiler("cards"),
            )
            lines += render_cards(cards) + [""]
        if args.only in (None, "timers"):
            base = args.database_url
            if base is None and await postgres_reachable(DEFAULT_POSTGRES_URL):
                base = DEFAULT_POSTGRES_URL
            database = await databases.fresh(base, "timers")
            note = None
            if args.database_url is None and base is None:
                note = f"PostgreSQL at {DEFAULT_POSTGRES_URL} unreachable"
            timers: TimerRun = await run_timers(
                database, timers=args.timers, workers=args.workers, profiler=profiler("timers")
            )
            lines += render_timers(timers, note) + [""]
    finally:
        await databases.cleanup()
    for profile in profiles:
        lines += [f"--- cProfile of phase '{profile.phase}' (bot side) ---", profile.report()]
    return lines


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    before = load_average()
    try:
        with cpu_hog(args.hog) as hog:
            lines = asyncio.run(run(args))
        lines.append(f"CPU hog: {hog}; load {before} before, {load_average()} after")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(0)
    except Exception as error:  # a measurement reports its failure, it does not fail
        logging.exception("the benchmark failed")
        print(f"benchmark failed: {error!r}")
        sys.exit(0)
    print("\n".join(lines))
    sys.exit(0)
