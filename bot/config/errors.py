"""Problems with a routing file, worded by location (`systems[0].owners.validation: …`).

Pydantic's errors become one short line each, in the order their places appear in the file.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Union

from pydantic import BaseModel

from bot.core.routing_fields import ROUTING_PROBLEM, Loc, did_you_mean, got
from bot.core.routing_rules import Routing


class RoutingError(Exception):
    """A routing file that cannot be used; `problems` holds one located message each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(self.problems)


def describe(error: Mapping[str, Any]) -> tuple[Loc, str]:
    """A pydantic error as (location, short human message)."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == ROUTING_PROBLEM:
        return loc, str(ctx["message"])
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        key = loc[-1] if loc else given
        if kind in ("enum", "literal_error"):
            return loc, f"unknown key '{key}': must be one of {_choices(ctx)}"
        return loc, f"key '{key}': {_message(kind, ctx, given, error['msg'])}"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        fields = _fields_at(loc[:-1])
        return loc, f"unknown key '{key}'{did_you_mean(key, fields)}"
    return loc, _message(kind, ctx, given, error["msg"])


def _message(kind: str, ctx: Mapping[str, Any], given: object, default: str) -> str:
    if kind == "missing":
        return "required"
    if kind in ("enum", "literal_error"):
        return f"must be one of {_choices(ctx)}{got(given)}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", default))
    if kind in ("string_type", "str_type"):
        return f"must be a string{got(given)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping (key: value){got(given)}"
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        return f"must be a list{got(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false{got(given)}"
    if kind == "too_short":
        return "must list at least one"
    return default[:1].lower() + default[1:]


def _choices(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", ""))
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def _fields_at(loc: Loc) -> set[str]:
    """The field names of the model found at `loc` inside a Routing (for suggestions)."""
    current: Any = Routing
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return set()
            current = field.annotation
        elif typing.get_origin(current) is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return set()
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional wrappers down to the type that carries structure."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else annotation
            if len(options) != 1:
                return annotation
        else:
            return annotation


def format_loc(loc: Loc) -> str:
    """('systems', 0, 'owners', 'validation') → 'systems[0].owners.validation'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def in_document_order(problems: list[tuple[Loc, str]], data: Mapping[str, Any]) -> list[str]:
    """Located messages, deduplicated, in the order their places appear in the file."""
    ordered = sorted(problems, key=lambda p: list(_positions(p[0], data)))
    lines: list[str] = []
    for loc, message in ordered:
        line = f"{format_loc(loc)}: {message}"
        if line not in lines:
            lines.append(line)
    return lines


def _positions(loc: Loc, data: Any) -> Iterator[int]:
    current = data
    for part in loc:
        if isinstance(current, Mapping):
            keys = [str(k) for k in current]
            if str(part) in keys:
                index = keys.index(str(part))
                yield index
                current = list(current.values())[index]
                continue
            yield len(keys)
            return
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            yield part
            current = current[part]
            continue
        yield 1_000_000
        return
