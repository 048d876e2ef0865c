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
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError)
