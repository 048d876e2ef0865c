"""`python -m bench.ingest`: run the phases, print the figures. A measurement: always exits 0."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator

from bench.hog import cpu_hog, load_average
from bench.ingest.driver import Driver, Outside, RemoteDriver
from bench.ingest.events import Plan, make_plan
from bench.ingest.load import LoadResult
from bench.ingest.report import AppRun, Outcome, Storage, render
from bench.ingest.targets import (
    Databases,
    Loopkeeper,
    bare_bolt,
    bolt_with_lookups,
    loopkeeper,
)

DRAIN_TIMEOUT = 120.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Ack latency and throughput of loopkeeper's POST /slack/events against a "
        "bare slack_bolt app, on reaction_added events. Exits 0 whatever the figures.",
    )
    parser.add_argument("--events", type=int, default=2000, help="events per phase (2000)")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop events/s (200)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight for max throughput (32)"
    )
    parser.add_argument(
        "--warmup", type=int, default=50, help="untimed events before each phase (50)"
    )
    parser.add_argument(
        "--repeat-share",
        type=float,
        default=0.2,
        help="share of events flagging an already-flagged message (0.2)",
    )
    parser.add_argument(
        "--database-url",
        help="default: a fresh SQLite file per phase in a temporary directory. A "
        "postgresql+asyncpg:// URL: a throwaway database per phase is created on that server "
        "(connecting to the URL's database, `postgres` if none) and dropped afterwards",
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="run the fake Slack Web API and the load generator in the app's event loop "
        "instead of a child process",
    )
    parser.add_argument(
        "--decompose",
        action="store_true",
        help="also run a diagnostic bolt app that makes loopkeeper's Web API look-ups before "
        "its ack and stores nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--hog", action="store_true", help="keep one core busy the whole time (bench.hog)"
    )
    parser.add_argument(
        "--cprofile",
        metavar="FILE",
        help="cProfile this process during loopkeeper's timed phases and their drains, stats "
        "to FILE",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.rate <= 0 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--events, --rate and --concurrency must be positive, --warmup >= 0")
    if not 0 <= args.repeat_share < 1:
        parser.error("--repeat-share must be in [0, 1)")
    return args


def _say(message: str) -> None:
    print(f"[bench.ingest] {message}", file=sys.stderr, flush=True)


class _Profiler:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.profile = cProfile.Profile() if path else None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self.profile is None:
            yield
            return
        self.profile.enable()
        try:
            yield
        finally:
            self.profile.disable()

    def save(self) -> None:
        if self.profile is not None and self.path:
            self.profile.dump_stats(self.path)
            _say(f"cProfile stats written to {self.path}")


async def _storage(
    app: Loopkeeper,
    outside: Outside,
    plan: Plan,
    result: LoadResult,
    reports_before: int,
    cases_before: int,
) -> Storage:
    inbox_seconds = await app.drain_inbox(DRAIN_TIMEOUT)
    pending, drained = await app.drain_outbox(DRAIN_TIMEOUT)
    reporters = await app.stored_reporters()
    acked = {plan.events[i].user for i in result.ok}
    return Storage(
        stored=await app.reports_stored() - reports_before,
        cases=await app.cases() - cases_before,
        missing=len(acked - reporters),
        confirmations=await outside.confirmations(plan.users),
        pending=pending,
        drain_seconds=drained,
        inbox_seconds=inbox_seconds,
    )


async def _loopkeeper_phase(
    label: str,
    outside: Outside,
    slack_url: str,
    databases: Databases,
    plan: Plan,
    warm: Plan,
    profiler: _Profiler,
    *,
    rate: float | None,
    concurrency: int | None,
) -> tuple[LoadResult, Storage]:
    database_url = await databases.fresh(label)
    async with loopkeeper(slack_url, database_url) as app:
        if warm.events:
            await outside.warm_up(app.url, warm)
            # Filed and delivered before the clock starts: the phase counts only its own work.
            await app.drain_inbox(DRAIN_TIMEOUT)
            await app.drain_outbox(DRAIN_TIMEOUT)
        reports_before, cases_before = await app.reports_stored(), await app.cases()
        _say(f"loopkeeper {label}: {len(plan.events)} events")
        with profiler():
            result = await outside.run(app.url, plan, rate=rate, concurrency=concurrency)
            storage = await _storage(app, outside, plan, result, reports_before, cases_before)
    return result, storage


async def _bolt_phase(
    app: Callable[[str], contextlib.AbstractAsyncContextManager[str]],
    name: str,
    label: str,
    outside: Outside,
    slack_url: str,
    plan: Plan,
    warm: Plan,
    *,
    rate: float | None,
    concurrency: int | None,
) -> LoadResult:
    async with app(slack_url) as url:
        if warm.events:
            await outside.warm_up(url, warm)
        _say(f"{name} {label}: {len(plan.events)} events")
        return await outside.run(url, plan, rate=rate, concurrency=concurrency)


async def run(args: argparse.Namespace) -> Outcome:
    plan = make_plan("B", args.events, repeat_share=args.repeat_share)
    warm = make_plan("W", args.warmup, repeat_share=args.repeat_share, second=1_600_000_000)
    load_before = os.getloadavg()[0]
    outside: Outside = Driver() if args.inline else RemoteDriver()
    databases = Databases(args.database_url)
    profiler = _Profiler(args.cprofile)
    extras: list[AppRun] = []
    try:
        slack_url = await outside.start()
        await outside.seed(plan)
        if warm.events:
            await outside.seed(warm)
        lk_rate, lk_rate_storage = await _loopkeeper_phase(
            "fixed-rate", outside, slack_url, databases, plan, warm, profiler,
            rate=args.rate, concurrency=None,
        )  # fmt: skip
        bare_rate = await _bolt_phase(
            bare_bolt, "bare bolt", "fixed-rate", outside, slack_url, plan, warm,
            rate=args.rate, concurrency=None,
        )  # fmt: skip
        lk_max, lk_max_storage = await _loopkeeper_phase(
            "throughput", outside, slack_url, databases, plan, warm, profiler,
            rate=None, concurrency=args.concurrency,
        )  # fmt: skip
        bare_max = await _bolt_phase(
            bare_bolt, "bare bolt", "throughput", outside, slack_url, plan, warm,
            rate=None, concurrency=args.concurrency,
        )  # fmt: skip
        if args.decompose:
            lookups_rate = await _bolt_phase(
                bolt_with_lookups, "bolt+lookups", "fixed-rate", outside, slack_url, plan, warm,
                rate=args.rate, concurrency=None,
            )  # fmt: skip
            lookups_max = await _bolt_phase(
                bolt_with_lookups, "bolt+lookups", "throughput", outside, slack_url, plan, warm,
                rate=None, concurrency=args.concurrency,
            )  # fmt: skip
            extras.append(AppRun("bolt+lookups", lookups_rate, lookups_max))
    finally:
        profiler.save()
        await databases.cleanup()
        await outside.stop()
    outcome = Outcome(
        events=args.events,
        rate=args.rate,
        concurrency=args.concurrency,
        database=databases.label,
        database_kind=databases.kind,
        inline=args.inline,
        loopkeeper=AppRun("loopkeeper", lk_rate, lk_max, lk_rate_storage, lk_max_storage),
        bare=AppRun("bare bolt", bare_rate, bare_max),
        extras=extras,
    )
    outcome.notes.append(
        f"{len(plan.messages)} distinct messages, {plan.repeats} events join an existing case; "
        f"{args.warmup} untimed warm-up events before each phase"
    )
    outcome.notes.append(
        f"load average {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after, on "
        f"{os.cpu_count()} CPUs (other work on the machine skews the figures)"
    )
    for name, storage in (("fixed rate", lk_rate_storage), ("max throughput", lk_max_storage)):
        if storage.missing:
            outcome.notes.append(
                f"ASSERTION FAILED ({name}): {storage.missing} acknowledged events have no "
                "stored report"
            )
    return outcome


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # A starved timer tick is logged on every skipped run; the figures already show the cause.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    before = load_average()
    with cpu_hog(args.hog) as hog:
        outcome = asyncio.run(run(args))
    outcome.notes.append(f"CPU hog: {hog}; load {before} before, {load_average()} after")
    if args.json:
        print(json.dumps(outcome.as_json(), indent=2, default=str))
    else:
        print(render(outcome))
