"""A database URL that cannot work, or a database that cannot be reached, said in one line.

The drivers raise chains of three or four exceptions (SQLAlchemy's wrapper around the DBAPI
adapter around asyncpg's own), each with its frames; an operator starting the bot needs one
sentence: what is wrong with LOOPKEEPER_DATABASE_URL and what to do about it.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.core.startup_errors import StartupError
from storage.database import redact_url

VARIABLE = "LOOPKEEPER_DATABASE_URL"
EXAMPLES = "sqlite+aiosqlite:///./loopkeeper.db or postgresql+asyncpg://user:password@host/db"
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# SQLSTATEs (PostgreSQL's error codes) of a server that is there but will not have us.
UNKNOWN_DATABASE = "3D000"
REFUSED_LOGIN_CLASS = "28"  # invalid authorization: no such role, wrong password
CANNOT_CONNECT_NOW = ("08", "53", "57P03")  # connection exceptions, out of resources, starting


def url_problem(url: str) -> str | None:
    """Why `url` cannot work before anything connects: unparseable, a driver that is not
    async, or one that is not installed. None when it may work."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"{VARIABLE} is not a database URL: use {EXAMPLES}."
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    wanted = ASYNC_DRIVERS.get(backend)
    shown = redact_url(parsed)
    if wanted is not None and driver != wanted:
        fixed = parsed.set(drivername=f"{backend}+{wanted}")
        return (
            f"{VARIABLE}={shown} names no async driver loopkeeper can use: "
            f"write {backend}+{wanted}:// (e.g. {redact_url(fixed)})."
        )
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"{VARIABLE}={shown}: SQLAlchemy knows no database '{parsed.drivername}'."
    try:
        dialect.import_dbapi()
    except ImportError:
        if driver == "asyncpg":
            return (
                f"{VARIABLE} names PostgreSQL but its driver asyncpg is not installed: "
                'pip install "loopkeeper[postgres]".'
            )
        return f"{VARIABLE}={shown} needs the Python package {driver}, which is not installed."
    if not dialect.is_async:
        return f"{VARIABLE}={shown} names a driver that is not async: use {EXAMPLES}."
    return None


def explain_failure(error: BaseException, url: str) -> str | None:
    """One line for a database that could not be reached or opened; None when `error` is
    something else (a bug, which keeps its traceback)."""
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    shown = redact_url(parsed)
    for cause in _chain(error):
        state = str(getattr(cause, "sqlstate", "") or "")
        message = _first_line(cause)
        if state == UNKNOWN_DATABASE:
            return (
                f'Database "{parsed.database}" does not exist on the PostgreSQL server at '
                f"{where}: create it (createdb -h {parsed.host or 'localhost'} "
                f"-p {parsed.port or 5432} -U {parsed.username or 'postgres'} "
                f"{parsed.database}) or fix {VARIABLE}."
            )
        if state.startswith(REFUSED_LOGIN_CLASS):
            return (
                f"The PostgreSQL server at {where} refused to log in ({message}): "
                f"fix the user or password in {VARIABLE}."
            )
        if state.startswith(CANNOT_CONNECT_NOW):
            return f"The PostgreSQL server at {where} cannot take connections now: {message}."
        if isinstance(cause, socket.gaierror):
            return f"Cannot find the database host {parsed.host!r} ({message}): check {VARIABLE}."
        if isinstance(cause, ConnectionRefusedError | TimeoutError):
            return (
                f"Cannot connect to the database server at {where} ({message}): is it "
                f"running, and is {VARIABLE} its address?"
            )
        if parsed.get_backend_name() == "sqlite" and _cannot_open(cause):
            return (
                f"Cannot open the SQLite database {parsed.database} ({message}): check "
                f"{VARIABLE} and that its directory exists and is writable."
            )
        if isinstance(cause, OSError):
            return f"Cannot reach the database {shown} ({message}): check {VARIABLE}."
    return None


def _cannot_open(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return True
    # Not every OperationalError: "no such table" in a migration is a bug, not a setting.
    text = str(error)
    return isinstance(error, sqlite3.OperationalError) and (
        "unable to open" in text or "readonly" in text
    )


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def upgrade_or_refuse(url: str) -> None:
    """Migrate the database at `url` (storage.migrate.upgrade); a URL or a database that cannot
    work is a StartupError naming the fix, anything else keeps its traceback."""
    from storage.migrate import upgrade

    problem = url_problem(url)
    if problem is not None:
        raise StartupError(problem)
    try:
        upgrade(url)
    except Exception as error:
        line = explain_failure(error, url)
        if line is None:
            raise
        raise StartupError(line) from None
