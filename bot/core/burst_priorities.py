"""Who goes first in a burst: acks, then filing, then delivery.

Slack gives an ack three seconds and then sends the event again, so when many flags arrive at
once this process orders its work:

1. **Acks.** A flag's inbox row is committed and Slack answered. The edge marks each ack in
   progress (`Acks.arriving`); on SQLite, whose one writer everything shares, an ack's write
   takes the writer before any background writer waiting for it (`WriterTurns`), and a long
   filing transaction lets a waiting ack through between two flags (the store asks
   `WriterTurns.urgent_waiting`: storage/batches.py).
2. **Filing.** Each round of the inbox worker waits while a burst of acks is in progress, at
   most `Patience.filing` seconds at a time (`BurstPriorities.filing_gives_way`).
3. **Delivery.** Each round of the outbox waits while acks burst or a backlog of flags waits
   to be filed, at most `Patience.delivery` seconds at a time (`delivery_gives_way`).

Whatever waits takes a turn once its patience runs out, so nothing starves. The inbox and
outbox loops, woken while busy, let work gather `Patience.settle` seconds before a round, so a
burst is drained in rounds of several items (bot/core/drain_loop.py).

Built once, in the composition root. Waiting goes through a `Timer`, which tests replace with
one they move by hand, so they need no wall-clock windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol


class Timer(Protocol):
    """Monotonic time, in seconds, and waiting on it."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Return when `event` is set, or after `seconds` at most."""
        ...


class LoopTimer:
    """The running event loop's clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        if event.is_set() or seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)


@dataclass(frozen=True)
class Patience:
    """The scheme's numbers, in seconds (and acks)."""

    settle: float = 0.01
    """While busy, how long the inbox and outbox loops let work gather before a round."""
    filing: float = 1.0
    """How long a round of filing may wait for a burst of acks to be answered first."""
    delivery: float = 2.0
    """How long a round of delivery may wait for acks and a backlog of flags first."""
    burst: int = 4
    """Acks in progress at once that make a burst."""


Busy = Callable[[float], Awaitable[None]]
"""Waits while some more urgent work is behind, at most the seconds given."""


class Acks:
    """Acks in progress (Slack waits for those): busy from when `burst` are in progress at
    once until none is."""

    def __init__(self, burst: int = 4, timer: Timer | None = None) -> None:
        self._burst = burst
        self._timer: Timer = timer or LoopTimer()
        self.count = 0
        self._calm = asyncio.Event()
        self._calm.set()

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        self.count += 1
        if self.count >= self._burst:
            self._calm.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._calm.set()

    async def calm(self, patience: float) -> None:
        """Wait while a burst is in progress, at most `patience` seconds."""
        await self._timer.wait(self._calm, patience)


class FilingBacklog:
    """Flags waiting to be filed beyond the round in progress, as the inbox worker reports."""

    def __init__(self, timer: Timer | None = None) -> None:
        self._timer: Timer = timer or LoopTimer()
        self._cleared = asyncio.Event()
        self._cleared.set()

    def behind(self) -> None:
        self._cleared.clear()

    def caught_up(self) -> None:
        self._cleared.set()

    async def cleared(self, patience: float) -> None:
        """Wait while a backlog waits to be filed, at most `patience` seconds."""
        await self._timer.wait(self._cleared, patience)


class GiveWay:
    """How a loop lets more urgent work go first: before each round of its own it waits while
    any of `busy` is behind, at most `patience` seconds in all. After waiting that long it
    takes a turn of `patience / 4` seconds without waiting, so it never starves."""

    def __init__(self, *busy: Busy, patience: float, timer: Timer | None = None) -> None:
        self._busy = busy
        self.patience = patience
        self._timer: Timer = timer or LoopTimer()
        self._turn_ends = -math.inf

    async def __call__(self) -> None:
        timer = self._timer
        if timer.now() < self._turn_ends:
            return
        waited_from = timer.now()
        for busy in self._busy:
            await busy(waited_from + self.patience - timer.now())
        if timer.now() - waited_from >= self.patience:
            self._turn_ends = timer.now() + self.patience / 4


class WriterTurns:
    """SQLite's single writer, in one process: writers take turns, and urgent ones (an ack
    waits) go before the others waiting."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._urgent = 0
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()

    @property
    def urgent_waiting(self) -> bool:
        return self._urgent > 0

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._lock.release()

    async def step_aside(self) -> None:
        """Held by a background writer: let the urgent writers waiting go, then take it back."""
        self._lock.release()
        await self._acquire(urgent=False)

    async def _acquire(self, urgent: bool) -> None:
        if urgent:
            self._urgent += 1
            self._no_urgent.clear()
            try:
                await self._lock.acquire()
            finally:
                self._urgent -= 1
                if self._urgent == 0:
                    self._no_urgent.set()
            return
        while True:
            await self._no_urgent.wait()
            await self._lock.acquire()
            if self._urgent == 0:
                return
            self._lock.release()  # an urgent writer arrived meanwhile: it goes first


@dataclass
class BurstPriorities:
    """The scheme, for one process: what the edges, the inbox worker and the outbox share."""

    timer: Timer = field(default_factory=LoopTimer)
    patience: Patience = field(default_factory=Patience)
    acks: Acks = field(init=False)
    filing_backlog: FilingBacklog = field(init=False)

    def __post_init__(self) -> None:
        self.acks = Acks(self.patience.burst, self.timer)
        self.filing_backlog = FilingBacklog(self.timer)

    def filing_gives_way(self) -> GiveWay:
        """For the inbox worker: filing waits for a burst of acks."""
        return GiveWay(self.acks.calm, patience=self.patience.filing, timer=self.timer)

    def delivery_gives_way(self) -> GiveWay:
        """For the outbox: delivery waits for a burst of acks and a backlog of flags."""
        return GiveWay(
            self.acks.calm,
            self.filing_backlog.cleared,
            patience=self.patience.delivery,
            timer=self.timer,
        )
