"""Reading a signed Slack request and checking its shape before any listener sees it.

Two outcomes besides a body we can use: `Unreadable` (not JSON, not a form, not UTF-8, nested
absurdly deep: the route answers 400) and a problem string (readable, but missing or mistyping
a field a listener or bolt itself relies on: the route logs one line and acknowledges, because
Slack would only send the same broken request again).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl

from bot.core.limits import MAX_ID, check_id
from handlers.slack import card

MAX_DEPTH = 64
"""Slack's deepest payloads (rich text inside a modal's state) nest about a dozen levels."""

CASE_ACTIONS = frozenset(
    {
        card.ACK,
        card.RESOLVE,
        card.REASSIGN,
        card.NEEDS_INFO,
        card.WONT_FIX,
        card.DUPLICATE,
        card.ANSWER,
    }
)
"""Card buttons whose value is a case number."""

_MAX_CASE_DIGITS = 9  # fits the database's 32-bit integer column
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")


class Unreadable(ValueError):
    """The body is not a Slack request at all."""


# --- reading --------------------------------------------------------------------------------


def read_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The request as a dict: Events API JSON, an interactivity payload or a command form."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("body is not UTF-8") from None
    if content_type.split(";")[0].strip().lower() == "application/json":
        parsed = _json(text, "body")
        if "type" not in parsed:
            raise Unreadable("JSON body must be an object with a 'type'")
        return parsed
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        payload = _json(form["payload"], "payload")
        if "type" not in payload:
            raise Unreadable("payload must be an object with a 'type'")
        return payload
    if "command" in form or "ssl_check" in form:
        return {key: _scrubbed(value) for key, value in form.items()}
    raise Unreadable("expected an Events API JSON body, an interactivity payload or a command")


def _json(text: str, what: str) -> dict[str, Any]:
    if _deeper_than(text, MAX_DEPTH):
        raise Unreadable(f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, or an int of 5,000 digits
        raise Unreadable(f"{what} is not valid JSON: {getattr(error, 'msg', error)}") from None
    if not isinstance(parsed, dict):
        raise Unreadable(f"{what} must be a JSON object")
    scrubbed: dict[str, Any] = _scrubbed(parsed)
    return scrubbed


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; PostgreSQL refuses them in a JSON column.
    raise ValueError(f"{name} is not a JSON value")


def _deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects deeper than `limit`, without parsing it
    (the parser would recurse once per level)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _BRACKETS.findall(_STRINGS.sub('""', text))
    steps = (1 if bracket in "[{" else -1 for bracket in brackets)
    return max(accumulate(steps), default=0) > limit


def _scrubbed(value: Any) -> Any:
    """The value with lone UTF-16 surrogates (valid JSON escapes, but not text any database
    or encoder accepts) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATES.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {_scrubbed(key): _scrubbed(item) for key, item in value.items()}
    return value


# --- checking -------------------------------------------------------------------------------


class _Problem(Exception):
    pass


def problem_with(body: dict[str, Any]) -> str | None:
    """What makes this request unusable by bolt or our listeners; None when nothing does."""
    try:
        _check_envelope(body)
        kind = body.get("type")
        if "command" in body and kind is None:
            _check_command(body)
        elif kind == "event_callback":
            _check_event_callback(body)
        elif kind == "block_actions":
            _check_block_actions(body)
        elif kind in ("shortcut", "message_action"):
            _check_shortcut(body)
        elif kind in ("view_submission", "view_closed"):
            _check_view(body)
        elif kind == "url_verification":
            _text(body, "challenge", required=True)
    except _Problem as problem:
        return str(problem)
    return None


def reaction_problem(event: dict[str, Any], event_id: Any) -> str | None:
    """What makes a reaction_added event unfit to keep in the inbox; None when nothing does."""
    try:
        _check_reaction(event)
        _id(event_id, "event_id", required=True)
    except _Problem as problem:
        return str(problem)
    return None


