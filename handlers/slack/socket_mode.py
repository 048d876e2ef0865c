"""Slack over Socket Mode: every envelope is answered, so Slack never redelivers one forever.

Slack redelivers an envelope the app does not ack. Bolt's own Socket Mode handler acks only
when a listener succeeded; a malformed envelope (or one its listener cannot handle) was never
acked and came back again and again. Here, the only envelopes left unacked are those that met
a passing fault (the database down), on purpose, so that Slack tries them again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient

from bot.core.startup_errors import StartupError
from handlers.slack import envelope
from handlers.slack.envelope import Envelope, Malformed
from handlers.slack.payloads import problem_with
from handlers.slack.socket_url import Pause, TokenRefused, open_socket_url, refusal_line

log = logging.getLogger(__name__)

AcceptReaction = Callable[[dict[str, Any], str], Awaitable[None]]
IsTransient = Callable[[BaseException], bool]

CLOSE_GRACE_SECONDS = 10.0
"""How long closing waits for envelopes in hand to be handled (their acks sent)."""

_FAILED = "loopkeeper.socket_mode.error"  # where the error handler leaves a listener's error
_UNHANDLED = "loopkeeper.socket_mode.unhandled"


class _Unacked(Exception):
    """A passing fault: the envelope is left for Slack to redeliver."""


class _Client(SocketModeClient):
    """slack_sdk's aiohttp client, except that reading a message never raises.

    The SDK parses each message with a bare json.loads and logs a traceback when that fails;
    here garbage is one log line, and the handlers of messages in hand are tracked so that
    closing lets them finish.
    """

    in_hand: set[asyncio.Future[None]]
    pause: Pause
    refused: str | None = None
    """Slack's reason for refusing the app-level token; the client is closed then."""
    started: bool = False

    async def issue_new_wss_url(self) -> str:
        try:
            return await open_socket_url(
                self.web_client, self.app_token, self.pause, lambda: self.closed
            )
        except TokenRefused as refusal:
            # Closed, the SDK's connect loop returns instead of asking every ten seconds
            # forever: no retry changes a wrong token.
            self.refused, self.closed = refusal.reason, True
            if self.started:  # at start-up the caller says it, as the reason not to start
                log.error("Slack Socket Mode stopped: %s", refusal_line(refusal.reason))
            raise

    async def discard(self) -> None:
        """Close a client that never connected: `close()` would log an abandoned session."""
        self.closed = True
        if self.message_processor is not None:
            self.message_processor.cancel()
        await self.aiohttp_client_session.close()

    async def process_message(self) -> None:
        raw = await self.message_queue.get()
        if raw is None:
            return
        message = envelope.decode(raw)
        if message is None:
            eid = envelope.envelope_id_in(raw)
            log.warning(
                "ignored a Socket Mode message that is not a readable JSON object "
                "(%d characters, envelope %s)",
                len(raw),
                eid,
            )
            if eid is not None:
                await _ack(self, eid, None)
            return
        task = asyncio.ensure_future(self.run_message_listeners(message, raw))
        self.in_hand.add(task)
        task.add_done_callback(self.in_hand.discard)


