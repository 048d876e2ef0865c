"""Which errors from the database are passing faults, as opposed to a bad request.

Edges answer a passing fault with 5xx (so Slack, Teams or an API client tries again) and
anything else with an acknowledgement or a 4xx: a deterministic failure repeated three more
times by Slack's retries helps nobody.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import exc


def is_transient(error: BaseException) -> bool:
    """True when trying again later may succeed: the database is down, locked or slow."""
    if isinstance(error, ConnectionError | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(error, OSError):
        return True
    if isinstance(error, exc.DBAPIError) and (
        error.connection_invalidated or _passing_sqlstate(error.orig)
    ):
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError)


# PostgreSQL's SQLSTATE classes that name a passing state of the server, not of the request:
# connection exceptions, a server starting or shutting down, too many connections,
# serialization failures and deadlocks (which a retry resolves).
_PASSING_CLASSES = ("08", "53", "57P", "40001", "40P01")


def _passing_sqlstate(orig: BaseException | None) -> bool:
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(code, str) and code.startswith(_PASSING_CLASSES)
