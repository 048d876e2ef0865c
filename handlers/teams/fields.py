"""Fields read from an activity, which comes from outside: ids (a string or number, no control
characters, within the core's limits), URLs, names, and containers of the expected type. An id
that fails is dropped, never shortened: a shortened id would name someone else. Free text people
typed is kept, without its control characters."""

from __future__ import annotations

from typing import Any

from bot.core.limits import MAX_ID, MAX_URL, check_id, clean_text

MAX_NAME = 200


def id_of(value: object, limit: int = MAX_ID) -> str | None:
    """An id from an activity as text, or None when it cannot be one (wrong type, empty, too
    long, control characters)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    try:
        return check_id(text, limit) or None
    except ValueError:
        return None


def url_of(value: object) -> str | None:
    """An http(s) URL from an activity (a `serviceUrl`, a link), or None."""
    url = id_of(value, MAX_URL)
    return url if url and url.lower().startswith(("http://", "https://")) else None


def name_of(value: object) -> str | None:
    """A display name: any text, cleaned and shortened; None when not text."""
    return clean_text(value, MAX_NAME) or None if isinstance(value, str) else None


def dict_of(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def list_of(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def typed_text_cleaned(activity: dict[str, Any]) -> dict[str, Any]:
    """The activity with control characters taken out of what people typed (the message text,
    the inputs of forms and cards) and each capped: the core stores them as they come, and
    PostgreSQL cannot store a NUL at all. Ids are not touched: `id_of` refuses bad ones."""
    cleaned = dict(activity)
    if isinstance(cleaned.get("text"), str):
        cleaned["text"] = clean_text(cleaned["text"])
    value = activity.get("value")
    if isinstance(value, dict):
        value = dict(value)
        if isinstance(value.get("data"), dict):
            value["data"] = _texts_cleaned(value["data"])
        action = value.get("action")
        if isinstance(action, dict) and isinstance(action.get("data"), dict):
            value["action"] = {**action, "data": _texts_cleaned(action["data"])}
        cleaned["value"] = value
    return cleaned


def _texts_cleaned(values: dict[str, Any]) -> dict[str, Any]:
    return {k: clean_text(v) if isinstance(v, str) else v for k, v in values.items()}
