"""One `serve` per SQLite file: a lock file next to the database, held while the process runs.

SQLite would let a second process in, and both would then deliver every card and escalation:
the leases that keep replicas from doing the same work twice need PostgreSQL's row locks.
`flock` is released by the kernel when the process ends, however it ends (a killed process
leaves the file but not the lock), so a stale lock never keeps the bot down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bot.core.startup_errors import StartupError


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def only_process(database: Path) -> Iterator[None]:
    """Hold the database's lock file for the block; StartupError when another process has it."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartupError(
                f"Another loopkeeper serve is running on the SQLite database {database} "
                f"(it holds {path}): SQLite is for one process. Stop the other one, or use "
                "PostgreSQL (LOOPKEEPER_DATABASE_URL=postgresql+asyncpg://…) to run several."
            ) from None
        # Who holds it, for an operator looking at the file.
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)  # releases the lock
