"""POST /api/messages: Bot Framework activities in, through botbuilder's CloudAdapter.

Not `CloudAdapter.process()`: in botbuilder 4.17.1 it answers 500 to every invoke that returns
a body and crashes on a missing Content-Type. This handler validates the request itself, checks
the token (botbuilder's JwtTokenValidation, off the event loop), runs
`adapter.process_activity(...)` and serialises the invoke response.

Without MICROSOFT_APP_ID the endpoint runs in local emulator mode: no token is checked, so only
loopback clients are served (anyone else gets 403), and production refuses to start this way.

The route is total. With an app id, a request without a Bearer token is refused before its body
is read; a body that is no activity is a 400; an activity the bot cannot use is logged in one
line and acknowledged (an invoke gets its usual error answer), because Teams would only resend
it. Only a passing database fault answers 503, so that Teams tries again.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes

from bot.core.json_input import BodyError, invalid_text, parse_json
from bot.core.log_context import bound
from handlers.teams.activities import TeamsActivities
from handlers.teams.connector import BotConnector
from handlers.teams.refusals import refusal

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_DEPTH = 64
"""Levels of nesting: an Adaptive Card inside a flagged message nests deeply, but not this."""

IsTransient = Callable[[BaseException], bool]


class TeamsEndpoint:
    def __init__(
        self,
        adapter: CloudAdapter,
        connector: BotConnector,
        activities: TeamsActivities,
        *,
        authenticated: bool,
        is_transient: IsTransient,
    ) -> None:
        self._adapter = adapter
        self._connector = connector
        self._activities = activities
        self._authenticated = authenticated
        self._is_transient = is_transient

    async def handle(self, request: web.Request) -> web.Response:
        with bound(platform="teams"):
            return await self._handle(request)

    async def _handle(self, request: web.Request) -> web.Response:
        if not self._authenticated and not _is_loopback(request.remote):
            return _error(
                HTTPStatus.FORBIDDEN,
                "Teams is in local emulator mode (no MICROSOFT_APP_ID): loopback clients only",
            )
        auth_header = request.headers.get("Authorization", "")
        if self._authenticated and not _bearer(auth_header):
            return _error(HTTPStatus.UNAUTHORIZED, "missing or invalid Bot Framework token")
        if request.content_type != "application/json":
            return _error(HTTPStatus.BAD_REQUEST, "Content-Type must be application/json")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "activity too large")
        try:
            raw = parse_json(await request.read(), max_depth=MAX_DEPTH)
        except web.HTTPRequestEntityTooLarge:  # chunked, so no Content-Length to check first
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "activity too large")
        except web.RequestPayloadError as error:  # e.g. Content-Encoding: gzip, but not gzip
            return _error(HTTPStatus.BAD_REQUEST, f"the body could not be read: {error}")
        except BodyError as error:
            return _error(HTTPStatus.BAD_REQUEST, str(error))
        problem = _activity_problem(raw)
        if problem is not None:
            return _error(HTTPStatus.BAD_REQUEST, problem)
        assert isinstance(raw, dict)
        try:
            activity = Activity().deserialize(raw)
        except Exception as error:  # msrest raises several kinds for malformed fields
            return _error(HTTPStatus.BAD_REQUEST, f"malformed activity: {error}")
        try:
            if self._authenticated:
                authenticated = await self._connector.authenticate(activity, auth_header)
            else:  # emulator mode: anonymous claims, whatever the request carries
                authenticated = (
                    await self._adapter.bot_framework_authentication.authenticate_request(
                        activity, ""
                    )
                )
        except Exception as error:
            log.info("Teams request refused: %s", error or type(error).__name__)
            return _error(HTTPStatus.UNAUTHORIZED, "missing or invalid Bot Framework token")
        with bound(event_id=raw.get("id")):  # the activity's id, when Teams gave one
            try:
                invoke = await self._adapter.process_activity(
                    authenticated, activity, self._turn(raw)
                )
            except Exception as error:
                return self._failed(raw, error)
        if not isinstance(invoke, InvokeResponse):
            return web.Response(status=HTTPStatus.OK)
        body = invoke.body if invoke.body is not None else {}
        return web.json_response(body, status=int(invoke.status or HTTPStatus.OK))

    def _failed(self, raw: dict[str, Any], error: Exception) -> web.Response:
        """An activity that could not be handled: 503 when trying again may help; otherwise
        one line in the log and the acknowledgement (Teams resending it would fail again)."""
        kind = f"{raw.get('type')}/{raw.get('name')}" if raw.get("name") else raw.get("type")
        if self._is_transient(error):
            log.warning("Teams %s activity: database unavailable, answered 503: %r", kind, error)
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "the bot's database is unavailable")
        log.error("Teams %s activity ignored, it could not be handled: %r", kind, error)
        if raw.get("type") != ActivityTypes.invoke:
            return web.Response(status=HTTPStatus.OK)
        return web.json_response(refusal(raw.get("name")), status=int(HTTPStatus.OK))

    def _turn(self, raw: dict[str, Any]) -> Callable[[TurnContext], Awaitable[None]]:
        """The bot's turn: handle the activity; an invoke's answer becomes its response."""

        async def on_turn(context: TurnContext) -> None:
            body = await self._activities.handle(raw)
            if context.activity.type == ActivityTypes.invoke:
                await context.send_activity(
                    Activity(
                        type=ActivityTypes.invoke_response,
                        value=InvokeResponse(status=int(HTTPStatus.OK), body=body or {}),
                    )
                )

        return on_turn


def _bearer(header: str) -> bool:
    """Whether an Authorization header has a token's shape: `Bearer <ASCII>`. Anything else
    is refused before the body is read (botbuilder validates the token itself later)."""
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip()) and token.isascii()


def _activity_problem(raw: object) -> str | None:
    """Why a parsed body is not an activity we can handle, or None."""
    if not isinstance(raw, dict):
        return "an activity must be a JSON object"
    broken = invalid_text(raw)
    if broken is not None:
        return f"'{broken}' holds invalid Unicode (a lone surrogate)"
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        return "an activity needs a 'type'"
    service_url = raw.get("serviceUrl")
    if not isinstance(service_url, str) or urlsplit(service_url).scheme not in ("http", "https"):
        return "an activity needs an http(s) 'serviceUrl'"
    for name in ("conversation", "from", "recipient"):
        if name in raw and not isinstance(raw[name], dict):
            return f"'{name}' must be an object"
    conversation = raw.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
        return "an activity needs a 'conversation' with an 'id'"
    return None


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _error(status: HTTPStatus, message: str) -> web.Response:
    return web.json_response({"error": message}, status=int(status))
