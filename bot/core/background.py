"""Work that carries on after a platform got its answer.

Slack (like Teams) gives a request three seconds; what takes longer than that (opening a modal,
looking someone up, posting) runs here once the answer is on its way. The tasks are kept, so
shutdown waits for them and tests can wait for them, and a failure is logged in one line: a
request that was answered is never dropped without a word.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Later:
    """The answer is not ready within its budget: it follows after the ack."""


LATER = Later()


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Run `work` after the answer; `what` names it in the log if it fails."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, what))

    async def answer_or_later(
        self,
        work: Coroutine[Any, Any, T],
        budget: float,
        later: Callable[[T], Awaitable[None]],
        what: str,
    ) -> T | Later:
        """`work`'s result if it is ready within `budget` seconds (so it can go in the answer,
        as a modal's inline errors do); else LATER, and `later` gets the result when it comes."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=budget)
        if done:
            return task.result()

        async def follow_up() -> None:
            await later(await task)

        self.spawn(follow_up(), what)
        return LATER

    async def drain(self) -> None:
        """Wait until no work is left, including work that work started."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float) -> None:
        """Let running work finish for `grace` seconds, then cancel what is left."""
        if not self._tasks:
            return
        _done, running = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in running:
            log.warning("cancelled unfinished work at shutdown: %s", task.get_coro())
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _finished(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("%s failed after its answer: %s: %s", what, type(error).__name__, error)
