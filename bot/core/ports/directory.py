"""People of routing.yaml and their chat accounts: who can be reached, and how, on each
platform (intake, escalation, the edges), and the stored cache of looked-up accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Reach(Protocol):
    """Whether the chat platform can reach a person of routing.yaml."""

    async def reachable(self, person_id: str) -> bool | None:
        """True or False when known; None when looking them up failed (a passing fault, not
        an answer: "no such account" is only said when the platform said it)."""
        ...


class Directory(Reach, Protocol):
    """Maps people of routing.yaml to chat accounts and back, per platform."""

    async def account(self, person_id: str, platform: str) -> str | None:
        """How to reach the person on `platform`: their user id there (from routing.yaml or
        looked up by e-mail); None when not found or when this directory does not serve
        `platform`."""
        ...

    async def person_behind(self, platform: str, user_id: str) -> str | None:
        """The routing.yaml person behind a user id on `platform`, or None."""
        ...


class DirectoryCache(Protocol):
    """Accounts looked up by e-mail, kept so a restart does not look them up again."""

    async def cached_user(self, person_id: str, platform: str) -> tuple[bool, str | None]:
        """(known, user id) from the directory cache; known=False means never looked up."""
        ...

    async def cache_user(
        self, person_id: str, platform: str, user_id: str | None, at: datetime
    ) -> None: ...

    async def cached_person(self, platform: str, user_id: str) -> str | None:
        """The person whose cached user id on `platform` is `user_id`."""
        ...
