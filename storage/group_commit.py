"""Small writes that arrive together share one transaction (a group commit).

Acks committing their inbox rows, deliveries being marked, card locations being recorded: each
is one statement, and on its own each would pay for a whole transaction (the writer's turn,
BEGIN, COMMIT). Under load many arrive in the same moment; here they queue, and one background
task writes everything queued in one transaction, then resolves each caller. A caller still
returns only after its write is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

Session = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]
"""Opens a write transaction."""
Execute = Callable[[AsyncConnection, Any, dict[str, Any]], Awaitable[Any]]
"""Runs one statement on a connection (as `connection.execute` does)."""


@dataclass
class _Write:
    statement: Any
    parameters: dict[str, Any]
    done: asyncio.Future[list[Row[Any]]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """One queue of writes. Writes of different urgency need queues of their own: an ack's
    write must not wait behind a group of background writes waiting for the writer."""

    def __init__(
        self, session: Session, execute: Execute | None = None, *, together: bool = True
    ) -> None:
        self._session = session
        self._together = together  # False: each write in a transaction of its own
        self._execute: Execute = execute or (lambda conn, stmt, params: conn.execute(stmt, params))
        self._queued: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, statement: Any, parameters: dict[str, Any]) -> list[Row[Any]]:
        """Run one statement in the next group's transaction; its RETURNING rows, if any."""
        write = _Write(statement, parameters)
        if not self._together:
            await self._write_group([write])
            return write.done.result()
        self._queued.append(write)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await asyncio.shield(write.done)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_queued(self) -> None:
        # Writes made in this same turn of the event loop join the first group.
        await asyncio.sleep(0)
        while self._queued:
            group, self._queued = self._queued, []
            try:
                await self._write_group(group)
            except BaseException as error:  # cancelled: nobody may wait forever
                for write in group + self._queued:
                    if not write.done.done():
                        write.done.set_exception(error)
                self._queued = []
                raise

    async def _write_group(self, group: list[_Write]) -> None:
        try:
            async with self._session() as connection:
                results = []
                for write in group:
                    result = await self._execute(connection, write.statement, write.parameters)
                    results.append(list(result.all()) if result.returns_rows else [])
        except Exception as error:
            if len(group) == 1:
                group[0].done.set_exception(error)
                return
            # One bad write must not fail the others: each on its own, then.
            log.warning("a group of %s writes failed; writing them one by one", len(group))
            for write in group:
                await self._write_group([write])
            return
        for write, rows in zip(group, results, strict=True):
            write.done.set_result(rows)
