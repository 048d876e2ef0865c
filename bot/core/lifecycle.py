"""The case state machine and who may move a case: pure rules, no I/O."""

from __future__ import annotations

import enum
from datetime import datetime

from bot.core.models import Case, CaseStatus
from bot.core.routing_rules import Routing


class Action(enum.StrEnum):
    acknowledge = "acknowledge"
    needs_info = "needs_info"
    answer = "answer"
    resolve = "resolve"
    wont_fix = "wont_fix"
    duplicate = "duplicate"
    reassign = "reassign"


OPEN = frozenset({CaseStatus.new, CaseStatus.acknowledged, CaseStatus.needs_info})

# action -> (states it may start from, state it ends in; None keeps the state)
TRANSITIONS: dict[Action, tuple[frozenset[CaseStatus], CaseStatus | None]] = {
    Action.acknowledge: (frozenset({CaseStatus.new}), CaseStatus.acknowledged),
    Action.needs_info: (
        frozenset({CaseStatus.new, CaseStatus.acknowledged}),
        CaseStatus.needs_info,
    ),
    Action.answer: (frozenset({CaseStatus.needs_info}), CaseStatus.acknowledged),
    Action.resolve: (OPEN, CaseStatus.resolved),
    Action.wont_fix: (OPEN, CaseStatus.wont_fix),
    Action.duplicate: (OPEN, CaseStatus.duplicate),
    Action.reassign: (OPEN, None),
}

STATUS_WORDS = {
    CaseStatus.new: "new",
    CaseStatus.acknowledged: "acknowledged",
    CaseStatus.needs_info: "waiting for information",
    CaseStatus.resolved: "resolved",
    CaseStatus.wont_fix: "closed as won't fix",
    CaseStatus.duplicate: "closed as a duplicate",
}
ACTION_WORDS = {
    Action.acknowledge: "acknowledged",
    Action.needs_info: "asked for more information",
    Action.answer: "answered",
    Action.resolve: "resolved",
    Action.wont_fix: "closed as won't fix",
    Action.duplicate: "marked as a duplicate",
    Action.reassign: "reassigned",
}


class IllegalTransition(ValueError):
    """A move the lifecycle does not allow; the message is shown to the person who tried."""


class NotAllowed(PermissionError):
    """Someone without the right to change the case tried to."""


def check_transition(case: Case, action: Action) -> CaseStatus:
    """The state `action` leads to from the case's state, or IllegalTransition saying why not."""
    sources, target = TRANSITIONS[action]
    if case.status not in sources:
        raise IllegalTransition(
            f"Case #{case.id} is {STATUS_WORDS[case.status]}, so it can't be "
            f"{ACTION_WORDS[action]}."
        )
    return target or case.status


def apply(case: Case, action: Action, at: datetime) -> Case:
    """The case after `action`; closing stamps `closed_at`."""
    status = check_transition(case, action)
    update: dict[str, object] = {"status": status, "updated_at": at}
    if status.is_closed:
        update["closed_at"] = at
    if action is Action.acknowledge:
        update["acknowledged_at"] = at
    return case.model_copy(update=update)


def deciders(routing: Routing, case: Case) -> list[str]:
    """Person ids who may change the case: its owner, the system's owners, the admins."""
    people: list[str] = []
    if case.owner:
        people.append(case.owner)
    system = routing.system(case.system_id)
    if system is not None:
        people.extend(system.owners.values())
    people.extend(routing.admins)
    return list(dict.fromkeys(people))


def authorise(routing: Routing, case: Case, person_id: str | None) -> None:
    """Raise NotAllowed, naming who can act, unless `person_id` may change the case."""
    allowed = deciders(routing, case)
    if person_id is not None and person_id in allowed:
        return
    names = [p.display for p in (routing.person(pid) for pid in allowed) if p is not None]
    raise NotAllowed(
        f"Only {_join(names)} can change case #{case.id}. You can still comment in its thread."
    )


def _join(names: list[str]) -> str:
    if not names:
        return "the case's owners"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]
