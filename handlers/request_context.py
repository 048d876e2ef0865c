"""A request id for every HTTP request: bound to its log lines, echoed in `X-Request-Id`, so
an operator can go from a client's complaint (or a load balancer's log) to the bot's lines.

And the optional access log: one line per request, through the same log handler (JSON in JSON
mode), carrying the request id too.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from bot.core.log_context import bound

REQUEST_ID = "X-Request-Id"

# A proxy's or a client's id is kept when it is one: short and printable, no spaces, so a log
# line stays one line. Anything else is replaced, not trusted into the log.
_SANE = re.compile(r"[!-~]{1,64}")

MAX_PATH = 200
"""Characters of a request's path in the access log: enough to tell routes apart."""


def request_id_of(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID, "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def request_context(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bind a request id to every log line written while the request is handled."""
    request_id = request_id_of(request)
    with bound(request_id=request_id):
        try:
            response = await handler(request)
        except web.HTTPException as error:  # a 404 or 405 from the router is an answer too
            error.headers[REQUEST_ID] = request_id
            raise
    response.headers[REQUEST_ID] = request_id
    return response


class AccessLog(AbstractAccessLogger):
    """`remote "METHOD path" status bytes seconds`, with the request id as context."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = request.rel_url.raw_path[:MAX_PATH]
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            path,
            response.status,
            response.body_length,
            time,
            extra={"request_id": response.headers.get(REQUEST_ID, "-")},
        )


def access_log_options(enabled: bool) -> dict[str, Any]:
    """The `web.AppRunner` keywords for the access log, on or off."""
    if not enabled:
        return {"access_log": None}
    return {"access_log": logging.getLogger("aiohttp.access"), "access_log_class": AccessLog}
