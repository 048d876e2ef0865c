"""One app through the phases, its figures as a flat dict (name → number).

ack: open loop at the ack rate, latency to each answer. burst: closed loop, N distinct flags;
for loopkeeper also until they are filed (its inbox empty) and until each one's card was posted
to the fake Slack, with the SQL it sent and its CPU from the first flag until its outbox was
empty. cards (loopkeeper only): open loop at the card rate, each flag's time to its card.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from bench.honest.outside import Outside
from bench.honest.process import AppProcess
from bench.ingest.events import Plan, make_plan
from bench.ingest.load import LoadResult
from bench.stats import percentile

DRAIN_TIMEOUT_S = 120.0
KIND = "per flag: "
"""Prefix of the figures that break statements per flag down by verb and table."""
POLL_S = 0.05


@dataclass(frozen=True)
class Sizes:
    ack_events: int
    ack_rate: float
    burst: int
    concurrency: int
    card_flags: int
    card_rate: float
    warmup: int


def plans(sizes: Sizes) -> dict[str, Plan]:
    """Every phase's events; the timestamps keep their messages apart."""
    return {
        "warm": make_plan("W", sizes.warmup, repeat_share=0.2, second=1_600_000_000),
        "ack": make_plan("A", sizes.ack_events, repeat_share=0.2, second=1_700_000_000),
        "burst": make_plan("B", sizes.burst, repeat_share=0.0, second=1_710_000_000),
        "cards": make_plan("C", sizes.card_flags, repeat_share=0.0, second=1_720_000_000),
    }


async def _drained(app: AppProcess, key: str) -> float | None:
    """Poll until the app's `key` queue is empty; when it was (monotonic), None on timeout."""
    give_up = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < give_up:
        if (await app.state())[key] == 0:
            return time.monotonic()
        await asyncio.sleep(POLL_S)
    return None


def _ack_figures(result: LoadResult) -> dict[str, float]:
    latencies = [s.latency * 1000 for s in result.samples]
    return {
        "ack_p50_ms": percentile(latencies, 50),
        "ack_p95_ms": percentile(latencies, 95),
        "ack_p99_ms": percentile(latencies, 99),
        "ack_errors": float(len(result.samples) - len(result.ok)),
    }


def _card_ids(plan: Plan, cases: dict[str, int]) -> list[int | None]:
    return [cases.get(event.ts) for event in plan.events]


async def run_app(
    kind: str, app: AppProcess, outside: Outside, all_plans: dict[str, Plan], sizes: Sizes
) -> dict[str, float]:
    lk = kind == "loopkeeper"
    figures: dict[str, float] = {}
    if all_plans["warm"].events:
        await outside.load.call("warm_up", app.events_url, all_plans["warm"])
    ack: LoadResult = await outside.load.call(
        "run", app.events_url, all_plans["ack"], rate=sizes.ack_rate, concurrency=None
    )
    figures.update(_ack_figures(ack))
    if lk:
        await _drained(app, "inbox_pending")
        await _drained(app, "outbox_pending")

    burst = all_plans["burst"]
    before = await app.state()
    result: LoadResult = await outside.load.call(
        "run", app.events_url, burst, rate=None, concurrency=sizes.concurrency
    )
    figures["burst_acks_per_s"] = len(result.ok) / result.elapsed
    figures["burst_errors"] = float(len(result.samples) - len(result.ok))
    if lk:
        filed = await _drained(app, "inbox_pending")
        delivered = await _drained(app, "outbox_pending")
        figures["burst_filed_per_s"] = (
            len(result.ok) / (filed - result.started) if filed else math.nan
        )
        after = await app.state()
        cards, _posts = await outside.slack.call("cards")
        ids = _card_ids(burst, await app.cases())
        arrivals = [cards[i] for i in ids if i is not None and i in cards]
        figures["burst_carded"] = float(len(arrivals))
        figures["burst_carded_per_s"] = (
            len(arrivals) / (max(arrivals) - result.started) if arrivals else math.nan
        )
        figures["burst_outbox_left"] = float(0 if delivered else after["outbox_pending"])
    else:
        after = await app.state()
    flags = len(burst.events)
    for name in ("statements", "begins", "commits", "rollbacks"):
        figures[f"{name}_per_flag"] = (after["counts"][name] - before["counts"][name]) / flags
    kinds_before, kinds_after = before.get("kinds", {}), after.get("kinds", {})
    for kind, count in kinds_after.items():
        if count > kinds_before.get(kind, 0):
            figures[f"{KIND}{kind}"] = (count - kinds_before.get(kind, 0)) / flags
    figures["cpu_ms_per_flag"] = (after["cpu_seconds"] - before["cpu_seconds"]) * 1000 / flags

    if lk and all_plans["cards"].events:
        figures.update(await _cards(app, outside, all_plans["cards"], sizes.card_rate))
    return figures


async def _cards(app: AppProcess, outside: Outside, plan: Plan, rate: float) -> dict[str, float]:
    result: LoadResult = await outside.load.call(
        "run", app.events_url, plan, rate=rate, concurrency=None
    )
    await _drained(app, "inbox_pending")
    await _drained(app, "outbox_pending")
    cards, _posts = await outside.slack.call("cards")
    ids = _card_ids(plan, await app.cases())
    latencies = [
        (cards[case] - sample.sent) * 1000
        for case, sample in zip(ids, result.samples, strict=True)
        if case is not None and case in cards
    ]
    return {
        "card_p50_ms": percentile(latencies, 50),
        "card_p95_ms": percentile(latencies, 95),
        "card_p99_ms": percentile(latencies, 99),
        "card_missing": float(len(plan.events) - len(latencies)),
    }
