"""Who a new case goes to: the routed owner, or the system's conductor when Slack cannot reach
the owner (with the reason, said in the case's thread)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.models import Role
from bot.core.ports import Reach
from bot.core.routing_rules import Routing, System


@dataclass(frozen=True)
class Route:
    owner: str | None
    role: Role
    note: str | None = None


async def route_to(routing: Routing, directory: Reach | None, system: System, role: Role) -> Route:
    """The routed owner; one Slack cannot reach falls back to the system's conductor."""
    owner = routing.owner_of(system, role)
    if owner is None or directory is None:
        return Route(owner, role)
    if await directory.reachable(owner) is True:
        return Route(owner, role)
    conductor = routing.owner_of(system, Role.conductor)
    person = routing.person(owner)
    name = routing.name_of(owner)
    if person is not None and person.email:
        missing = f"no Slack id in routing.yaml and {person.email} is not in Slack"
    else:
        missing = "no Slack id or e-mail in routing.yaml"
    why = f"{name} ({role.value} owner) can't be reached in Slack ({missing}), "
    if conductor is None or conductor == owner:
        return Route(owner, role, why + "and there is no conductor to fall back to.")
    fallback_name = routing.name_of(conductor)
    return Route(conductor, Role.conductor, why + f"so it went to the conductor, {fallback_name}.")
