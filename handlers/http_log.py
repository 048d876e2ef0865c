"""The logger aiohttp's server reports request errors to: one line for a malformed request.

aiohttp answers a request it cannot parse (a header with control characters, a bad request
line, a body that says gzip but is not) with 400, then logs the parser's error with a full
traceback at ERROR, the body's even after the route answered. That is a client's mistake, not
the bot's: anyone who can reach the port could fill the log with tracebacks. Such errors become
one WARNING line; every other error keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError


class RequestErrorLog(logging.LoggerAdapter[logging.Logger]):
    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(error, HttpProcessingError | RequestPayloadError):
            detail = " ".join(str(error).split())
            self.logger.warning(f"{msg}: malformed request: %s", *args, detail)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def request_error_log() -> RequestErrorLog:
    return RequestErrorLog(logging.getLogger("aiohttp.server"), {})
