"""A background loop that drains its queue when woken, and on a timer in case nobody wakes it."""

from __future__ import annotations

import asyncio
import logging
import math

from bot.core.burst_priorities import LoopTimer, Timer

log = logging.getLogger(__name__)


class DrainLoop:
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

    async def run(self, idle: float = 1.0, settle: float = 0.0, timer: Timer | None = None) -> None:
        """Drain forever: when woken, otherwise every `idle` seconds. Woken while busy (the
        last round ended under 5 × `settle` ago), it waits `settle` seconds first, so a burst
        is drained in rounds of several items; when quiet, it drains at once."""
        self.running = True
        try:
            await self._run(timer or LoopTimer(), idle, settle)
        finally:
            self.running = False

    async def _run(self, timer: Timer, idle: float, settle: float) -> None:
        last_round = -math.inf
        while True:
            await timer.wait(self._wake, idle)
            if settle and timer.now() - last_round < 5 * settle:
                await timer.sleep(settle)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("%s round failed; retrying on the next round", self.name)
            last_round = timer.now()
