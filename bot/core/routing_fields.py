"""The field types and helpers shared by the routing file's schema and its cross-reference check.

A routing file's problems are reported by location (`systems[0].owners.validation`); `Loc` is
such a location, and `routing_problem` turns a problem our own checks find (a cross-reference,
escalation steps out of order) into a pydantic error at it, so they read like the schema's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.core.durations import HINT, format_duration, parse_duration

Loc = tuple[str | int, ...]

OWNER = "owner"
"""`notify: owner` in an escalation step: the person the case is routed to."""

ROUTING_PROBLEM = "routing_problem"
"""The pydantic error type of a problem our own checks found; its message is shown as written."""

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _to_duration(value: object) -> object:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"must be a duration ({HINT})")
    return parse_duration(str(value))


Duration = Annotated[
    timedelta, BeforeValidator(_to_duration), PlainSerializer(format_duration, return_type=str)
]


def _check_id(value: object) -> object:
    if isinstance(value, str) and not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a usable id: use letters, digits, '-', '_' or '.', no spaces"
        )
    return value


Id = Annotated[str, BeforeValidator(_check_id)]


def _string_list(value: object) -> object:
    """Turn a single string where a list belongs into a one-item list."""
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_string_list)]


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def routing_problem(loc: Loc, message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(ROUTING_PROBLEM, "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A suggestion for a misspelt or shortened name, or nothing."""
    options = sorted(candidates)
    lowered = word.casefold()
    extended = [c for c in options if c.casefold().startswith(lowered) and len(lowered) >= 3]
    close = extended if len(extended) == 1 else []
    close = close or difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def got(given: object) -> str:
    if isinstance(given, Mapping | list):
        return f" (got a {'mapping' if isinstance(given, Mapping) else 'list'})"
    if given is None:
        return " (got nothing)"
    return f" (got {given!r})"
