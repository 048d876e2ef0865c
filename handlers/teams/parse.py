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
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from bot.models import FlaggedOutput, Reporter, TeamsConversation, TeamsUser

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


def sender_key(account: dict[str, Any]) -> str:
    """Who a Teams user is, stably: their Entra object id, else their Teams user id."""
    return str(account.get("aadObjectId") or account.get("id") or "unknown")


def reporter(account: dict[str, Any]) -> Reporter:
    return Reporter(id=f"teams:{sender_key(account)}", display=account.get("name") or None)


def conversation_of(activity: dict[str, Any]) -> dict[str, Any]:
    conversation = activity.get("conversation")
    return conversation if isinstance(conversation, dict) else {}


def tenant_of(activity: dict[str, Any]) -> str | None:
    tenant = conversation_of(activity).get("tenantId")
    if not tenant:
        channel_data = activity.get("channelData") or {}
        tenant = ((channel_data.get("tenant") or {}) if isinstance(channel_data, dict) else {}).get(
            "id"
        )
    return str(tenant) if tenant else None


def conversation_reference(activity: dict[str, Any], now: datetime) -> TeamsConversation | None:
    """Where this activity came from, as a reference to post there later."""
    conversation = conversation_of(activity)
    service_url = activity.get("serviceUrl")
    if not conversation.get("id") or not service_url:
        return None
    kind = str(conversation.get("conversationType") or "channel")
    sender = activity.get("from") or {}
    recipient = activity.get("recipient") or {}
    channel_data = activity.get("channelData") or {}
    team = channel_data.get("team") if isinstance(channel_data, dict) else None
    return TeamsConversation(
        id=base_conversation_id(str(conversation["id"])),
        kind=kind,
        service_url=str(service_url),
        tenant_id=tenant_of(activity),
        bot_id=recipient.get("id"),
        bot_name=recipient.get("name"),
        user_id=sender.get("id") if kind == "personal" else None,
        team_id=(team or {}).get("id") if isinstance(team, dict) else None,
        updated_at=now,
    )


def user_of(activity: dict[str, Any], now: datetime) -> TeamsUser | None:
    """The person who sent this activity, enough to open a 1:1 chat with them later."""
    sender = activity.get("from") or {}
    service_url = activity.get("serviceUrl")
    if not sender.get("id") or not service_url or sender.get("role") == "bot":
        return None
    if str(sender["id"]).startswith("28:"):
        return None  # a bot, not a person
    email = sender.get("email") or sender.get("userPrincipalName")
    return TeamsUser(
        key=sender_key(sender),
        user_id=str(sender["id"]),
        aad_object_id=sender.get("aadObjectId"),
        name=sender.get("name"),
        email=str(email) if email else None,
        service_url=str(service_url),
        tenant_id=tenant_of(activity),
        bot_id=(activity.get("recipient") or {}).get("id"),
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
            value = values.get(name)
            if value not in (None, "") and name not in found:
                found[name] = str(value)

    attachments = [a for a in payload.get("attachments") or [] if isinstance(a, dict)]
    for attachment in attachments:
        if attachment.get("contentType") == AI_OUTPUT_CONTENT_TYPE:
            take(_object(attachment.get("content")))
    for item in [*attachments, *(e for e in payload.get("entities") or [] if isinstance(e, dict))]:
        content = _object(item.get("content")) if "content" in item else item
        if not isinstance(content, dict):
            continue
        if content.get("event_type") == AI_OUTPUT_EVENT:
            take(content.get("event_payload"))
        elif content.get("type") == AI_OUTPUT_EVENT:
            take(content)
    for match in _MARKER.finditer(text or ""):
        name = _MARKER_FIELDS[match[1].lower()]
        found.setdefault(name, match[2].strip())
    return found


def message_output(conversation_id: str, payload: dict[str, Any]) -> FlaggedOutput:
    """A message a user flagged with the message extension, as the AI output it is."""
    conversation = base_conversation_id(conversation_id)
    message_id = str(payload.get("id") or payload.get("replyToId") or "")
    sender = payload.get("from") or {}
    application = sender.get("application") if isinstance(sender, dict) else None
    bot_id = (application or {}).get("id") if isinstance(application, dict) else None
    text = message_text(payload)
    meta = ai_metadata(payload, text)
    return FlaggedOutput(
        key=output_key(conversation, message_id),
        platform="teams",
        channel_id=conversation,
        message_ts=message_id,
        author_bot_id=str(bot_id) if bot_id else None,
        text=text,
        permalink=payload.get("linkToMessage") or None,
        system_hint=meta.get("system"),
        trace_id=meta.get("trace_id"),
        prompt_version=meta.get("prompt_version"),
        model=meta.get("model"),
    )


def feedback_output(activity: dict[str, Any]) -> FlaggedOutput | None:
    """The bot message a `message/submitAction` feedback invoke is about."""
    message_id = activity.get("replyToId")
    conversation = conversation_of(activity).get("id")
    if not message_id or not conversation:
        return None
    value = activity.get("value") or {}
    meta = ai_metadata({"entities": activity.get("entities") or []})
    action_value = value.get("actionValue") if isinstance(value, dict) else None
    if isinstance(action_value, dict):
        meta = {**ai_metadata({"entities": [action_value]}), **meta}
    base = base_conversation_id(str(conversation))
    return FlaggedOutput(
        key=output_key(base, str(message_id)),
        platform="teams",
        channel_id=base,
        message_ts=str(message_id),
        author_bot_id=(activity.get("recipient") or {}).get("id"),
        system_hint=meta.get("system"),
        trace_id=meta.get("trace_id"),
        prompt_version=meta.get("prompt_version"),
        model=meta.get("model"),
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
