"""Who an escalation step reaches: its own person, else the system's conductor, else the
admins. A step is never lost to someone the chat platform cannot find, and never loops: the
fallback is this fixed, short list, tried once when the step fires."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.core.models import Role
from bot.core.ports import Reach
from bot.core.routing_rules import Routing


@dataclass(frozen=True)
class Recipients:
    """Who gets a step's message, and, when that is not the step's own person, why."""

    people: list[str]
    note: str | None = None


async def reachability(reach: Reach | None, people: Iterable[str]) -> dict[str, bool]:
    """Whether each person can be reached, looked up before a transaction (a lookup may be a
    Web API call, which must not run while cases are locked). People whose look-up failed are
    left out, as is everyone with no `reach` (no platform): they count as reachable, and their
    message is retried like any other, rather than handed on for an account that may exist."""
    if reach is None:
        return {}
    found = {person: await reach.reachable(person) for person in set(people)}
    return {person: known for person, known in found.items() if known is not None}


def fallback_candidates(routing: Routing, system_id: str) -> list[str]:
    """The people a step of this system may fall back to, in order."""
    conductor = routing.owner_of(system_id, Role.conductor)
    return [p for p in dict.fromkeys([conductor, *routing.admins]) if p]


def recipients(
    routing: Routing,
    system_id: str,
    target: str | None,
    reachable: Mapping[str, bool],
    platform: str = "Slack",
) -> Recipients:
    """The step's person if reachable; else the conductor; else every reachable admin.

    A person missing from `reachable` was not looked up and counts as reachable."""

    def reaches(person: str) -> bool:
        return reachable.get(person, True) and routing.person(person) is not None

    if target is not None and reaches(target):
        return Recipients([target])
    missed = _unreachable(routing, target, platform)
    conductor = routing.owner_of(system_id, Role.conductor)
    if conductor and conductor != target and reaches(conductor):
        return Recipients(
            [conductor], f"{missed}: escalated to {routing.name_of(conductor)}, the conductor."
        )
    admins = [a for a in dict.fromkeys(routing.admins) if a != target and reaches(a)]
    if conductor and conductor != target:
        missed += f", nor could {routing.name_of(conductor)}, the conductor"
    if admins:
        names = ", ".join(routing.name_of(a) for a in admins)
        noun = "admin" if len(admins) == 1 else "admins"
        return Recipients(admins, f"{missed}: escalated to the {noun}, {names}.")
    return Recipients([], f"{missed}, and no admin can be reached either: nobody was notified.")


def _unreachable(routing: Routing, target: str | None, platform: str) -> str:
    """Why the step's person is not notified, e.g. Bob could not be reached in Slack (no
    account for bob@example.com)."""
    if target is None:
        return "This step names nobody"
    person = routing.person(target)
    if person is None:
        return f"{target} could not be reached (no longer in routing.yaml)"
    # An id in routing.yaml is used as it is: only people without one go unfound.
    why = f"no account for {person.email}" if person.email else f"no {platform} id or e-mail"
    return f"{person.display} could not be reached in {platform} ({why})"
