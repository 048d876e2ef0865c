"""A background loop that drains its queue when woken, and on a timer in case nobody wakes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class WokenLoop:
    """Subclasses define `drain()`; `wake()` runs it at once, `run()` keeps running it."""

    name = "background"

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        raise NotImplementedError

    async def run(self, idle: float = 1.0, settle: float = 0.0) -> None:
        """Drain forever: when woken (after `settle` seconds, so that work arriving together
        is drained together), otherwise every `idle` seconds."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)
            if settle:
                await asyncio.sleep(settle)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("%s round failed; retrying on the next round", self.name)
