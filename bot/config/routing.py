"""routing.yaml: who owns what, how reports are categorised, when cases escalate.

`load_routing` / `parse_routing` turn the file into a frozen `Routing`, or raise `RoutingError`
listing every problem with its location (`systems[0].owners.validation: unknown person 'alise'`).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.config.webhooks import webhook_reference_problems
from bot.core.durations import HINT, format_duration, parse_duration
from bot.core.models import Role, Severity
from bot.core.webhook_rules import Webhook

Loc = tuple[str | int, ...]
Report = Callable[[Loc, str], None]

OWNER = "owner"
"""`notify: owner` in an escalation step: the person the case is routed to."""

_REFERENCE_ERROR = "routing_problem"
_SKIP_REFERENCES = "skip_references"
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
_TIME_PATTERN = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class RoutingError(Exception):
    """A routing file that cannot be used; `problems` holds one located message each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(self.problems)


# --- field types -------------------------------------------------------------------------------


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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the sections ------------------------------------------------------------------------------


class Person(_Model):
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


class Category(_Model):
    """One kind of problem a reporter can pick; menu order is list order."""

    id: Id
    label: str
    severity: Severity
    route_to: Role


class SystemMatch(_Model):
    """How a flagged message is attributed to a system: who posted it, or where."""

    slack_bot_ids: StrList = []
    slack_channels: StrList = []
    teams_bot_ids: StrList = []


class Triage(_Model):
    """Where a system's case cards are posted; owners triage in each card's thread."""

    slack_channel: str | None = None
    teams_channel: str | None = None


class EscalationStep(_Model):
    """After `after`, if the case is still unacknowledged, notify `notify`.

    `notify` is "owner" (the routed owner), a role name (that role's owner for the system) or a
    person id.
    """

    after: Duration
    notify: str


