"""SQLite's single writer, shared by the store's write transactions in one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class WriterLock:
    """SQLite's single writer, in one process; urgent writers (an ack waits) go first."""

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
