"""The routing file's cross-references: what names a person, category or system that is not there,
or claims what another entry already claims.

It reads the plain data of a routing file (as read from YAML, or a dumped `Routing`), so the
loader can report these problems beside the structural ones in one pass, and `Routing`'s own
validator can run it when a routing is built in code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.core.models import Role
from bot.core.routing_fields import OWNER, Loc, did_you_mean
from bot.core.webhook_rules import webhook_reference_problems

Report = Callable[[Loc, str], None]


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
            problem(loc, f"unknown person '{value}'{did_you_mean(value, known_people)}")

    for i, admin in enumerate(_as_list(data.get("admins"))):
        check_person(("admins", i), admin)

    reactions = data.get("reactions")
    if isinstance(reactions, Mapping) and known_categories is not None:
        for emoji, category_id in reactions.items():
            if isinstance(category_id, str) and category_id not in known_categories:
                problem(
                    ("reactions", str(emoji).strip(":")),
                    f"unknown category '{category_id}'"
                    f"{did_you_mean(category_id, known_categories)}",
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
                    f"{did_you_mean(notify, candidates)}",
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
            f"unknown system '{fallback}'{did_you_mean(fallback, known_systems)}",
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
                        f"unknown system '{system_id}'{did_you_mean(system_id, known_systems)}",
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
