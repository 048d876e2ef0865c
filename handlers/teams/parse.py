"""Teams activity JSON → domain values. Pure functions on plain dicts, no botbuilder, no I/O.

What is read from a flagged message (the message extension's `messagePayload`), in this order,
the first found winning per field:

1. an attachment of content type `application/vnd.loopkeeper.ai-output+json` whose `content`
   is an object with `system`, `trace_id`, `prompt_version`, `model`;
2. any attachment or entity carrying `{"event_type": "ai_output", "event_payload": {…}}`,
   the same shape as Slack message metadata (for an entity: `ai_output` may also be the
   entity's `type`, with the fields on the entity itself);
3. markers in the message text: `[trace:abc123]`, `[prompt:v12]`, `[model:gpt-4o]`,
   `[system:support-assistant]` (also `trace_id:`/`prompt_version:`).

Activities come from outside: every id read here goes through `fields.id_of`, and a field of
the wrong type reads as absent.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from bot.core.limits import MAX_ID
from bot.core.models import FlaggedOutput, Reporter
from handlers.teams.fields import dict_of, id_of, list_of, name_of, url_of
from handlers.teams.records import TeamsConversation, TeamsUser

AI_OUTPUT_CONTENT_TYPE = "application/vnd.loopkeeper.ai-output+json"
AI_OUTPUT_EVENT = "ai_output"
FIELDS = ("system", "trace_id", "prompt_version", "model")
_MARKER = re.compile(
    r"\[(system|trace|trace_id|prompt|prompt_version|model)\s*:\s*([^\]\s][^\]]*)\]", re.I
)
_MARKER_FIELDS = {
    "system": "system",
    "trace": "trace_id",
    "trace_id": "trace_id",
    "prompt": "prompt_version",
    "prompt_version": "prompt_version",
    "model": "model",
}
_THREAD_SUFFIX = ";messageid="


def base_conversation_id(conversation_id: str) -> str:
    """A channel conversation id without its thread suffix (`19:…@thread.tacv2`)."""
    return conversation_id.split(_THREAD_SUFFIX, 1)[0]


def thread_root(conversation_id: str) -> str | None:
    """The root message id of a channel thread conversation id, if it names one."""
    _, found, root = conversation_id.partition(_THREAD_SUFFIX)
    return root or None if found else None


def sender_id(account: dict[str, Any]) -> str | None:
    """Who a Teams user is, stably: their Entra object id, else their Teams user id; None
    when the account carries neither in a usable form."""
    # Short enough to stay an id once prefixed: reporter ids are `teams:<key>`.
    limit = MAX_ID - len("teams:")
    return id_of(account.get("aadObjectId"), limit) or id_of(account.get("id"), limit)


def sender_key(account: dict[str, Any]) -> str:
    return sender_id(account) or "unknown"


def reporter(account: dict[str, Any]) -> Reporter | None:
    """The person who flagged something, or None when the activity does not say who."""
    key = sender_id(account)
    if key is None:
        return None
    return Reporter(id=f"teams:{key}", display=name_of(account.get("name")))


def conversation_of(activity: dict[str, Any]) -> dict[str, Any]:
    return dict_of(activity.get("conversation"))


def conversation_id(activity: dict[str, Any]) -> str | None:
    """The activity's conversation id (a channel's with its thread suffix), if usable."""
    found = id_of(conversation_of(activity).get("id"), MAX_ID + len(_THREAD_SUFFIX) + MAX_ID)
    return found if found and id_of(base_conversation_id(found)) else None


def tenant_of(activity: dict[str, Any]) -> str | None:
    tenant = id_of(conversation_of(activity).get("tenantId"))
    if not tenant:
        tenant = id_of(dict_of(dict_of(activity.get("channelData")).get("tenant")).get("id"))
    return tenant


def conversation_reference(activity: dict[str, Any], now: datetime) -> TeamsConversation | None:
    """Where this activity came from, as a reference to post there later."""
    found = conversation_id(activity)
    service_url = url_of(activity.get("serviceUrl"))
    if not found or not service_url:
        return None
    kind = id_of(conversation_of(activity).get("conversationType")) or "channel"
    sender = dict_of(activity.get("from"))
    recipient = dict_of(activity.get("recipient"))
    team = dict_of(dict_of(activity.get("channelData")).get("team"))
    return TeamsConversation(
        id=base_conversation_id(found),
        kind=kind,
        service_url=service_url,
        tenant_id=tenant_of(activity),
        bot_id=id_of(recipient.get("id")),
        bot_name=name_of(recipient.get("name")),
        user_id=id_of(sender.get("id")) if kind == "personal" else None,
        team_id=id_of(team.get("id")),
        updated_at=now,
    )


def user_of(activity: dict[str, Any], now: datetime) -> TeamsUser | None:
    """The person who sent this activity, enough to open a 1:1 chat with them later."""
    sender = dict_of(activity.get("from"))
    user_id = id_of(sender.get("id"))
    service_url = url_of(activity.get("serviceUrl"))
    if not user_id or not service_url or sender.get("role") == "bot":
        return None
    if user_id.startswith("28:"):
        return None  # a bot, not a person
    return TeamsUser(
        key=sender_key(sender),
        user_id=user_id,
        aad_object_id=id_of(sender.get("aadObjectId")),
        name=name_of(sender.get("name")),
        email=id_of(sender.get("email")) or id_of(sender.get("userPrincipalName")),
        service_url=service_url,
        tenant_id=tenant_of(activity),
        bot_id=id_of(dict_of(activity.get("recipient")).get("id")),
        updated_at=now,
    )


# --- the flagged message -----------------------------------------------------------------------


class _TextOnly(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS and self.parts:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(content: str) -> str:
    """The words of a Teams message body (HTML or plain text)."""
    if "<" not in content:
        return html.unescape(content).strip()
    parser = _TextOnly()
    parser.feed(content)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def message_text(payload: dict[str, Any]) -> str | None:
    body = payload.get("body") or {}
    content = body.get("content") if isinstance(body, dict) else None
    if isinstance(content, str) and content.strip():
        return html_text(content) or None
    text = payload.get("text")
    return text.strip() or None if isinstance(text, str) else None


def ai_metadata(payload: dict[str, Any], text: str | None = None) -> dict[str, str]:
    """`system`, `trace_id`, `prompt_version`, `model` the AI app put on its message."""
    found: dict[str, str] = {}

    def take(values: object) -> None:
        if not isinstance(values, dict):
            return
        for name in FIELDS:
            value = id_of(values.get(name))
            if value and name not in found:
                found[name] = value

    attachments = [a for a in list_of(payload.get("attachments")) if isinstance(a, dict)]
    for attachment in attachments:
        if attachment.get("contentType") == AI_OUTPUT_CONTENT_TYPE:
            take(_object(attachment.get("content")))
    for item in [
        *attachments,
        *(e for e in list_of(payload.get("entities")) if isinstance(e, dict)),
    ]:
        content = _object(item.get("content")) if "content" in item else item
        if not isinstance(content, dict):
            continue
        if content.get("event_type") == AI_OUTPUT_EVENT:
            take(content.get("event_payload"))
        elif content.get("type") == AI_OUTPUT_EVENT:
            take(content)
    for match in _MARKER.finditer(text or ""):
        name = _MARKER_FIELDS[match[1].lower()]
        value = id_of(match[2].strip())
        if value:
            found.setdefault(name, value)
    return found


def ai_input(payload: dict[str, Any]) -> str | None:
    """The prompt the AI answered, when its app put it on the message: `input` in the same
    places as the fields of `ai_metadata` (not in text markers: a prompt is no marker)."""
    attachments = [a for a in list_of(payload.get("attachments")) if isinstance(a, dict)]
    candidates: list[object] = [
        _object(a.get("content"))
        for a in attachments
        if a.get("contentType") == AI_OUTPUT_CONTENT_TYPE
    ]
    for item in [
        *attachments,
        *(e for e in list_of(payload.get("entities")) if isinstance(e, dict)),
    ]:
        content = _object(item.get("content")) if "content" in item else item
        if isinstance(content, dict) and content.get("event_type") == AI_OUTPUT_EVENT:
            candidates.append(content.get("event_payload"))
        elif isinstance(content, dict) and content.get("type") == AI_OUTPUT_EVENT:
            candidates.append(content)
    for candidate in candidates:
        found = candidate.get("input") if isinstance(candidate, dict) else None
        if isinstance(found, str) and found.strip():
            return found
    return None


def message_output(conversation_id: str, payload: dict[str, Any]) -> FlaggedOutput | None:
    """A message a user flagged with the message extension, as the AI output it is; None when
    the payload names no usable message."""
    conversation = id_of(base_conversation_id(conversation_id))
    message_id = id_of(payload.get("id")) or id_of(payload.get("replyToId"))
    if not conversation or not message_id:
        return None
    application = dict_of(dict_of(payload.get("from")).get("application"))
    text = message_text(payload)
    meta = ai_metadata(payload, text)
    return FlaggedOutput(
        key=output_key(conversation, message_id),
        platform="teams",
        channel_id=conversation,
        message_ts=message_id,
        author_bot_id=id_of(application.get("id")),
        text=text,
        permalink=url_of(payload.get("linkToMessage")),
        system_hint=meta.get("system"),
        trace_id=meta.get("trace_id"),
        prompt_version=meta.get("prompt_version"),
        model=meta.get("model"),
        input=ai_input(payload),
    )


def feedback_output(activity: dict[str, Any]) -> FlaggedOutput | None:
    """The bot message a `message/submitAction` feedback invoke is about."""
    message_id = id_of(activity.get("replyToId"))
    conversation = conversation_id(activity)
    if not message_id or not conversation:
        return None
    meta = ai_metadata({"entities": activity.get("entities")})
    action_value = dict_of(activity.get("value")).get("actionValue")
    if isinstance(action_value, dict):
        meta = {**ai_metadata({"entities": [action_value]}), **meta}
    base = base_conversation_id(conversation)
    asked = ai_input({"entities": activity.get("entities")})
    if asked is None and isinstance(action_value, dict):
        asked = ai_input({"entities": [action_value]})
    return FlaggedOutput(
        key=output_key(base, message_id),
        platform="teams",
        channel_id=base,
        message_ts=message_id,
        author_bot_id=id_of(dict_of(activity.get("recipient")).get("id")),
        system_hint=meta.get("system"),
        trace_id=meta.get("trace_id"),
        prompt_version=meta.get("prompt_version"),
        model=meta.get("model"),
        input=asked,
    )


def feedback_text(action_value: dict[str, Any]) -> str | None:
    """The words of a Teams AI feedback form: `feedback` is JSON text, usually
    `{"feedbackText": "…"}`; anything else is taken as it is."""
    raw = action_value.get("feedback")
    if raw is None:
        return None
    parsed: Any = raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return raw.strip() or None
    if isinstance(parsed, dict):
        text = parsed.get("feedbackText") or parsed.get("text") or parsed.get("feedback")
        return str(text).strip() or None if text else None
    return str(parsed).strip() or None


def output_key(conversation_id: str, message_id: str) -> str:
    return f"teams:{conversation_id}:{message_id}"


def _object(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value
