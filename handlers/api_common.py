"""What the ingest API's routes share: the bearer check, error bodies, retry advice."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web

RETRY_AFTER_SECONDS = 5

INVALID = 422
"""Well-formed JSON with invalid fields (README's contract; a body that is no JSON is 400)."""

IsTransient = Callable[[BaseException], bool]


def error_response(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
        body["fields"] = {field: message}
    return web.json_response(body, status=status)


def authorized(header: str | None, token: bytes) -> bool:
    """Whether `Authorization` is `Bearer <token>`, compared in constant time.

    aiohttp hands header bytes that are not UTF-8 over as surrogate escapes; such a header
    can never carry our token, and encoding it must not crash the route."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        candidate = given.strip().encode("utf-8")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(candidate, token)
