"""One phase of `bench.surge`: a fresh database, a fresh realistic fake Slack, the app in its own
process with pacing on (as in production), the phase's flags, and what Slack saw.

surge: N flags on N different outputs of one system, open loop over the spread, with a
`surge:` section in routing.yaml. baseline: the same flags without it. pacing: M flags at once,
without it, so M cards queue for one triage channel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.honest.outside import Outside
from bench.honest.process import AppProcess, app_process
from bench.honest.queues import IDLE
from bench.ingest.events import ROUTING_FILE, Plan, make_plan
from bench.ingest.load import LoadResult
from bench.ingest.targets import Databases
from bench.surge.figures import Phase, figures
from bench.surge.slack import RealisticSlackHost, SlackLog

SETTLE_TIMEOUT_S = 900.0
"""Longest wait for a phase's outbox to empty: 200 cards at one a second take 200 s."""
POLL_S = 0.1
PHASES = ("surge", "baseline", "pacing")
TAGS = {"surge": "S", "baseline": "N", "pacing": "P"}
OWNER_REACTIONS = ("x", "warning", "x")
"""Categories that tests/data/routing.yaml routes to one owner (Alice), so "the owner's DMs"
are one person's."""


@dataclass(frozen=True)
class Sizes:
    flags: int
    spread_s: float
    surge_cases: int
    pacing_cards: int


def flag_plan(tag: str, n: int) -> Plan:
    """`n` people flag `n` different outputs of the Support Assistant."""
    plan = make_plan(tag, n, repeat_share=0.0, second=1_730_000_000)
    events = tuple(
        dataclasses.replace(event, reaction=OWNER_REACTIONS[i % len(OWNER_REACTIONS)])
        for i, event in enumerate(plan.events)
    )
    return dataclasses.replace(plan, events=events)


def surge_routing(folder: Path, cases: int) -> Path:
    """tests/data/routing.yaml with a `surge:` section: more than `cases` within 10 minutes."""
    data = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    data["surge"] = {"cases": cases, "within": "10m", "quiet": "30m"}
    path = folder / "routing-surge.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


async def _settled(app: AppProcess, cases: int) -> float | None:
    """Poll until every case is filed with its timers and nothing is left to send; when the
    last case got its timers (monotonic), None if that never happened."""
    give_up = time.monotonic() + SETTLE_TIMEOUT_S
    filed: float | None = None
    while time.monotonic() < give_up:
        if filed is None and await app.queues.cases_with_timers() >= cases:
            filed = time.monotonic()
        if filed is not None and (await app.queues.pending()) == IDLE:
            break
        await asyncio.sleep(POLL_S)
    return filed


async def run_phase(name: str, sizes: Sizes, databases: Databases, label: str) -> Phase:
    n = sizes.pacing_cards if name == "pacing" else sizes.flags
    plan = flag_plan(TAGS[name], n)
    outside = Outside(RealisticSlackHost)
    try:
        slack_url = await outside.slack.call("start")
        await outside.slack.call("seed", plan)
        database_url = await databases.fresh(f"{name}-{label}")
        with tempfile.TemporaryDirectory(prefix="loopkeeper-surge-") as folder:
            config = surge_routing(Path(folder), sizes.surge_cases) if name == "surge" else None
            async with app_process(
                "loopkeeper", database_url, slack_url, config=config or ROUTING_FILE, pacing=True
            ) as app:
                if name == "pacing":  # all at once: Slack's rate is the only limit
                    result: LoadResult = await outside.load.call(
                        "run", app.events_url, plan, rate=None, concurrency=n
                    )
                else:
                    rate = n / sizes.spread_s
                    result = await outside.load.call(
                        "run", app.events_url, plan, rate=rate, concurrency=None
                    )
                filed = await _settled(app, n)
        log: SlackLog = await outside.slack.call("log")
    finally:
        await outside.stop()
    return figures(name, plan, result, filed, log)
