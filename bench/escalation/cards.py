"""Phase 1: flag → card latency through the real runtime (HTTP route, bolt, intake, outbox,
Slack sender), with its background loops running, against a fake Slack."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from bench.escalation.databases import Database
from bench.escalation.outside import (
    Card,
    Outside,
    OutsideApi,
    RemoteOutside,
    Sent,
    message_ts,
)
from bench.escalation.stats import Profiler
from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from tests.support.bot_settings import ROUTING_FILE, SIGNING_SECRET
from tests.support.fake_slack import BOT_TOKEN


class _Counted(logging.Filter):
    """Counts, and keeps off the screen, what APScheduler says about the timer ticker: skipped
    ticks (the previous round still running) and the round cancelled when the runtime closes."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0
        self.cancelled = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in record.getMessage():
            self.skipped += 1
            return False
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            self.cancelled += 1
            return False
        return True


@dataclass
class CardRun:
    database: Database
    flags: int
    rate: float
    tick_seconds: float
    inline: bool
    latencies_ms: list[float] = field(default_factory=list)  # per case that got its card
    ack_ms: list[float] = field(default_factory=list)
    max_send_lag_ms: float = 0.0
    achieved_rate: float = 0.0
    non_200: int = 0
    cases: int = 0
    cards: int = 0  # card posts for the timed cases
    carded_cases: int = 0
    duplicated_cases: int = 0
    missing_cases: int = 0
    errors: list[str] = field(default_factory=list)
    last_card_after_s: float = 0.0  # from the last flag sent to the last card received
    cpu_seconds: float = 0.0  # this process (the bot), all threads, during the timed flags
    ticks_skipped: int = 0  # timer ticks APScheduler skipped: the previous round still ran
    ticks_cancelled: int = 0  # timer rounds still running 30 s after the run, cancelled
    wall_seconds: float = 0.0

    @property
    def one_card_each(self) -> bool:
        return (
            self.cases == self.flags
            and self.carded_cases == self.flags
            and self.cards == self.flags
            and self.duplicated_cases == 0
        )


async def run_cards(
    database: Database,
    *,
    flags: int,
    rate: float,
    warmup: int,
    tick_seconds: float | None,
    inline: bool,
    card_deadline: float,
    profiler: Profiler | None = None,
) -> CardRun:
    outside: OutsideApi = Outside() if inline else RemoteOutside()
    slack_url = await outside.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database.url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_url,
        # The fake Slack here has no limits: pacing to Slack's real ones would measure them.
        pacing="off",
    )
    if tick_seconds is not None:
        settings = settings.model_copy(update={"tick_seconds": tick_seconds})
    run = CardRun(database, flags, rate, settings.tick_seconds, inline)
    counted = _Counted()
    scheduler_logs = [
        logging.getLogger(n) for n in ("apscheduler.scheduler", "apscheduler.executors.default")
    ]
    for logger in scheduler_logs:
        logger.addFilter(counted)
    runtime = await build_runtime(settings, load_routing(ROUTING_FILE))
    runner = web.AppRunner(runtime.web_app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    events_url = f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
    try:
        await runtime.start_background()
        warm = list(range(warmup))
        timed = list(range(warmup, warmup + flags))
        await outside.seed(warm + timed)
        if warm:  # first requests pay for bolt's auth.test, connection set-up, caches
            await outside.flag(events_url, warm, rate)
            await outside.wait_cards(len(warm), card_deadline, 0.0)
        if profiler:
            profiler.start()
        cpu, wall = time.process_time(), time.perf_counter()
        sent = await outside.flag(events_url, timed, rate)
        await outside.wait_cards(len(warm) + flags, card_deadline, settle=0.0)
        run.cpu_seconds = time.process_time() - cpu
        run.wall_seconds = time.perf_counter() - wall
        if profiler:
            profiler.stop()
        await outside.wait_cards(len(warm) + flags, 0.0, settle=1.0)  # would a duplicate come?
        outcome = await outside.outcome()
        cases = {c.output_ts: c.id for c in await runtime.store.list_cases()}
    finally:
        await runner.cleanup()
        await runtime.close()  # lets a timer round in flight finish first
        await outside.stop()
        for logger in scheduler_logs:
            logger.removeFilter(counted)
        run.ticks_skipped, run.ticks_cancelled = counted.skipped, counted.cancelled
    _measure(run, sent, outcome.cards, cases)
    run.errors = outcome.errors
    return run


def _measure(
    run: CardRun, sent: list[Sent], cards: list[Card], cases: dict[str | None, int | None]
) -> None:
    first: dict[int, float] = {}
    posts: Counter[int] = Counter()
    for card in cards:
        posts[card.case_id] += 1
        first.setdefault(card.case_id, card.arrived)
    timed_cases: list[int] = []
    for record in sent:
        case_id = cases.get(message_ts(record.index))
        if record.status != 200:
            run.non_200 += 1
        if record.answered:
            run.ack_ms.append((record.answered - record.sent) * 1000)
        if case_id is None:
            continue
        timed_cases.append(case_id)
        if case_id in first:
            run.latencies_ms.append((first[case_id] - record.sent) * 1000)
        else:
            run.missing_cases += 1
    run.cases = len(set(timed_cases))
    run.cards = sum(posts[c] for c in set(timed_cases))
    run.carded_cases = sum(1 for c in set(timed_cases) if posts[c] > 0)
    run.duplicated_cases = sum(1 for c in set(timed_cases) if posts[c] > 1)
    run.missing_cases += len(sent) - len(timed_cases)
    if sent:
        run.max_send_lag_ms = max(r.sent - r.due for r in sent) * 1000
        span = sent[-1].sent - sent[0].sent
        run.achieved_rate = (len(sent) - 1) / span if span > 0 else float("nan")
        last = max((first[c] for c in set(timed_cases) if c in first), default=sent[-1].sent)
        run.last_card_after_s = last - sent[-1].sent
