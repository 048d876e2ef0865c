"""`POST /api/v1/volume`: an AI app says how many outputs it served, so the digest can give flag
rates per 1,000 outputs (bot/core/volume.py). Optional; same bearer token as the ingest API.

Total like `POST /api/v1/reports`: the token is checked before the body is read, the body is
parsed with bounds, every invalid field is reported at once, and only a passing database fault
answers 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError

from bot.core.json_input import BodyError, invalid_text, parse_json
from bot.core.log_context import bound
from bot.core.ports import Clock
from bot.core.routing_rules import Routing
from bot.core.volume import OutputVolume, VolumeLog
from handlers.api import INVALID, RETRY_AFTER_SECONDS, IsTransient, _authorized, _error
from handlers.api_schema import Id, Problems

MAX_BODY = 4096
"""Bytes: a volume report is a handful of short fields."""
MAX_COUNT = 10**12


def _iso_text(value: object) -> object:
    # JSON's numbers are not days, though pydantic would read 0 as 1970-01-01.
    if not isinstance(value, str):
        raise ValueError("must be an ISO date like 2026-02-12")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_text)]


class ApiVolume(BaseModel):
    """Outputs served by one system × prompt version × model on one day (its total so far)."""

    model_config = ConfigDict(extra="forbid")

    system: Id
    prompt_version: Id | None = None
    model: Id | None = None
    day: IsoDay = Field(description="ISO date, the day in the AI app's own reckoning")
    # Strict: JSON `false` or "7" is not a count, though pydantic would read them as 0 and 7.
    count: StrictInt = Field(ge=0, le=MAX_COUNT, description="outputs served that day (a total)")


def volume_route(
    token: str, routing: Routing, log_volume: VolumeLog, clock: Clock, *, is_transient: IsTransient
) -> Callable[[web.Request], Awaitable[web.Response]]:
    expected = token.encode("utf-8")

    async def handle(request: web.Request) -> web.Response:
        with bound(platform="api"):
            return await _handle(request)

    async def _handle(request: web.Request) -> web.Response:
        if not _authorized(request.headers.get("Authorization"), expected):
            return _error(401, "missing or wrong bearer token")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"the body is larger than {MAX_BODY} bytes")
        try:
            data = await request.read()
            if len(data) > MAX_BODY:  # chunked, so no Content-Length to check first
                return _error(413, f"the body is larger than {MAX_BODY} bytes")
            raw = parse_json(data, max_depth=2)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"the body is larger than {MAX_BODY} bytes")
        except web.RequestPayloadError as error:
            return _error(400, f"the body could not be read: {error}")
        except BodyError as error:
            return _error(400, str(error))
        if not isinstance(raw, dict):
            return _error(400, "the body must be a JSON object")
        body, problems = _validated(raw, routing, clock.now().date())
        if body is None:
            return web.json_response(problems.response(), status=INVALID)
        volume = OutputVolume(
            system_id=body.system,
            prompt_version=body.prompt_version,
            model=body.model,
            day=body.day,
            count=body.count,
        )
        try:
            await log_volume.record_volume(volume)
        except Exception as error:
            return _failed(error, is_transient)
        return web.json_response(body.model_dump(mode="json"))

    return handle


def _validated(
    raw: dict[str, Any], routing: Routing, today: date
) -> tuple[ApiVolume | None, Problems]:
    problems = Problems()
    broken = invalid_text(raw)
    if broken is not None:
        problems.add(broken, "contains invalid Unicode (a lone surrogate)")
        return None, problems
    body: ApiVolume | None = None
    try:
        body = ApiVolume.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "body"
            problems.add(field, str(item["msg"]).removeprefix("Value error, "))
    system = raw.get("system")
    if isinstance(system, str) and "system" not in problems and routing.system(system) is None:
        known = ", ".join(s.id for s in routing.systems)
        problems.add("system", f"unknown system '{system}'; one of: {known}")
    # A day ahead is allowed: the app's time zone may be ahead of ours.
    day = body.day if body is not None else _day(raw.get("day"))
    if day is not None and "day" not in problems and day > today + timedelta(days=1):
        problems.add("day", f"{day} is in the future")
    return (None if problems else body), problems


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _failed(error: Exception, is_transient: IsTransient) -> web.Response:
    if is_transient(error):
        logging.getLogger(__name__).warning("volume: database unavailable, answered 503: %r", error)
        response = _error(503, "the database is unavailable; try again shortly")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    logging.getLogger(__name__).error("volume: not stored: %r", error)
    return _error(INVALID, f"the volume could not be stored ({type(error).__name__})")
