"""JSON from outside, parsed with bounds: every way a body can fail is one `BodyError`.

`json.loads` alone lets hostile bodies through as crashes: a deeply nested array raises
RecursionError, an integer of 5,000 digits raises a bare ValueError, and given bytes it guesses
UTF-16 or UTF-32. Edges call `parse_json` and answer its error with a 400.
"""

from __future__ import annotations

import json


class BodyError(ValueError):
    """The body is not JSON we will read; the message says why, for the client."""


def parse_json(raw: bytes, *, max_depth: int) -> object:
    """The JSON value of a UTF-8 body nested at most `max_depth` levels deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(f"the body is not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BodyError(f"the JSON is nested too deeply (at most {max_depth} levels)") from None
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise BodyError(f"the body is not valid JSON: {error}") from None
    if depth(value, max_depth) > max_depth:
        raise BodyError(f"the JSON is nested too deeply (at most {max_depth} levels)")
    return value


def depth(value: object, limit: int) -> int:
    """How deeply `value` nests arrays and objects, counted up to `limit` + 1 (then it stops)."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        pending.extend((child, level) for child in children)
    return deepest


def invalid_text(value: object) -> str | None:
    """A dotted path to the first string (or key) holding a lone surrogate, else None.

    JSON escapes can spell a lone surrogate (`"\\ud800"`), which is no character: no database
    driver can encode it, so it must be refused before it gets that far."""
    pending: list[tuple[object, str]] = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if not _encodable(key):
                    return path or "body"
                pending.append((child, child_path))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
