"""The routing file's schema: who owns what, how reports are categorised, when cases escalate.

A frozen `Routing` is what the core reads. Building one checks its cross-references too
(`bot/core/routing_references.py`); `bot/config/loading.py` reads one from YAML and
`bot/config/errors.py` words its problems by location.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from datetime import time as clock_time
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.core.durations import format_duration
from bot.core.models import Role, Severity
from bot.core.routing_fields import (
    OWNER,
    Duration,
    FrozenModel,
    Id,
    StrList,
    got,
    routing_problem,
)
from bot.core.routing_references import reference_problems
from bot.core.surge_rules import Surge
from bot.core.webhook_rules import Webhook

SKIP_REFERENCES = "skip_references"
"""Validation context key: the caller has checked the cross-references on the raw data already."""

_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
_TIME_PATTERN = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class Person(FrozenModel):
    """Someone who owns a system's role, backs one up, administers, or reads digests."""

    id: str = Field(description="the key under `people:`")
    name: str | None = None
    email: str | None = None
    slack: str | None = Field(default=None, description="Slack user id, U…/W…")
    teams: str | None = Field(default=None, description="Teams user id, 29:…")

    @field_validator("email")
    @classmethod
    def _email_has_at(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> Person:
        if not (self.email or self.slack or self.teams):
            raise ValueError("needs at least one of email, slack, teams")
        return self

    @property
    def display(self) -> str:
        return self.name or self.id


class Category(FrozenModel):
    """One kind of problem a reporter can pick; menu order is list order."""

    id: Id
    label: str
    severity: Severity
    route_to: Role


class SystemMatch(FrozenModel):
    """How a flagged message is attributed to a system: who posted it, or where."""

    slack_bot_ids: StrList = []
    slack_channels: StrList = []
    teams_bot_ids: StrList = []


class Triage(FrozenModel):
    """Where a system's case cards are posted; owners triage in each card's thread."""

    slack_channel: str | None = None
    teams_channel: str | None = None


class EscalationStep(FrozenModel):
    """After `after`, if the case is still unacknowledged, notify `notify`.

    `notify` is "owner" (the routed owner), a role name (that role's owner for the system) or a
    person id.
    """

    after: Duration
    notify: str


class System(FrozenModel):
    """An AI system whose outputs are judged."""

    id: Id
    name: str
    match: SystemMatch = SystemMatch()
    owners: dict[Role, str] = {}
    triage: Triage = Triage()
    escalation: list[EscalationStep] = [EscalationStep(after=timedelta(0), notify=OWNER)]

    @field_validator("escalation", mode="after")
    @classmethod
    def _in_time_order(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        errors = [
            routing_problem(
                (i, "after"),
                f"{format_duration(step.after)} is earlier than the step before it "
                f"({format_duration(steps[i - 1].after)}); list steps in time order",
                step.after,
            )
            for i, step in enumerate(steps)
            if i and step.after < steps[i - 1].after
        ]
        if errors:
            raise ValidationError.from_exception_data("System", errors)
        return steps


class SlaTarget(FrozenModel):
    """How long a case of one severity may wait for acknowledgement and for resolution."""

    acknowledge: Duration
    resolve: Duration

    @model_validator(mode="after")
    def _acknowledge_first(self) -> SlaTarget:
        if self.acknowledge > self.resolve:
            raise ValueError(
                f"acknowledge ({format_duration(self.acknowledge)}) is later than "
                f"resolve ({format_duration(self.resolve)})"
            )
        return self


DEFAULT_SLA: dict[Severity, SlaTarget] = {
    Severity.critical: SlaTarget(acknowledge=timedelta(hours=1), resolve=timedelta(days=1)),
    Severity.high: SlaTarget(acknowledge=timedelta(hours=4), resolve=timedelta(days=3)),
    Severity.medium: SlaTarget(acknowledge=timedelta(days=1), resolve=timedelta(days=7)),
    Severity.low: SlaTarget(acknowledge=timedelta(days=3), resolve=timedelta(days=30)),
}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = typing.get_args(Weekday)


class DigestSchedule(FrozenModel):
    day: Weekday
    time: str = Field(description='"HH:MM", 24-hour, in `timezone`')
    timezone: str = "UTC"

    @field_validator("day", mode="before")
    @classmethod
    def _lower_day(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        day = value.strip().lower()
        full_names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        return day[:3] if day in full_names else day

    @field_validator("time", mode="before")
    @classmethod
    def _hh_mm(cls, value: object) -> object:
        if not isinstance(value, str) or not (m := _TIME_PATTERN.fullmatch(value.strip())):
            raise ValueError(f'must be a time "HH:MM" such as "09:00"{got(value)}')
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone '{value}' (use an IANA name such as Europe/London)"
            ) from None
        return value

    @property
    def local_time(self) -> clock_time:
        hours, minutes = self.time.split(":")
        return clock_time(int(hours), int(minutes))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def weekday(self) -> int:
        """Monday is 0, as `datetime.weekday()` counts."""
        return WEEKDAYS.index(self.day)


def _all_or_ids(value: object) -> object:
    if isinstance(value, str) and value.strip().lower() == "all":
        return "all"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"must be all or a list of system ids{got(value)}")


class Digest(FrozenModel):
    """A scheduled summary for conductors."""

    name: Id
    schedule: DigestSchedule
    slack_channel: str | None = None
    teams_channel: str | None = None
    systems: Annotated[Literal["all"] | list[str], BeforeValidator(_all_or_ids)] = "all"

    def covers(self, system_id: str) -> bool:
        return self.systems == "all" or system_id in self.systems


RedactionKind = Literal["email", "phone", "card_number"]


class Privacy(FrozenModel):
    store_output_text: bool = True
    redact: list[RedactionKind] = []


def _people_with_ids(value: object) -> object:
    """Give each person under `people:` the id of its key."""
    if not isinstance(value, Mapping):
        return value
    return {
        key: {"id": str(key), **person}
        if isinstance(person, Mapping) and "id" not in person
        else person
        for key, person in value.items()
    }


def _sla_with_defaults(value: object) -> object:
    """Severities left out (or half given) take the default targets."""
    if value is None:
        return DEFAULT_SLA
    if not isinstance(value, Mapping):
        return value
    merged: dict[Any, Any] = dict(DEFAULT_SLA)
    for key, target in value.items():
        default = DEFAULT_SLA.get(Severity(key)) if key in Severity.__members__ else None
        if default is not None and isinstance(target, Mapping):
            merged[key] = {
                "acknowledge": default.acknowledge,
                "resolve": default.resolve,
                **target,
            }
        else:
            merged[key] = target
    return merged


def _emoji_names(value: object) -> object:
    """Accept `:x:` as well as `x` for a reaction."""
    if not isinstance(value, Mapping):
        return value
    return {k.strip().strip(":") if isinstance(k, str) else k: v for k, v in value.items()}


class Routing(FrozenModel):
    people: Annotated[dict[str, Person], BeforeValidator(_people_with_ids)] = {}
    admins: StrList = []
    categories: list[Category] = Field(min_length=1)
    reactions: Annotated[dict[str, str], BeforeValidator(_emoji_names)] = {}
    systems: list[System] = Field(min_length=1)
    fallback_system: str | None = None
    sla: Annotated[dict[Severity, SlaTarget], BeforeValidator(_sla_with_defaults)] = Field(
        default_factory=lambda: dict(DEFAULT_SLA)
    )
    digests: list[Digest] = []
    privacy: Privacy = Privacy()
    surge: Surge | None = None  # absent: no folding (bot/core/surge_rules.py)
    webhooks: list[Webhook] = []  # environment checks: bot/config/webhooks.py

    _categories: dict[str, Category] = PrivateAttr(default_factory=dict)
    _systems: dict[str, System] = PrivateAttr(default_factory=dict)
    _by_slack_id: dict[str, Person] = PrivateAttr(default_factory=dict)
    _by_teams_id: dict[str, Person] = PrivateAttr(default_factory=dict)
    _by_email: dict[str, Person] = PrivateAttr(default_factory=dict)
    _by_slack_bot: dict[str, System] = PrivateAttr(default_factory=dict)
    _by_slack_channel: dict[str, System] = PrivateAttr(default_factory=dict)
    _by_teams_bot: dict[str, System] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_sections(cls, data: object) -> object:
        """A section whose entries are all commented out reads as null: treat it as absent."""
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v is not None}
        return data

    @model_validator(mode="after")
    def _references_resolve(self, info: ValidationInfo) -> Routing:
        if info.context and info.context.get(SKIP_REFERENCES):
            return self
        problems = reference_problems(self.model_dump(mode="json"))
        if problems:
            raise ValidationError.from_exception_data(
                "Routing", [routing_problem(loc, message, None) for loc, message in problems]
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._categories = {c.id: c for c in self.categories}
        self._systems = {s.id: s for s in self.systems}
        for person in self.people.values():
            if person.slack:
                self._by_slack_id.setdefault(person.slack, person)
            if person.teams:
                self._by_teams_id.setdefault(person.teams, person)
            if person.email:
                self._by_email.setdefault(person.email.casefold(), person)
        for system in self.systems:
            for bot in system.match.slack_bot_ids:
                self._by_slack_bot.setdefault(bot, system)
            for channel in system.match.slack_channels:
                self._by_slack_channel.setdefault(channel, system)
            for bot in system.match.teams_bot_ids:
                self._by_teams_bot.setdefault(bot, system)

    # --- lookups ---

    def category(self, category_id: str) -> Category | None:
        return self._categories.get(category_id)

    def system(self, system_id: str) -> System | None:
        return self._systems.get(system_id)

    def person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def name_of(self, person_id: str | None, unknown: str = "nobody") -> str:
        """How a person is called in messages: their name, else their id, else `unknown`."""
        person = self.people.get(person_id) if person_id else None
        return person.display if person else (person_id or unknown)

    def person_by_slack_id(self, user_id: str) -> Person | None:
        return self._by_slack_id.get(user_id)

    def person_by_teams_id(self, user_id: str) -> Person | None:
        return self._by_teams_id.get(user_id)

    def person_by_email(self, email: str) -> Person | None:
        return self._by_email.get(email.strip().casefold())

    def system_for_slack_bot(self, bot_id: str) -> System | None:
        return self._by_slack_bot.get(bot_id)

    def system_for_slack_channel(self, channel_id: str) -> System | None:
        return self._by_slack_channel.get(channel_id)

    def system_for_teams_bot(self, bot_id: str) -> System | None:
        return self._by_teams_bot.get(bot_id)

    def owner_of(self, system: System | str, role: Role | str) -> str | None:
        """The person id that owns `role` for `system`, if one is named."""
        found = self.system(system) if isinstance(system, str) else system
        if found is None or role not in Role.__members__:
            return None
        return found.owners.get(Role(role))

    def escalation_target(
        self, system: System | str, step: EscalationStep, owner: str | None
    ) -> str | None:
        """The person id an escalation step notifies, given the case's current owner."""
        if step.notify == OWNER:
            return owner
        if step.notify in Role.__members__:
            return self.owner_of(system, step.notify)
        return step.notify if step.notify in self.people else None

    def is_admin(self, person_id: str) -> bool:
        return person_id in self.admins

    def digest_systems(self, digest: Digest) -> list[System]:
        return [s for s in self.systems if digest.covers(s.id)]
