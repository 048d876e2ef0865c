"""A background loop that drains its queue when woken, and on a timer in case nobody wakes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterator

log = logging.getLogger(__name__)


class WokenLoop:
    """Subclasses define `drain()`; `wake()` runs it at once, `run()` keeps running it."""

    name = "background"

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self.running = False
        """True while `run()` runs: someone is draining the queue."""

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        raise NotImplementedError

    async def run(self, idle: float = 1.0, settle: float = 0.0) -> None:
        """Drain forever: when woken, otherwise every `idle` seconds. Woken while busy (the
        last round ended under 5 × `settle` ago), it waits `settle` seconds first, so a burst
        is drained in rounds of several items; when quiet, it drains at once."""
        loop = asyncio.get_running_loop()
        self.running = True
        try:
            await self._run(loop, idle, settle)
        finally:
            self.running = False

    async def _run(self, loop: asyncio.AbstractEventLoop, idle: float, settle: float) -> None:
        last_round = -math.inf
        while True:
            await wait_for_event(self._wake, idle)
            if settle and loop.time() - last_round < 5 * settle:
                await asyncio.sleep(settle)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("%s round failed; retrying on the next round", self.name)
            last_round = loop.time()


Busy = Callable[[float], Awaitable[None]]
"""Waits while some work is behind, at most the seconds given."""


class GiveWay:
    """How a loop lets more urgent work go first: before each round of its own it waits while
    any of `busy` is behind, at most `patience` seconds in all. After waiting that long it
    takes a turn of `patience / 4` seconds without waiting, so it never starves."""

    def __init__(self, *busy: Busy, patience: float) -> None:
        self._busy = busy
        self.patience = patience
        self._turn_ends = -math.inf

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._turn_ends:
            return
        waited_from = loop.time()
        for busy in self._busy:
            await busy(waited_from + self.patience - loop.time())
        if loop.time() - waited_from >= self.patience:
            self._turn_ends = loop.time() + self.patience / 4


class Arrivals:
    """Urgent requests in progress (acks Slack waits for): busy from when `many` are in
    progress at once (a burst) until none is."""

    def __init__(self, many: int = 4) -> None:
        self._many = many
        self.count = 0
        self._calm = asyncio.Event()
        self._calm.set()

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        self.count += 1
        if self.count >= self._many:
            self._calm.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._calm.set()

    async def calm(self, patience: float) -> None:
        """Wait while a burst is in progress, at most `patience` seconds."""
        await wait_for_event(self._calm, patience)


async def wait_for_event(event: asyncio.Event, patience: float) -> None:
    """Wait until `event` is set, at most `patience` seconds."""
    if event.is_set() or patience <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), patience)
