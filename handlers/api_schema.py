"""The ingest API's request body: its fields, their limits, and every problem with them at once.

Ids are refused (not cleaned) when they carry control characters or exceed the core's limits:
an id changed silently would file the report under someone or something else. Free text only
loses its control characters, in the core.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.json_input import invalid_text
from bot.core.limits import MAX_ID, MAX_TEXT, MAX_URL, check_id
from bot.core.models import Severity
from bot.core.routing_rules import Routing

MAX_KEY_GIVEN = 200
"""An idempotency key as the client gives it (stored with a prefix, within the core's limit)."""

MAX_OUTPUT = 100_000
"""The flagged answer as given; the core keeps its first `MAX_TEXT` characters."""

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,39}$")
TEAMS_USER = re.compile(r"^29:[^\s]+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _checked_id(value: str) -> str:
    checked = check_id(value)
    assert checked is not None
    return checked


def _checked_url(value: str) -> str:
    checked = check_id(value, MAX_URL)
    assert checked is not None
    return checked


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID), AfterValidator(_checked_id)]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL), AfterValidator(_checked_url)]


class ApiReporter(BaseModel):
    """Who flagged the output: at least one of a Slack id, a Teams id or an e-mail address."""

    model_config = ConfigDict(extra="forbid")

    slack_id: Annotated[Id, Field(pattern=SLACK_USER.pattern)] | None = None
    teams_id: Annotated[Id, Field(pattern=TEAMS_USER.pattern)] | None = None
    email: Annotated[Id, Field(max_length=320, pattern=EMAIL.pattern)] | None = None
    name: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _identified(self) -> ApiReporter:
        if not (self.slack_id or self.teams_id or self.email):
            raise ValueError("give slack_id, teams_id or email")
        return self


class ApiReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Id
    reporter: ApiReporter
    system: Id | None = None
    severity: Severity | None = None
    comment: str | None = Field(None, max_length=MAX_TEXT)
    expected: str | None = Field(None, max_length=MAX_TEXT)
    input: str | None = Field(None, max_length=MAX_OUTPUT, description="the prompt answered")
    output: str | None = Field(None, max_length=MAX_OUTPUT, description="the full answer")
    output_text: str | None = Field(None, max_length=MAX_OUTPUT, description="older name")
    message_link: Url | None = None
    trace_id: Id | None = None
    prompt_version: Id | None = None
    model: Id | None = None
    idempotency_key: Annotated[Id, Field(max_length=MAX_KEY_GIVEN)] | None = None

    @field_validator("reporter", mode="before")
    @classmethod
    def _reporter_string(cls, value: object) -> object:
        """A plain string names the reporter by e-mail, Slack user id or Teams user id."""
        if not isinstance(value, str):
            return value
        if EMAIL.match(value):
            return {"email": value}
        if SLACK_USER.match(value):
            return {"slack_id": value}
        if TEAMS_USER.match(value):
            return {"teams_id": value}
        raise ValueError("give an e-mail, a Slack user id (U…, W…) or a Teams user id (29:…)")

    @property
    def flagged_text(self) -> str | None:
        return self.output if self.output is not None else self.output_text


class Problems(dict[str, str]):
    """Invalid fields by dotted name, in the order found; the first names the response."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)

    def response(self) -> dict[str, Any]:
        """The 422 body: the first problem as before (`error`, `field`), then all of them."""
        first, message = next(iter(self.items()))
        error = message if len(self) == 1 else f"{len(self)} invalid fields: {', '.join(self)}"
        return {
            "error": error,
            "field": first,
            "fields": dict(self),
            "problems": [{"field": name, "message": text} for name, text in self.items()],
        }


def validate_report(raw: dict[str, Any], routing: Routing) -> tuple[ApiReport | None, Problems]:
    """The report, or every problem with it: its fields, then what they refer to."""
    problems = Problems()
    broken = invalid_text(raw)
    if broken is not None:
        problems.add(broken, "contains invalid Unicode (a lone surrogate)")
        return None, problems
    report: ApiReport | None = None
    try:
        report = ApiReport.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            problems.add(_field(item["loc"]), _message(item))
    category = _given(raw, "category", problems)
    if category is not None and routing.category(category) is None:
        known = ", ".join(c.id for c in routing.categories)
        problems.add("category", f"unknown category '{category}'; one of: {known}")
    system = _given(raw, "system", problems)
    if system is not None and routing.system(system) is None:
        known = ", ".join(s.id for s in routing.systems)
        problems.add("system", f"unknown system '{system}'; one of: {known}")
    return (None if problems else report), problems


def _given(raw: dict[str, Any], field: str, problems: Problems) -> str | None:
    """A well-formed reference the body gives (so what it refers to is worth looking up)."""
    value = raw.get(field)
    return value if isinstance(value, str) and field not in problems else None


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _message(item: Any) -> str:
    message = str(item["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