def reaction_event(event: dict[str, Any]) -> dict[str, Any]:
    """The fields of a (checked) reaction the filing uses: all the inbox needs to keep."""
    item = event["item"]
    kept = {
        "type": event["type"],
        "user": event["user"],
        "reaction": event["reaction"],
        "item": {"type": item["type"], "channel": item["channel"], "ts": item["ts"]},
    }
    if isinstance(event.get("event_ts"), str):
        kept["event_ts"] = event["event_ts"]
    return kept


def _check_envelope(body: dict[str, Any]) -> None:
    _text(body, "type", required=False)
    # Bolt reads these to build its context: a string or an object with an id.
    for name in ("enterprise", "team", "user", "channel"):
        value = body.get(name)
        if isinstance(value, dict):
            _id(value.get("id"), f"{name}.id", required=False)
        elif value is not None and not isinstance(value, str):
            raise _Problem(f"{name}: expected an object or a string")
    for name in ("event", "view", "message", "container", "item", "previous_message"):
        _object(body, name, required=False)
    for name in ("assistant_thread", "function_data"):
        _object(body, name, required=False)
    for name in ("authorizations", "response_urls"):
        value = body.get(name)
        if value is not None and not isinstance(value, list):
            raise _Problem(f"{name}: expected a list")
    for name in ("authorizations", "response_urls"):
        for index, item in enumerate(body.get(name) or []):
            if not isinstance(item, dict):
                raise _Problem(f"{name}[{index}]: expected an object")
    for name in ("user_id", "channel_id", "team_id", "enterprise_id", "trigger_id"):
        _id(body.get(name), name, required=False)


def _check_command(body: dict[str, Any]) -> None:
    _text(body, "command", required=True)
    _id(body.get("user_id"), "user_id", required=True)
    _id(body.get("trigger_id"), "trigger_id", required=True)
    _text(body, "text", required=False)


def _check_event_callback(body: dict[str, Any]) -> None:
    event = _object(body, "event", required=True)
    _text(event, "type", required=True, where="event")
    _id(body.get("event_id"), "event_id", required=False)
    kind = event["type"]
    if kind == "reaction_added":
        _check_reaction(event)
        # The inbox keys a reaction by its event id: without one, retries could not be told apart.
        _id(body.get("event_id") or event.get("event_ts"), "event_id", required=True)
    elif kind == "message":
        for name in ("channel", "user", "ts", "thread_ts", "bot_id", "subtype"):
            _id(event.get(name), f"event.{name}", required=False)
        _text(event, "text", required=False, where="event")


def _check_reaction(event: dict[str, Any]) -> None:
    _id(event.get("user"), "event.user", required=True)
    _id(event.get("reaction"), "event.reaction", required=True)
    item = _object(event, "item", required=True, where="event")
    _id(item.get("type"), "event.item.type", required=True)
    if item["type"] == "message":
        _id(item.get("channel"), "event.item.channel", required=True)
        _id(item.get("ts"), "event.item.ts", required=True)
    _id(event.get("event_ts"), "event.event_ts", required=False)


def _check_block_actions(body: dict[str, Any]) -> None:
    _user(body)
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise _Problem("actions: expected a non-empty list")
    for index, action in enumerate(actions):
        where = f"actions[{index}]"
        if not isinstance(action, dict):
            raise _Problem(f"{where}: expected an object")
        _id(action.get("action_id"), f"{where}.action_id", required=True)
        for name in ("block_id", "type", "action_ts"):
            _id(action.get(name), f"{where}.{name}", required=False)
        _text(action, "value", required=False, where=where)
        if action["action_id"] in CASE_ACTIONS:
            _case_number(action.get("value"), f"{where}.value")
            _id(body.get("trigger_id"), "trigger_id", required=True)
    container = body.get("container") or {}
    _id(container.get("channel_id"), "container.channel_id", required=False)
    if actions[0].get("type") == "feedback_buttons":
        _check_message(body.get("message") or {}, "message")


def _check_shortcut(body: dict[str, Any]) -> None:
    _user(body)
    _id(body.get("callback_id"), "callback_id", required=True)
    _id(body.get("trigger_id"), "trigger_id", required=True)
    if body["type"] == "message_action":
        _check_message(_object(body, "message", required=True), "message")