class System(_Model):
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
            _error(
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


class SlaTarget(_Model):
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


class DigestSchedule(_Model):
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
            raise ValueError(f'must be a time "HH:MM" such as "09:00"{_got(value)}')
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
    raise ValueError(f"must be all or a list of system ids{_got(value)}")


class Digest(_Model):
    """A scheduled summary for conductors."""

    name: Id
    schedule: DigestSchedule
    slack_channel: str | None = None
    teams_channel: str | None = None
    systems: Annotated[Literal["all"] | list[str], BeforeValidator(_all_or_ids)] = "all"

    def covers(self, system_id: str) -> bool:
        return self.systems == "all" or system_id in self.systems


RedactionKind = Literal["email", "phone", "card_number"]


class Privacy(_Model):
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


class Routing(_Model):
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
    webhooks: list[Webhook] = []  # bot/core/webhook_rules.py; checks: bot/config/webhooks.py

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
        if info.context and info.context.get(_SKIP_REFERENCES):
            return self
        problems = reference_problems(self.model_dump(mode="json"))
        if problems:
            raise ValidationError.from_exception_data(
                "Routing", [_error(loc, message, None) for loc, message in problems]
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


# --- cross-references --------------------------------------------------------------------------


def reference_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """What refers to something that is not there, or claims what another entry claims.

    Works on the plain data of a routing file (as read from YAML, or a dumped `Routing`) and
    skips whatever is malformed: structural problems are reported by validation.
    """
    problems: list[tuple[Loc, str]] = []

    def problem(loc: Loc, message: str) -> None:
        problems.append((loc, message))

    people = data.get("people", {})
    known_people: set[str] | None = None
    if isinstance(people, Mapping):
        known_people = {str(key) for key in people}
        _check_people(people, problem)
    categories = _as_list(data.get("categories"))
    known_categories = _unique_ids("categories", categories, "category", problem)
    systems = _as_list(data.get("systems"))
    known_systems = _unique_ids("systems", systems, "system", problem)

    def check_person(loc: Loc, value: object) -> None:
        if known_people is not None and isinstance(value, str) and value not in known_people:
            problem(loc, f"unknown person '{value}'{_did_you_mean(value, known_people)}")

    for i, admin in enumerate(_as_list(data.get("admins"))):
        check_person(("admins", i), admin)

    reactions = data.get("reactions")
    if isinstance(reactions, Mapping) and known_categories is not None:
        for emoji, category_id in reactions.items():
            if isinstance(category_id, str) and category_id not in known_categories:
                problem(
                    ("reactions", str(emoji).strip(":")),
                    f"unknown category '{category_id}'"
                    f"{_did_you_mean(category_id, known_categories)}",
                )

    routed_roles: dict[str, list[str]] = {}
    for category in categories:
        if isinstance(category, Mapping) and isinstance(category.get("route_to"), str):
            routed_roles.setdefault(category["route_to"], []).append(str(category.get("id")))

    claimed: dict[tuple[str, str], str] = {}
    for i, system in enumerate(systems):
        if not isinstance(system, Mapping):
            continue
        system_id = system.get("id")
        owners = system.get("owners", {})
        if isinstance(owners, Mapping):
            for role, person_id in owners.items():
                check_person(("systems", i, "owners", str(role)), person_id)
            for role, category_ids in routed_roles.items():
                if role in Role.__members__ and role not in owners:
                    names = ", ".join(f"'{c}'" for c in category_ids)
                    problem(
                        ("systems", i, "owners"),
                        f"no {role} owner, but "
                        + (
                            f"category {names} routes"
                            if len(category_ids) == 1
                            else f"categories {names} route"
                        )
                        + f" to {role}",
                    )
        for j, step in enumerate(_as_list(system.get("escalation"))):
            notify = step.get("notify") if isinstance(step, Mapping) else None
            if not isinstance(notify, str) or notify == OWNER:
                continue
            loc = ("systems", i, "escalation", j, "notify")
            if notify in Role.__members__:
                if isinstance(owners, Mapping) and notify not in owners:
                    problem(loc, f"this system has no {notify} owner to notify")
            elif known_people is not None and notify not in known_people:
                candidates = {OWNER, *Role.__members__, *known_people}
                problem(
                    loc,
                    f"unknown person '{notify}': use owner, a role "
                    f"({', '.join(Role.__members__)}) or a person id"
                    f"{_did_you_mean(notify, candidates)}",
                )
        match = system.get("match", {})
        if isinstance(match, Mapping):
            for kind in ("slack_bot_ids", "slack_channels", "teams_bot_ids"):
                values = match.get(kind, [])
                for j, value in enumerate(
                    [values] if isinstance(values, str) else _as_list(values)
                ):
                    if not isinstance(value, str):
                        continue
                    owner = claimed.setdefault((kind, value), str(system_id))
                    if owner != str(system_id):
                        problem(
                            ("systems", i, "match", kind, j),
                            f"'{value}' is already matched to system '{owner}'",
                        )

    fallback = data.get("fallback_system")
    if isinstance(fallback, str) and known_systems is not None and fallback not in known_systems:
        problem(
            ("fallback_system",),
            f"unknown system '{fallback}'{_did_you_mean(fallback, known_systems)}",
        )

    seen_digests: set[str] = set()
    for i, digest in enumerate(_as_list(data.get("digests"))):
        if not isinstance(digest, Mapping):
            continue
        name = digest.get("name")
        if isinstance(name, str):
            if name in seen_digests:
                problem(("digests", i, "name"), f"duplicate digest name '{name}'")
            seen_digests.add(name)
        if not digest.get("slack_channel") and not digest.get("teams_channel"):
            problem(("digests", i), "needs a slack_channel or a teams_channel to post to")
        wanted = digest.get("systems")
        if isinstance(wanted, list) and known_systems is not None:
            for j, system_id in enumerate(wanted):
                if isinstance(system_id, str) and system_id not in known_systems:
                    problem(
                        ("digests", i, "systems", j),
                        f"unknown system '{system_id}'{_did_you_mean(system_id, known_systems)}",
                    )
    problems += webhook_reference_problems(_as_list(data.get("webhooks")), known_systems)
    return problems


def _check_people(people: Mapping[Any, Any], problem: Report) -> None:
    reserved = {OWNER, *Role.__members__}
    seen: dict[tuple[str, str], str] = {}
    for key, person in people.items():
        key = str(key)
        if key in reserved:
            problem(
                ("people", key),
                f"'{key}' is reserved (escalation steps use it to mean "
                f"{'the routed owner' if key == OWNER else 'a role'}); pick another id",
            )
        if not isinstance(person, Mapping):
            continue
        if "id" in person and person["id"] != key:
            problem(("people", key, "id"), f"must be '{key}', the key it is listed under")
        for field in ("email", "slack", "teams"):
            value = person.get(field)
            if not isinstance(value, str):
                continue
            normal = value.casefold() if field == "email" else value
            other = seen.setdefault((field, normal), key)
            if other != key:
                problem(("people", key, field), f"'{value}' is also {other}'s {field}")


def _unique_ids(section: str, items: list[Any], noun: str, problem: Report) -> set[str] | None:
    """The ids of a list section, reporting duplicates; None when some entry has no usable id."""
    ids: dict[str, int] = {}
    complete = True
    for i, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(item_id, str):
            complete = False
            continue
        if item_id in ids:
            problem(
                (section, i, "id"),
                f"duplicate {noun} id '{item_id}' (also {section}[{ids[item_id]}])",
            )
        else:
            ids[item_id] = i
    return set(ids) if complete else None


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A suggestion for a misspelt or shortened name, or nothing."""
    options = sorted(candidates)
    lowered = word.casefold()
    extended = [c for c in options if c.casefold().startswith(lowered) and len(lowered) >= 3]
    close = extended if len(extended) == 1 else []
    close = close or difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _error(loc: Loc, message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(_REFERENCE_ERROR, "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


# --- loading -----------------------------------------------------------------------------------


def load_routing(path: str | Path) -> Routing:
    """Read and validate a routing file; RoutingError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutingError(
            [f"{path}: file not found (run `loopkeeper init` to write an example)"]
        ) from None
    except IsADirectoryError:
        raise RoutingError([f"{path}: is a directory, not a routing file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RoutingError([f"{path}: cannot read ({error})"]) from None
    return parse_routing(text, str(path))


def parse_routing(text: str, source: str) -> Routing:
    """Validate routing YAML; `source` names it in file-level problems."""
    data, duplicates = _read_yaml(text, source)
    problems = reference_problems(data)
    routing: Routing | None = None
    try:
        routing = Routing.model_validate(data, context={_SKIP_REFERENCES: True})
    except ValidationError as error:
        problems.extend(_describe(e) for e in error.errors(include_url=False))
    if routing is None or problems or duplicates:
        raise RoutingError(duplicates + _in_document_order(problems, data))
    return routing


class _Loader(yaml.SafeLoader):
    """YAML 1.2 scalars (no `on`/`no` booleans, no 10:30 sexagesimal numbers); duplicate keys."""

    duplicates: list[str]


_REPLACED_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, typing.Hashable):
            continue
        if key in seen:
            mark = key_node.start_mark
            loader.duplicates.append(
                f"{mark.name}:{mark.line + 1}:{mark.column + 1}: duplicate key '{key}'"
                " (each key may appear once in a mapping)"
            )
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)  # type: ignore[arg-type]


_YAML_HINTS = {
    "'\\t'": " (indent with spaces, not tabs)",
    "expected <block end>": " (check the indentation of this line and the one above)",
    "mapping values are not allowed": " (quote a value that contains ': ', or check indentation)",
    "could not find expected ':'": " (a key needs ': ' after it, or a line is mis-indented)",
}


def _read_yaml(text: str, source: str) -> tuple[dict[str, Any], list[str]]:
    """The top-level mapping of a routing file, and its duplicate-key problems."""
    loader = _Loader(text)
    loader.name = source
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        detail = error.problem or error.context or "cannot parse"
        detail += next((hint for clue, hint in _YAML_HINTS.items() if clue in detail), "")
        raise RoutingError([f"{where}: invalid YAML: {detail}"]) from None
    except yaml.YAMLError as error:
        raise RoutingError([f"{source}: invalid YAML: {error}"]) from None
    finally:
        loader.dispose()
    if data is None:
        raise RoutingError(
            [f"{source}: the file is empty (run `loopkeeper init` to write an example)"]
        )
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        raise RoutingError(
            [
                f"{source}: the top level must be a mapping of sections "
                f"(people:, categories:, systems:, …), not {found}"
            ]
        )
    return data, loader.duplicates


# --- describing validation errors ------------------------------------------------------------


def _describe(error: Mapping[str, Any]) -> tuple[Loc, str]:
    """A pydantic error as (location, short human message)."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == _REFERENCE_ERROR:
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
        return loc, f"unknown key '{key}'{_did_you_mean(key, fields)}"
    return loc, _message(kind, ctx, given, error["msg"])


def _message(kind: str, ctx: Mapping[str, Any], given: object, default: str) -> str:
    if kind == "missing":
        return "required"
    if kind in ("enum", "literal_error"):
        return f"must be one of {_choices(ctx)}{_got(given)}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", default))
    if kind in ("string_type", "str_type"):
        return f"must be a string{_got(given)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping (key: value){_got(given)}"
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        return f"must be a list{_got(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false{_got(given)}"
    if kind == "too_short":
        return "must list at least one"
    return default[:1].lower() + default[1:]


def _choices(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", ""))
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def _got(given: object) -> str:
    if isinstance(given, Mapping | list):
        return f" (got a {'mapping' if isinstance(given, Mapping) else 'list'})"
    if given is None:
        return " (got nothing)"
    return f" (got {given!r})"


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


def _in_document_order(problems: list[tuple[Loc, str]], data: Mapping[str, Any]) -> list[str]:
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
