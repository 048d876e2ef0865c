"""What the ingest API's routes share: the bearer check, error bodies, retry advice."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.core.json_input import BodyError, parse_json

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


async def json_object(
    request: web.Request, token: bytes, *, max_body: int, max_depth: int
) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the 4xx that says why there is none: the token is checked
    before the body is read, and the body is read with bounds."""
    if not authorized(request.headers.get("Authorization"), token):
        return error_response(401, "missing or wrong bearer token")
    too_large = error_response(413, f"the body is larger than {max_body} bytes")
    if request.content_length is not None and request.content_length > max_body:
        return too_large
    try:
        data = await request.read()
        if len(data) > max_body:  # chunked, so no Content-Length to check first
            return too_large
        raw = parse_json(data, max_depth=max_depth)
    except web.HTTPRequestEntityTooLarge:
        return too_large
    except web.RequestPayloadError as error:  # e.g. Content-Encoding: gzip, but not gzip
        return error_response(400, f"the body could not be read: {error}")
    except BodyError as error:
        return error_response(400, str(error))
    if not isinstance(raw, dict):
        return error_response(400, "the body must be a JSON object")
    return raw


def unavailable(log: logging.Logger, what: str, error: BaseException) -> web.Response:
    """503 with Retry-After: the database is passing through a fault, so trying again helps."""
    log.warning("%s: database unavailable, answered 503: %r", what, error)
    response = error_response(503, "the database is unavailable; try again shortly")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
