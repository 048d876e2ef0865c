"""What a digest calls things: its systems, categories and people, from the routing file."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.routing_rules import Digest, Routing
from digests.model import SystemRef


class Names:
    """The digest's systems (those it covers, then any seen in the data for `systems: all`),
    and the labels of categories and people, falling back to their ids."""

    def __init__(self, routing: Routing, digest: Digest, seen_system_ids: Iterable[str]) -> None:
        self.routing = routing
        systems = [SystemRef(id=s.id, name=s.name) for s in routing.digest_systems(digest)]
        if digest.systems == "all":
            known = {s.id for s in systems}
            systems += [SystemRef(id=i, name=i) for i in sorted(set(seen_system_ids) - known)]
        self.systems = systems
        self.system_names = {s.id: s.name for s in systems}

    def system(self, system_id: str) -> str:
        return self.system_names.get(system_id, system_id)

    def category(self, category_id: str) -> str:
        category = self.routing.category(category_id)
        return category.label if category else category_id

    def person(self, person_id: str | None) -> str:
        if not person_id:
            return "unassigned"
        person = self.routing.person(person_id)
        return person.display if person else person_id

    def category_ids(self, seen: Iterable[str]) -> list[str]:
        """The routing file's categories in its order, then any others seen, sorted."""
        declared = [c.id for c in self.routing.categories]
        return list(dict.fromkeys(declared + sorted(set(seen) - set(declared))))
