"""Factories for the Slack edge: Web API client, bolt app, the `/slack/events` route."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import Clock
from handlers.slack.listeners import SlackIntake
from handlers.slack.triage import SlackTriage

log = logging.getLogger(__name__)


class ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Waits out a short rate limit in place; longer ones fail fast to the outbox's backoff,
    which honours Retry-After without holding a request open."""

    def __init__(self, max_wait_seconds: float = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_wait_seconds = max_wait_seconds

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        waits = [v for k, v in response.headers.items() if k.lower() == "retry-after"]
        try:
            wait = float(waits[0][0]) if waits else 1.0
        except (TypeError, ValueError, IndexError):
            return False
        return wait <= self.max_wait_seconds


NOT_REPEATABLE = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage"})
"""Methods whose call Slack may have carried out before answering 500: repeating one in place
would post twice. The outbox retries them instead, after looking for a card already posted."""


class RepeatableServerErrorRetry(AsyncServerErrorRetryHandler):
    """Retries a 500 or 503 in place, except for calls that post something (NOT_REPEATABLE)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.rstrip("/").rsplit("/", 1)[-1] in NOT_REPEATABLE:
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


def build_web_client(token: str, base_url: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    """One client over the shared session, retrying rate limits, 5xx (but see
    RepeatableServerErrorRetry) and dropped connections."""
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            ShortRateLimitRetry(max_retry_count=1),
            RepeatableServerErrorRetry(max_retry_count=2),
        ],
    )


def build_bolt_app(client: AsyncWebClient, intake: SlackIntake, triage: SlackTriage) -> AsyncApp:
    app = AsyncApp(
        client=client,
        # The route verifies signatures itself so it can answer 401 before parsing anything.
        request_verification_enabled=False,
        # Listeners finish (the report is committed) before Slack gets its ack.
        process_before_response=True,
        raise_error_for_unhandled_request=True,
    )
    intake.register(app)
    triage.register(app)
    app.error(_on_error)
    return app


async def _on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    if isinstance(error, BoltUnhandledRequestError):
        log.info(
            "ignored Slack request nobody handles: type=%s callback_id=%s command=%s",
            body.get("type"),
            body.get("callback_id") or (body.get("view") or {}).get("callback_id"),
            body.get("command"),
        )
        return BoltResponse(status=200, body="")
    log.error("Slack listener failed: %s", error, exc_info=error)
    # 500 makes Slack retry an event; the delivery key keeps a retry from filing twice.
    return BoltResponse(status=500, body="")


class _EpochClock:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


AcceptReaction = Callable[[dict[str, Any], str], Awaitable[None]]


def events_route(
    app: AsyncApp,
    signing_secret: str,
    clock: Clock,
    accept_reaction: AcceptReaction | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`POST /slack/events`: 401 unless signed by Slack, 400 unless parseable, then bolt.

    Reactions, the high-volume path, skip bolt: `accept_reaction` commits the raw event to the
    inbox and Slack gets its ack at once; the inbox worker files the report.
    """
    verifier = SignatureVerifier(signing_secret, clock=_EpochClock(clock))  # type: ignore[arg-type]

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.json_response({"error": "invalid or stale Slack signature"}, status=401)
        problem, parsed = _parse(body, request.content_type)
        if problem:
            return web.json_response({"error": problem}, status=400)
        event = parsed.get("event") if parsed else None
        if (
            accept_reaction is not None
            and parsed is not None
            and parsed.get("type") == "event_callback"
            and isinstance(event, dict)
            and event.get("type") == "reaction_added"
        ):
            await accept_reaction(event, str(parsed.get("event_id") or event.get("event_ts")))
            return web.Response(status=200)
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    return handle


def _parse(body: bytes, content_type: str) -> tuple[str | None, dict[str, Any] | None]:
    """(problem, JSON body): the problem when malformed; the body when it is Events API JSON."""
    if content_type == "application/json":
        try:
            parsed = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return f"body is not valid JSON: {getattr(error, 'msg', error)}", None
        if not isinstance(parsed, dict) or "type" not in parsed:
            return "JSON body must be an object with a 'type'", None
        return None, parsed
    return _malformed_form(body), None


def _malformed_form(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except json.JSONDecodeError as error:
            return f"payload is not valid JSON: {error.msg}"
        if not isinstance(payload, dict) or "type" not in payload:
            return "payload must be an object with a 'type'"
        return None
    if "command" in form or "ssl_check" in form:
        return None  # a slash command, or Slack checking our certificate (bolt answers it)
    return "expected an Events API JSON body, an interactivity payload or a slash command"
