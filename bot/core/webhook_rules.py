"""The `webhooks:` section of routing.yaml: where case events are POSTed, which ones, signed how.

A webhook names the environment variable that holds its secret (`secret_env`), never the secret
itself: routing.yaml lives in a config repository, secrets do not.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bot.core.limits import MAX_URL

EVENT_TYPES: tuple[str, ...] = (
    "case.opened",
    "case.acknowledged",
    "case.reassigned",
    "case.needs_info",
    "case.resolved",
    "case.wont_fix",
    "case.duplicate",
    "case.reopened",
    "case.escalated",
    "case.sla_breached",
    "digest.posted",
)
ALL = "all"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def did_you_mean(word: str, candidates: tuple[str, ...] | list[str]) -> str:
    """A suggestion for a misspelt name, or nothing."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _known_event(value: str) -> str:
    if value != ALL and value not in EVENT_TYPES:
        raise ValueError(
            f"unknown event '{value}'{did_you_mean(value, EVENT_TYPES)}; use all or any of "
            + ", ".join(EVENT_TYPES)
        )
    return value


def _all_or_list(value: object) -> object:
    """`all`, `[all]` and a single name are accepted as well as a list; all is kept as `[all]`."""
    if isinstance(value, str):
        value = [value]
    if value == []:
        raise ValueError("must list at least one name, or all")
    if isinstance(value, list) and any(isinstance(v, str) and v.strip() == ALL for v in value):
        if len(value) > 1:
            raise ValueError("all stands alone: list names, or all")
        return [ALL]
    return value


def _web_url(value: str) -> str:
    if len(value) > MAX_URL:
        raise ValueError(f"is longer than {MAX_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{value}' is not an http(s) URL such as https://hooks.example.com/x")
    if parts.username or parts.password:
        raise ValueError("must not carry a user or password: put the secret in secret_env")
    if parts.fragment:
        raise ValueError("must not have a #fragment (it is never sent)")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"'{value}' is not an environment variable name: name the variable that holds the "
            "secret (e.g. LOOPKEEPER_WEBHOOK_SECRET), not the secret itself"
        )
    return value


EventName = Annotated[str, AfterValidator(_known_event)]


class Webhook(BaseModel):
    """One receiver: every chosen event, for the chosen systems, POSTed signed to `url`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, AfterValidator(_web_url)]
    events: Annotated[list[EventName], BeforeValidator(_all_or_list)] = [ALL]
    systems: Annotated[list[str], BeforeValidator(_all_or_list)] = [ALL]
    secret_env: Annotated[str, AfterValidator(_env_name)] = Field(
        description="the environment variable holding the signing secret"
    )

    def wants(self, event_type: str, systems: list[str] | None) -> bool:
        """Whether this webhook takes the event; `systems` are the ones it concerns (None: every
        system, as a digest covering all does)."""
        if ALL not in self.events and event_type not in self.events:
            return False
        if ALL in self.systems:
            return True
        return systems is None or any(s in self.systems for s in systems)

    @property
    def key(self) -> str:
        """A short stable name for the receiver, for dedupe keys and delivery lanes (not the URL
        itself: it may carry a token)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:12]

    @property
    def is_local(self) -> bool:
        """Whether the receiver is on this machine (plain http is fine there in development)."""
        host = (urlsplit(self.url).hostname or "").lower()
        return host in ("localhost", "::1") or host.startswith("127.")


Loc = tuple[str | int, ...]


def webhook_reference_problems(
    webhooks: Sequence[Any], known_systems: set[str] | None
) -> list[tuple[Loc, str]]:
    """Unknown systems in a webhook's filter, and the same URL listed twice (plain data)."""
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for i, hook in enumerate(webhooks):
        if not isinstance(hook, Mapping):
            continue
        url = hook.get("url")
        if isinstance(url, str):
            if url in seen:
                problems.append(
                    (("webhooks", i, "url"), f"the same URL as webhooks[{seen[url]}]: merge them")
                )
            seen.setdefault(url, i)
        wanted = hook.get("systems")
        if not isinstance(wanted, list) or known_systems is None:
            continue
        for j, system_id in enumerate(wanted):
            if isinstance(system_id, str) and system_id not in (known_systems | {ALL}):
                problems.append(
                    (
                        ("webhooks", i, "systems", j),
                        f"unknown system '{system_id}'"
                        f"{did_you_mean(system_id, sorted(known_systems))}",
                    )
                )
    return problems
