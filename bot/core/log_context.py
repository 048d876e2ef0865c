"""What a log line is about: the case, the platform event, the platform, the HTTP request.

Bound where the code has them at hand (an edge that parsed a request, the outbox sending a
case's message, a timer firing for a case) and read by the log formatter, so a line written
deep inside the core says which case and request it belongs to without every call passing
them along. A contextvar, so concurrent requests and tasks never see each other's context; a
task started inside a request (the work after its ack) inherits it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

FIELDS = ("case", "event_id", "platform", "request_id")
"""The context a log line may carry, by the names it has in a JSON log line."""

MAX_VALUE = 100
"""Characters of a bound value: ids from outside are short, and a log line must stay one."""

_EMPTY: Mapping[str, str | int] = MappingProxyType({})
_context: ContextVar[Mapping[str, str | int]] = ContextVar("loopkeeper_log_context", default=_EMPTY)


@contextlib.contextmanager
def bound(
    *,
    case: object = None,
    event_id: object = None,
    platform: str | None = None,
    request_id: str | None = None,
) -> Iterator[None]:
    """Add these fields (those not None) to every log line written inside the block. Ids may
    come from a payload of any shape: each is written as it is when an int, else as text."""
    given = {"case": case, "event_id": event_id, "platform": platform, "request_id": request_id}
    added = {name: _safe(value) for name, value in given.items() if value is not None}
    token = _context.set(MappingProxyType({**_context.get(), **added}))
    try:
        yield
    finally:
        _context.reset(token)


def current() -> Mapping[str, str | int]:
    """The fields bound where the caller runs (empty outside any block)."""
    return _context.get()


def _safe(value: object) -> str | int:
    """A value fit for a log line: an int as it is; anything else printable, on one line, short
    (an event id comes from outside and is not trusted to be either)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value)[:MAX_VALUE])
    return text
