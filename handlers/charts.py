"""`GET /charts/<token>.png`: the digest charts Teams cards show (digests/chart_links.py).

Answers 404 alike for a token that is malformed, unknown or expired, so a prober learns nothing;
503 while the database cannot be read. Never a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.ports import Clock
from digests.chart_links import ChartImages

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[A-Za-z0-9_-]{20,86}\.png")
"""What `secrets.token_urlsafe` makes, then `.png`; anything else is not worth a query."""
NOT_FOUND = {"error": "No such chart: it may have expired (charts are kept 30 days)."}


def chart_route(
    images: ChartImages, clock: Clock
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        name = request.match_info.get("name", "")
        if not TOKEN.fullmatch(name):
            return web.json_response(NOT_FOUND, status=404)
        try:
            png = await images.chart(name.removesuffix(".png"), clock.now())
        except Exception as error:  # the database is down or busy: say so, Teams asks again
            log.warning("could not read a chart: %r", error)
            return web.json_response(
                {"error": "The chart cannot be read right now."},
                status=503,
                headers={"Retry-After": "30"},
            )
        if png is None:
            return web.json_response(NOT_FOUND, status=404)
        return web.Response(
            body=png,
            content_type="image/png",
            headers={
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return handle