def _check_message(message: dict[str, Any], where: str) -> None:
    for name in ("ts", "bot_id", "thread_ts"):
        _id(message.get(name), f"{where}.{name}", required=False)
    _text(message, "text", required=False, where=where)
    blocks = message.get("blocks")
    if blocks is None:
        return
    if not isinstance(blocks, list):
        raise _Problem(f"{where}.blocks: expected a list")
    for index, block in enumerate(blocks):
        for element, place in _elements(block, f"{where}.blocks[{index}]"):
            if element.get("type") == "feedback_buttons":
                for name in ("positive_button", "negative_button"):
                    _object(element, name, required=False, where=place)


def _elements(block: Any, where: str) -> Iterator[tuple[dict[str, Any], str]]:
    if not isinstance(block, dict):
        raise _Problem(f"{where}: expected an object")
    elements = block.get("elements")
    if elements is None:
        return
    if not isinstance(elements, list):
        raise _Problem(f"{where}.elements: expected a list")
    for index, element in enumerate(elements):
        if not isinstance(element, dict):
            raise _Problem(f"{where}.elements[{index}]: expected an object")
        yield element, f"{where}.elements[{index}]"


def _check_view(body: dict[str, Any]) -> None:
    _user(body)
    view = _object(body, "view", required=True)
    _id(view.get("callback_id"), "view.callback_id", required=True)
    _id(view.get("type"), "view.type", required=True)  # bolt tells modals from workflow steps
    if body["type"] == "view_closed":
        return
    _id(view.get("id"), "view.id", required=True)
    _id(view.get("hash"), "view.hash", required=True)
    _text(view, "private_metadata", required=False, where="view")
    state = _object(view, "state", required=False, where="view")
    values = _object(state, "values", required=False, where="view.state")
    for block_id, actions in values.items():
        place = f"view.state.values.{_shown(block_id)}"
        if not isinstance(actions, dict):
            raise _Problem(f"{place}: expected an object")
        for action_id, element in actions.items():
            where = f"{place}.{_shown(action_id)}"
            if not isinstance(element, dict):
                raise _Problem(f"{where}: expected an object")
            _text(element, "type", required=False, where=where)
            _text(element, "value", required=False, where=where)
            _id(element.get("selected_user"), f"{where}.selected_user", required=False)
            option = _object(element, "selected_option", required=False, where=where)
            _text(option, "value", required=False, where=f"{where}.selected_option")


# --- fields ---------------------------------------------------------------------------------


def _user(body: dict[str, Any]) -> None:
    """The user who acted, and the channel they acted in: interactivity sends both as objects
    (bolt also takes plain strings, our listeners do not)."""
    user = body.get("user")
    if not isinstance(user, dict):
        raise _Problem("user: expected an object")
    _id(user.get("id"), "user.id", required=True)
    _object(body, "channel", required=False)


def _object(
    parent: dict[str, Any], name: str, *, required: bool, where: str = ""
) -> dict[str, Any]:
    value = parent.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Problem(f"{_at(where, name)}: expected an object")
    return value


def _text(parent: dict[str, Any], name: str, *, required: bool, where: str = "") -> None:
    value = parent.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise _Problem(f"{_at(where, name)}: expected a string")


def _id(value: Any, where: str, *, required: bool) -> None:
    """An identifier: a short string without control characters."""
    if value is None or value == "":
        if required:
            raise _Problem(f"{where}: missing")
        return
    if not isinstance(value, str):
        raise _Problem(f"{where}: expected a string, got {type(value).__name__}")
    try:
        check_id(value, MAX_ID)
    except ValueError as error:
        raise _Problem(f"{where}: {error}") from None


def _case_number(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise _Problem(f"{where}: expected a case number")
    if len(value) > _MAX_CASE_DIGITS:
        raise _Problem(f"{where}: no case has a number that long")


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _shown(key: str) -> str:
    """A key from the payload, safe to put in a log line (short, printable)."""
    return key[:40].encode("unicode_escape").decode("ascii")
