"""Which database errors the edges treat as passing (5xx, retry) rather than a bad request."""

from __future__ import annotations

from sqlalchemy import exc

from storage.faults import is_transient


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str) -> exc.DBAPIError:
    return exc.DBAPIError("SELECT 1", None, _DriverError(sqlstate))


def test_a_server_that_cannot_take_connections_now_is_a_passing_fault() -> None:
    assert is_transient(_wrapped("57P03"))  # cannot_connect_now: starting up
    assert is_transient(_wrapped("53300"))  # too_many_connections
    assert is_transient(_wrapped("08006"))  # connection_failure
    assert is_transient(_wrapped("40P01"))  # deadlock_detected


def test_a_request_the_database_refuses_is_not() -> None:
    assert not is_transient(_wrapped("22021"))  # character_not_in_repertoire (a NUL byte)
    assert not is_transient(_wrapped("54000"))  # program_limit_exceeded (an index row too big)
    assert not is_transient(ValueError("no such category"))


def test_a_refused_connection_is() -> None:
    assert is_transient(ConnectionRefusedError(111, "Connect call failed"))