class SocketMode:
    """The Socket Mode connection: connect, close, and the answer to every envelope."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        *,
        is_transient: IsTransient,
        accept_reaction: AcceptReaction | None = None,
        ping_interval: float = 10.0,
        pause: Pause = asyncio.sleep,
    ) -> None:
        self._app = app
        self._app_token = app_token
        self._is_transient = is_transient
        self._accept_reaction = accept_reaction
        self._ping_interval = ping_interval
        self.pause = pause  # tests record the pauses instead of waiting them out
        self._client: _Client | None = None
        # This app is Socket Mode's own: its error handler reports to `_dispatch` instead of
        # answering HTTP, so the HTTP route's app keeps its own handler.
        app.error(_remember_error)

    async def connect(self) -> None:
        """Open the connection (apps.connections.open, then the websocket); the SDK reconnects
        when Slack closes it or asks for a new one (`disconnect`). StartupError when Slack
        refuses the app-level token; a network fault is retried with growing pauses."""
        client = _Client(
            app_token=self._app_token,
            logger=_sdk_log(),
            web_client=self._app.client,  # SLACK_API_URL: apps.connections.open goes there too
            ping_interval=self._ping_interval,
        )
        client.in_hand = set()
        client.pause = self.pause
        client.message_listeners.append(self._on_message)  # type: ignore[arg-type]
        self._client = client
        await client.connect()
        if client.refused is not None:
            self._client = None
            await client.discard()
            raise StartupError(refusal_line(client.refused))
        client.started = True

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        in_hand = set(client.in_hand)
        if in_hand:  # acked work finishes before the database goes
            await asyncio.wait(in_hand, timeout=CLOSE_GRACE_SECONDS)
        await client.close()

    async def _on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        """Answer one message from the socket. Never raises: the SDK would log a traceback."""
        eid = envelope.envelope_id(message)
        if eid is None:
            if message.get("type") != "hello":  # hello: the connection is up, nothing to ack
                log.warning(
                    "ignored a Socket Mode message without an envelope id: type=%s",
                    envelope.brief(message.get("type")),
                )
            return
        try:
            answer = await self._answer(envelope.read(message, eid))
        except _Unacked:
            return
        except Malformed as malformed:
            log.warning("ignored malformed Socket Mode envelope %s: %s", eid, malformed.problem)
            answer = None
        except Exception as error:  # a bug or bad input that slipped past the checks
            if self._is_transient(error):
                _log_passing(eid, error)
                return
            log.warning("Socket Mode envelope %s failed, acked and dropped: %s", eid, _line(error))
            answer = None
        await _ack(client, eid, answer)

    async def _answer(self, env: Envelope) -> dict[str, Any] | None:
        """The payload of the ack (None: a bare ack), once the envelope is handled."""
        flagged = envelope.reaction(env)
        if flagged is not None and self._accept_reaction is not None:
            # As over HTTP: committed to the inbox, then acked; the inbox worker files it.
            await self._accept_reaction(*flagged)
            return None
        # The same checks as over HTTP: a payload no listener can use is refused here, in one
        # line naming the envelope, rather than failing later inside a listener.
        problem = problem_with(env.payload)
        if problem is not None:
            raise Malformed(env.id, problem)
        return await self._dispatch(env)

    async def _dispatch(self, env: Envelope) -> dict[str, Any] | None:
        headers: dict[str, str | Sequence[str]] = {}
        if env.retry_attempt is not None:
            headers["x-slack-retry-num"] = str(env.retry_attempt)
        if env.retry_reason:
            headers["x-slack-retry-reason"] = env.retry_reason
        request = AsyncBoltRequest(body=env.payload, headers=headers, mode="socket_mode")
        response = await self._app.async_dispatch(request)
        error = request.context.get(_FAILED)
        if isinstance(error, BaseException):
            if self._is_transient(error):
                # Slack redelivers an unacked events_api envelope (with retry_attempt), and
                # its event_id or the view/action key keeps the retry from filing twice. An
                # unacked interaction is not redelivered: its user sees Slack's "didn't
                # respond" and can try again, which is the truth, since nothing was saved. An
                # ack would tell both that all went well.
                _log_passing(env.id, error)
                raise _Unacked from None
            log.warning(
                "Socket Mode %s envelope %s failed, acked and dropped: %s",
                env.kind,
                env.id,
                _line(error),
            )
            return None
        if request.context.get(_UNHANDLED):
            log.info(
                "ignored Socket Mode %s envelope %s nobody handles: type=%s",
                env.kind,
                env.id,
                envelope.brief(env.payload.get("type") or env.payload.get("command")),
            )
            return None
        return _ack_payload(response)


async def _remember_error(error: Exception, request: AsyncBoltRequest) -> BoltResponse:
    """Bolt's error handler for Socket Mode: `_dispatch` logs and decides, in one place."""
    if isinstance(error, BoltUnhandledRequestError):
        request.context[_UNHANDLED] = True
    else:
        request.context[_FAILED] = error
    return BoltResponse(status=200, body="")


def _ack_payload(response: BoltResponse) -> dict[str, Any] | None:
    """What bolt's ack() said, as Slack expects it in the ack's payload."""
    if response.status != 200 or not response.body:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        try:
            body = json.loads(response.body)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    return {"text": response.body}


async def _ack(client: AsyncBaseSocketModeClient, eid: str, payload: dict[str, Any] | None) -> None:
    ack: dict[str, Any] = {"envelope_id": eid}
    if payload is not None:
        ack["payload"] = payload
    try:
        await client.send_socket_mode_response(ack)
    except Exception as error:  # the socket closed meanwhile: Slack redelivers on the next one
        log.warning("could not ack Socket Mode envelope %s: %s", eid, _line(error))


def _log_passing(eid: str, error: BaseException) -> None:
    log.warning(
        "Socket Mode envelope %s left unacked for Slack to redeliver (passing fault): %s",
        eid,
        _line(error),
    )


def _line(error: BaseException) -> str:
    """The error as one short log line (pydantic's messages span several lines)."""
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(error).__name__}: {text}"


class _OneLine(logging.Filter):
    """Folds the traceback the SDK attaches (a refused apps.connections.open at start-up, a
    socket that broke while reconnecting) into the line itself: these are network faults the
    SDK retries, and a traceback says nothing more about them than their type and message."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = " ".join(record.getMessage().split())  # the SDK's API errors span two lines
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}]"  # the message names the error
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = text, None
        return True


def _sdk_log() -> logging.Logger:
    """The logger given to the SDK's client: its lines, one each."""
    sdk = logging.getLogger(f"{__name__}.sdk")
    if not any(isinstance(f, _OneLine) for f in sdk.filters):
        sdk.addFilter(_OneLine())
    return sdk


def build_socket_mode(
    app: AsyncApp,
    app_token: str,
    *,
    is_transient: IsTransient,
    accept_reaction: AcceptReaction | None = None,
) -> SocketMode:
    """Socket Mode over `app`, which must be its own (it takes over the app's error handler)."""
    return SocketMode(app, app_token, is_transient=is_transient, accept_reaction=accept_reaction)
