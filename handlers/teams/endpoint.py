"""POST /api/messages: Bot Framework activities in, through botbuilder's CloudAdapter.

Not `CloudAdapter.process()`: in botbuilder 4.17.1 it answers 500 to every invoke that returns
a body and crashes on a missing Content-Type. This handler validates the request itself, checks
the token (botbuilder's JwtTokenValidation, off the event loop), runs
`adapter.process_activity(...)` and serialises the invoke response.

Without MICROSOFT_APP_ID the endpoint runs in local emulator mode: no token is checked, so only
loopback clients are served (anyone else gets 403), and production refuses to start this way.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes

from handlers.teams.activities import TeamsActivities
from handlers.teams.connector import BotConnector

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


class TeamsEndpoint:
    def __init__(
        self,
        adapter: CloudAdapter,
        connector: BotConnector,
        activities: TeamsActivities,
        *,
        authenticated: bool,
    ) -> None:
        self._adapter = adapter
        self._connector = connector
        self._activities = activities
        self._authenticated = authenticated

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authenticated and not _is_loopback(request.remote):
            return _error(
                HTTPStatus.FORBIDDEN,
                "Teams is in local emulator mode (no MICROSOFT_APP_ID): loopback clients only",
            )
        if request.content_type != "application/json":
            return _error(HTTPStatus.BAD_REQUEST, "Content-Type must be application/json")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "activity too large")
        try:
            raw = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(HTTPStatus.BAD_REQUEST, "the body is not valid JSON")
        problem = _activity_problem(raw)
        if problem is not None:
            return _error(HTTPStatus.BAD_REQUEST, problem)
        try:
            activity = Activity().deserialize(raw)
        except Exception as error:  # msrest raises several kinds for malformed fields
            return _error(HTTPStatus.BAD_REQUEST, f"malformed activity: {error}")
        auth_header = request.headers.get("Authorization", "")
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
        try:
            invoke = await self._adapter.process_activity(authenticated, activity, self._turn(raw))
        except Exception:
            log.exception("handling Teams %s activity failed", raw.get("type"))
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "the bot failed on this activity")
        if not isinstance(invoke, InvokeResponse):
            return web.Response(status=HTTPStatus.OK)
        body = invoke.body if invoke.body is not None else {}
        return web.json_response(body, status=int(invoke.status or HTTPStatus.OK))

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


def _activity_problem(raw: object) -> str | None:
    """Why a parsed body is not an activity we can handle, or None."""
    if not isinstance(raw, dict):
        return "an activity must be a JSON object"
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
