"""Factories for the Slack edge: Web API client, bolt app, the `/slack/events` route."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.log_context import bound
from bot.core.ports import Clock
from handlers.slack.listeners import SlackIntake
from handlers.slack.payloads import Unreadable, problem_with, read_body
from handlers.slack.signature import is_signed
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


IsTransient = Callable[[BaseException], bool]
"""Whether an error is a passing fault (the database down or locked) worth a retry by Slack."""


class _SameTokenTwice(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment when given a client, then warns on
    every start that the client's token wins: it is the same token, and the line is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_bolt_app(
    client: AsyncWebClient,
    intake: SlackIntake,
    triage: SlackTriage,
    *,
    is_transient: IsTransient,
) -> AsyncApp:
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _SameTokenTwice) for f in bolt_log.filters):
        bolt_log.addFilter(_SameTokenTwice())
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
    app.error(_error_handler(is_transient))
    return app


def _error_handler(
    is_transient: IsTransient,
) -> Callable[[Exception, dict[str, Any]], Awaitable[BoltResponse]]:
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        if isinstance(error, BoltUnhandledRequestError):
            log.info("ignored Slack request nobody handles: %s", _described(body))
            return BoltResponse(status=200, body="")
        return BoltResponse(status=failure_status(error, body, is_transient), body="")

    return on_error


def failure_status(error: BaseException, body: dict[str, Any], is_transient: IsTransient) -> int:
    """Log a failed Slack request in one line; the status to answer it with.

    A passing fault gets 500, so Slack retries (the delivery key keeps a retry from filing
    twice); anything else would fail the same way again, so it is acknowledged.
    """
    if is_transient(error):
        log.error(
            "Slack request failed on a passing fault, Slack will retry: %s (%s)",
            _error_line(error),
            _described(body),
        )
        return 500
    log.warning(
        "Slack request failed and was acknowledged: %s (%s)", _error_line(error), _described(body)
    )
    return 200


def _error_line(error: BaseException) -> str:
    """The error's type, message and where it was raised: enough to find it, on one line."""
    message = " ".join(str(error).split())[:300]
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {message}{where}"


def _described(body: Any) -> str:
    """Which request this was, for a log line: its kind and callback, never its content."""
    if not isinstance(body, dict):
        return "unreadable body"
    view, event = body.get("view"), body.get("event")
    view = view if isinstance(view, dict) else {}
    event = event if isinstance(event, dict) else {}
    parts = {
        "type": body.get("type"),
        "event": event.get("type"),
        "callback_id": body.get("callback_id") or view.get("callback_id"),
        "command": body.get("command"),
    }
    return " ".join(f"{k}={_shown(v)}" for k, v in parts.items() if v)


def _shown(value: Any) -> str:
    return str(value)[:60].encode("unicode_escape").decode("ascii")


AcceptReaction = Callable[[dict[str, Any], str], Awaitable[None]]

MAX_BODY_BYTES = 1024 * 1024
"""Slack's largest requests (a modal's state, a message with blocks) are tens of kilobytes."""


def events_route(
    app: AsyncApp,
    signing_secret: str,
    clock: Clock,
    accept_reaction: AcceptReaction | None = None,
    *,
    is_transient: IsTransient,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`POST /slack/events`: 401 unless signed by Slack, 400 unless readable, an acknowledged
    ignore when malformed, then bolt.

    Reactions, the high-volume path, skip bolt: `accept_reaction` commits the raw event to the
    inbox and Slack gets its ack at once; the inbox worker files the report.
    """

    async def handle(request: web.Request) -> web.Response:
        with bound(platform="slack"):
            return await _handle(request)

    async def _handle(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        body = await request.read()  # aiohttp refuses more than client_max_size (1 MiB)
        if not is_signed(body, request.headers, signing_secret, clock.now().timestamp()):
            return web.json_response({"error": "invalid or stale Slack signature"}, status=401)
        try:
            parsed = read_body(body, request.headers.get("Content-Type", ""))
        except Unreadable as unreadable:
            return web.json_response({"error": str(unreadable)}, status=400)
        problem = problem_with(parsed)
        if problem is not None:
            log.warning("malformed Slack request ignored: %s (%s)", problem, _described(parsed))
            return web.Response(status=200)
        try:
            with bound(event_id=parsed.get("event_id")):  # checked by problem_with: an id
                return await _dispatch(request, body, parsed)
        except Exception as error:  # a listener or bolt itself tripped on this request
            return web.Response(status=failure_status(error, parsed, is_transient))

    async def _dispatch(request: web.Request, raw: bytes, parsed: dict[str, Any]) -> web.Response:
        event = parsed.get("event")
        if (
            accept_reaction is not None
            and parsed.get("type") == "event_callback"
            and isinstance(event, dict)
            and event.get("type") == "reaction_added"
        ):
            await accept_reaction(event, str(parsed.get("event_id") or event.get("event_ts")))
            return web.Response(status=200)
        bolt_response = await app.async_dispatch(_bolt_request(request, raw, parsed))
        return await to_aiohttp_response(bolt_response)

    return handle


def _bolt_request(request: web.Request, raw: bytes, parsed: dict[str, Any]) -> AsyncBoltRequest:
    """The request for bolt, carrying the body as we read and checked it.

    Bolt would parse the raw body again by its own rules, which differ from ours: a slash
    command whose text contains the word "payload" reads to it as an empty interactivity form.
    """
    # Slack never sends bolt's own X-Slack-Bolt-* headers (they steer lazy listeners).
    headers: dict[str, str | Sequence[str]] = {
        k: v for k, v in request.headers.items() if not k.lower().startswith(_BOLT_ONLY)
    }
    bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=headers)
    bolt_request.raw_body = raw.decode("utf-8")
    bolt_request.body = parsed
    bolt_request.context = build_async_context(AsyncBoltContext({}), parsed)
    return bolt_request


_BOLT_ONLY = "x-slack-bolt-"
