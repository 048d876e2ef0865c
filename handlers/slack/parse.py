"""Slack payloads → domain values. Pure functions, no I/O."""

from __future__ import annotations

import re
from typing import Any

from bot.core.limits import MAX_ID
from bot.core.models import FlaggedOutput, Reporter
from bot.core.output_place import slack_output_key

AI_OUTPUT_EVENT = "ai_output"


def reporter(user_id: str) -> Reporter:
    return Reporter(id=f"slack:{user_id}", slack_user_id=user_id)


def message_output(
    channel_id: str, message: dict[str, Any], permalink: str | None = None
) -> FlaggedOutput:
    """A Slack message as the AI output it is; `ai_output` metadata wins over the poster."""
    ts = str(message.get("ts", ""))
    payload = _ai_output_payload(message)
    return FlaggedOutput(
        key=slack_output_key(channel_id, ts),
        platform="slack",
        channel_id=channel_id,
        message_ts=ts,
        author_bot_id=message.get("bot_id") or None,
        text=_message_text(message),
        permalink=permalink or message.get("permalink"),
        system_hint=_str(payload.get("system")),
        trace_id=_str(payload.get("trace_id")),
        prompt_version=_str(payload.get("prompt_version")),
        model=_str(payload.get("model")),
        input=_text(payload.get("input")),
        thread_ts=_reply_in(message, ts),
    )


def _ai_output_payload(message: dict[str, Any]) -> dict[str, Any]:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != AI_OUTPUT_EVENT:
        return {}
    payload = metadata.get("event_payload")
    return payload if isinstance(payload, dict) else {}


def message_text(message: dict[str, Any]) -> str | None:
    """The words of a Slack message: its text, else its section blocks'."""
    return _message_text(message)


def _message_text(message: dict[str, Any]) -> str | None:
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return text
    # Messages posted with blocks only carry their words in the blocks.
    parts: list[str] = []
    for block in message.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        section = block.get("text")
        if isinstance(section, dict) and isinstance(section.get("text"), str):
            parts.append(section["text"])
    return "\n".join(parts) or None


def _reply_in(message: dict[str, Any], ts: str) -> str | None:
    """The thread a message replies in (None for a top-level message or a thread's parent)."""
    thread = message.get("thread_ts")
    if not isinstance(thread, str) or not thread or thread == ts or len(thread) > MAX_ID:
        return None
    return thread


def _text(value: Any) -> str | None:
    """Free text from metadata: only a string counts (a number or object is no prompt)."""
    return value if isinstance(value, str) and value.strip() else None


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def is_negative_feedback(action: dict[str, Any], message: dict[str, Any] | None) -> bool:
    """Whether a feedback_buttons press was the negative button of its element."""
    value = action.get("value")
    for block in (message or {}).get("blocks") or []:
        for element in block.get("elements") or [] if isinstance(block, dict) else []:
            if not isinstance(element, dict) or element.get("type") != "feedback_buttons":
                continue
            if element.get("action_id") != action.get("action_id"):
                continue
            negative = element.get("negative_button") or {}
            return bool(value) and value == negative.get("value")
    # Without the message's blocks, fall back on the value's own words.
    return isinstance(value, str) and bool(re.search(r"negative|bad|down|dislike", value, re.I))
