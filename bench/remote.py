"""Running a benchmark's "outside world" (fake Slack, load generator) in a spawned child process,
so the bot under test has its process and event loop to itself."""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class Remote:
    """An object built by `factory` in a child process; `call` runs its async methods there.

    `factory` must be importable (a class or module-level function): the child is spawned.
    """

    def __init__(self, factory: Callable[[], Any], name: str = "bench-outside") -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_child, args=(child, factory), name=name)
        self._process.start()
        child.close()
        self._lock = asyncio.Lock()

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            self._conn.send((name, args, kwargs))
            status, value = await asyncio.to_thread(self._conn.recv)
        if status == "error":
            raise RuntimeError(f"the outside process failed in {name}:\n{value}")
        return value

    async def stop(self) -> None:
        """Call the object's `stop`, then end the child."""
        try:
            await self.call("stop")
        finally:
            self._conn.close()
            await asyncio.to_thread(self._process.join, 10)
            if self._process.is_alive():
                self._process.terminate()


def _child(conn: Connection, factory: Callable[[], Any]) -> None:
    asyncio.run(_serve(conn, factory()))


async def _serve(conn: Connection, target: Any) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            name, args, kwargs = await loop.run_in_executor(None, conn.recv)
        except EOFError:
            await target.stop()
            return
        try:
            value = await getattr(target, name)(*args, **kwargs)
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", value))
        if name == "stop":
            conn.close()
            return
