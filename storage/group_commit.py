"""Small writes that arrive together share one transaction (a group commit).

Acks committing their inbox rows, deliveries being marked, card locations being recorded: each
is one statement, and on its own each would pay for a whole transaction (the writer's turn,
BEGIN, COMMIT). Under load many arrive in the same moment; here they queue, and one background
task writes everything queued in one transaction, then resolves each caller. A caller still
returns only after its write is committed.

Writes of one statement that can merge (storage/merged_writes.py) run as one statement of the
group: a burst of acks is one multi-row INSERT, not one INSERT each.
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

from storage.merged_writes import Merge

log = logging.getLogger(__name__)

Session = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]
"""Opens a write transaction."""
Execute = Callable[[AsyncConnection, Any, Any], Awaitable[Any]]
"""Runs one statement on a connection (as `connection.execute` does), with one set of
parameters or a list of them (one row each, for a multi-row INSERT)."""


@dataclass
class _Write:
    statement: Any
    parameters: dict[str, Any]
    merge: Merge | None = None
    done: asyncio.Future[list[Row[Any]]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _Step:
    """One statement of a group: one write, or several merged by their statement's rule."""

    writes: list[_Write]

    @property
    def parameters(self) -> Any:
        first = self.writes[0]
        if first.merge is None or len(self.writes) == 1:
            return first.parameters
        return first.merge.merged([w.parameters for w in self.writes])

    def answers(self, rows: list[Row[Any]]) -> list[list[Row[Any]]]:
        first = self.writes[0]
        if first.merge is None or len(self.writes) == 1:
            return [rows]
        return first.merge.answers(rows, [w.parameters for w in self.writes])


def _steps(group: list[_Write]) -> list[_Step]:
    """The group's writes in order, each merged into the first like write queued before it."""
    steps: list[_Step] = []
    mergeable: dict[tuple[int, object], _Step] = {}
    for write in group:
        if write.merge is None:
            steps.append(_Step([write]))
            continue
        key = (id(write.statement), write.merge.together(write.parameters))
        if key in mergeable:
            mergeable[key].writes.append(write)
        else:
            mergeable[key] = _Step([write])
            steps.append(mergeable[key])
    return steps


class GroupCommit:
    """One queue of writes. Writes of different urgency need queues of their own: an ack's
    write must not wait behind a group of background writes waiting for the writer."""

    def __init__(
        self,
        session: Session,
        execute: Execute | None = None,
        *,
        together: bool = True,
        turns: int = 1,
        one_statement: Session | None = None,
    ) -> None:
        self._session = session
        self._one_statement = one_statement or session  # a group that is one statement
        self._together = together  # False: each write in a transaction of its own
        self._turns = turns
        self._execute: Execute = execute or (lambda conn, stmt, params: conn.execute(stmt, params))
        self._queued: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(
        self, statement: Any, parameters: dict[str, Any], *, merge: Merge | None = None
    ) -> list[Row[Any]]:
        """Run one statement in the next group's transaction; its RETURNING rows, if any.
        With `merge`, like writes of the group run as one statement (the rows are still this
        write's own)."""
        write = _Write(statement, parameters, merge)
        if not self._together:
            await self._write_group([write])
            return write.done.result()
        self._queued.append(write)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        # Awaited bare, not through asyncio.shield: each hop of a result between futures is a
        # turn of the event loop, behind everything else ready on it, and the ack waits for
        # it. A caller cancelled meanwhile cancels only its own future; the group still
        # writes its row (as with a shield), and leaves the cancelled future be.
        return await write.done

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_queued(self) -> None:
        # Writes made in the next `turns` turns of the event loop join the first group: a
        # burst of sends answered together (cards to record) is one group, not one each.
        for _ in range(self._turns):
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
        steps = _steps(group)
        session = self._one_statement if len(steps) == 1 else self._session
        try:
            async with session() as connection:
                results: list[tuple[_Write, list[Row[Any]]]] = []
                for step in steps:
                    statement = step.writes[0].statement
                    result = await self._execute(connection, statement, step.parameters)
                    rows = list(result.all()) if result.returns_rows else []
                    results += zip(step.writes, step.answers(rows), strict=True)
        except Exception as error:
            if len(group) == 1:
                if not group[0].done.done():  # its caller was cancelled meanwhile
                    group[0].done.set_exception(error)
                return
            # One bad write must not fail the others: each on its own, then.
            log.warning("a group of %s writes failed; writing them one by one", len(group))
            for write in group:
                await self._write_group([write])
            return
        for write, rows in results:
            if not write.done.done():  # its caller was cancelled meanwhile
                write.done.set_result(rows)
