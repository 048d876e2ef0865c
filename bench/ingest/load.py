"""The load generator: open loop at a fixed arrival rate, or closed loop as fast as possible."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from bench.ingest.events import SignedRequest

REQUEST_TIMEOUT = 30.0
CONNECTION_LIMIT = 1000


@dataclass(frozen=True)
class Sample:
    """One request; times are the generator's monotonic clock, in seconds."""

    due: float
    """When it was meant to be sent: the schedule (open loop) or when it was sent (closed)."""
    sent: float
    done: float
    status: int
    """The HTTP status; 0 when no response came (see `error`)."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    @property
    def latency(self) -> float:
        """From when it was due to the whole response read, so queueing counts."""
        return self.done - self.due


@dataclass
class LoadResult:
    mode: str
    """`rate` (open loop) or `max` (closed loop)."""
    samples: list[Sample]
    started: float
    finished: float
    rate: float | None = None
    concurrency: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def ok(self) -> list[int]:
        """Indexes of the requests answered 200."""
        return [i for i, sample in enumerate(self.samples) if sample.ok]


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT, limit_per_host=CONNECTION_LIMIT),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        skip_auto_headers=("User-Agent",),
    )


async def _post(
    session: aiohttp.ClientSession, url: str, request: SignedRequest
) -> tuple[int, str | None]:
    try:
        async with session.post(url, data=request.body, headers=request.headers) as response:
            await response.read()
            return response.status, None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return 0, f"{type(error).__name__}: {error}"


async def open_loop(
    session: aiohttp.ClientSession, url: str, requests: Sequence[SignedRequest], rate: float
) -> LoadResult:
    """Send request i at start + i/rate whatever happened to the earlier ones."""
    loop = asyncio.get_running_loop()
    n = len(requests)
    samples: list[Sample | None] = [None] * n
    finished = loop.create_future()
    remaining = n
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, due: float) -> None:
        nonlocal remaining
        sent = loop.time()
        status, error = await _post(session, url, requests[i])
        samples[i] = Sample(due=due, sent=sent, done=loop.time(), status=status, error=error)
        remaining -= 1
        if remaining == 0 and not finished.done():
            finished.set_result(None)

    def fire(i: int, due: float) -> None:
        task = loop.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    start = loop.time() + 0.05
    for i in range(n):
        due = start + i / rate
        loop.call_at(due, fire, i, due)
    if n:
        await finished
    done = [sample for sample in samples if sample is not None]
    return LoadResult(
        mode="rate",
        samples=done,
        started=start,
        finished=max((s.done for s in done), default=start),
        rate=rate,
    )


async def closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    requests: Sequence[SignedRequest],
    concurrency: int,
) -> LoadResult:
    """Send everything as fast as the server answers, `concurrency` requests in flight."""
    loop = asyncio.get_running_loop()
    samples: list[Sample | None] = [None] * len(requests)
    indexes = iter(range(len(requests)))

    async def worker() -> None:
        for i in indexes:
            sent = loop.time()
            status, error = await _post(session, url, requests[i])
            samples[i] = Sample(due=sent, sent=sent, done=loop.time(), status=status, error=error)

    start = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done = [sample for sample in samples if sample is not None]
    return LoadResult(
        mode="max",
        samples=done,
        started=start,
        finished=loop.time(),
        concurrency=concurrency,
    )


async def warm_up(
    session: aiohttp.ClientSession, url: str, requests: Sequence[SignedRequest]
) -> int:
    """Send a few requests, 4 at a time, so first-request costs stay out of the figures."""
    result = await closed_loop(session, url, requests, concurrency=4)
    return len(result.ok)
