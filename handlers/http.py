"""The aiohttp application: every HTTP route of README → HTTP routes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from handlers.http_log import request_error_log
from handlers.request_context import request_context

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]
Readiness = Callable[[], Awaitable[dict[str, str]]]


@dataclass
class Routes:
    readiness: Readiness
    registry: CollectorRegistry
    slack_events: Handler | None = None
    ingest_reports: Handler | None = None
    ingest_openapi: Handler | None = None
    ingest_volume: Handler | None = None  # POST /api/v1/volume (handlers/api_volume.py)
    teams_messages: Handler | None = None
    status: Handler | None = None  # GET /status (handlers/status.py)
    charts: Handler | None = None  # GET /charts/<token>.png (handlers/charts.py)
    refresh_metrics: Callable[[], Awaitable[None]] | None = None
    """Reads what the gauges show from the database, before each scrape."""


def build_http_app(routes: Routes) -> web.Application:
    requests = Counter(
        "loopkeeper_http_requests",
        "HTTP requests by route and status",
        ["route", "status"],
        registry=routes.registry,
    )
    latency = Histogram(
        "loopkeeper_http_request_seconds",
        "Time to answer an HTTP request, by route",
        ["route"],
        registry=routes.registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )

    @web.middleware
    async def measure(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "unmatched"
        )
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            latency.labels(route).observe(time.perf_counter() - started)
            requests.labels(route, str(status)).inc()

    app = web.Application(
        middlewares=[request_context, measure], handler_args={"logger": request_error_log()}
    )
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz(routes.readiness))
    app.router.add_get("/metrics", _metrics(routes.registry, routes.refresh_metrics))
    if routes.status:
        app.router.add_get("/status", routes.status)
    app.router.add_post("/slack/events", routes.slack_events or _off("Slack", _SLACK_HINT))
    app.router.add_post(
        "/api/v1/reports", routes.ingest_reports or _off("The ingest API", _INGEST_HINT)
    )
    app.router.add_post(
        "/api/v1/volume", routes.ingest_volume or _off("The ingest API", _INGEST_HINT)
    )
    if routes.ingest_openapi:
        app.router.add_get("/api/v1/openapi.json", routes.ingest_openapi)
    if routes.teams_messages:
        app.router.add_post("/api/messages", routes.teams_messages)
    if routes.charts:
        app.router.add_get("/charts/{name}", routes.charts)
    return app


_SLACK_HINT = "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"
_INGEST_HINT = "set LOOPKEEPER_INGEST_TOKEN"


def _off(what: str, hint: str) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response({"error": f"{what} is not configured: {hint}"}, status=503)

    return handle


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _readyz(readiness: Readiness) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        checks = await readiness()
        ready = all(value == "ok" for value in checks.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    return handle


def _metrics(registry: CollectorRegistry, refresh: Callable[[], Awaitable[None]] | None) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        if refresh is not None:
            try:
                await refresh()
            except Exception as error:  # the other metrics still answer; these keep their last
                log.warning("could not read the queue sizes for /metrics: %r", error)
        response = web.Response(body=generate_latest(registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    return handle
