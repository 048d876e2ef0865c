"""Priorities a conductor can act on: an owner, the open cases, the oldest SLA breach, the theme
behind it and one next step (issue #13), on the digest's fixed fixture."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.core.models import Severity
from digests.aggregate import build_digest
from digests.model import Change, Theme, WeeklyDigest
from storage.database import create_engine
from storage.digest_reads import SqlDigestReads
from tests.test_digest import FIXTURE, NOW, VAL, W07, at, case, reported, routing, seed

S, C, H = "support-assistant", "code-helper", "hr-bot"


async def digest_with(database_url: str, themes: list[Theme] | None = None) -> WeeklyDigest:
    rules = routing()
    engine = create_engine(database_url)
    try:
        return await build_digest(
            SqlDigestReads(engine), rules, rules.digests[0], W07, NOW, themes=themes or []
        )
    finally:
        await engine.dispose()


async def test_each_priority_names_its_owner_and_one_next_step(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    priorities = (await digest_with(database_url)).priorities
    assert [(p.owner.person, p.owner.name, p.owner.role) for p in priorities if p.owner] == [
        ("bob", "Bob", "governance"),
        ("dave", "Dave", "validation"),
        ("bob", "Bob", "governance"),
        ("alice", "Alice", "validation"),
        ("dave", "Dave", "validation"),
    ]
    assert [p.next_step for p in priorities] == [
        "check with Bob (governance) that the fix holds: 5 reports, none open",
        "ask Dave (validation) for a fix date: 1 open",
        "ask Bob (governance) for a fix date: 1 open",
        "ask Alice (validation) for a fix date: 1 open",
        "ask Dave (validation) for a fix date: 1 open",
    ]
    assert all(p.theme is None and p.oldest_breach_at is None for p in priorities)


async def test_the_oldest_sla_breach_of_an_open_case_is_in_the_next_step(
    database_url: str,
) -> None:
    late = dataclasses.replace(
        case(31, S, "hallucination", Severity.high, "alice", VAL, reported(at(10, 9), "u1")),
        acknowledge_within=timedelta(hours=4),
    )
    await seed(database_url, [*FIXTURE, late])
    [priority] = [
        p
        for p in (await digest_with(database_url)).priorities
        if (p.system_id, p.category_id) == (S, "hallucination")
    ]
    assert priority.oldest_breach_at == at(10, 13)
    assert (
        priority.next_step == "ask Alice (validation) for a fix date: 2 open, oldest breached 5 d"
    )


async def test_a_priority_names_the_theme_behind_it(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    themes = [
        Theme(
            label="refund · policy", terms=["refund", "policy"], reports=4, cases=2,
            systems=[C, S], categories=["hallucination"], change=Change(current=4, previous=0),
            case_numbers=[7, 8],
        ),
        Theme(
            label="address · leaked", terms=["address"], reports=1, cases=1, systems=[H],
            categories=["pii_leak"], change=Change(current=1, previous=1), case_numbers=[10],
        ),
    ]  # fmt: skip
    digest = await digest_with(database_url, themes)
    assert {(p.system_id, p.category_id): p.theme for p in digest.priorities} == {
        (S, "unsafe"): None,
        (C, "hallucination"): "refund · policy",
        (H, "pii_leak"): "address · leaked",
        (S, "hallucination"): "refund · policy",
        (C, "edge_case"): None,
    }
    assert digest.themes == themes


def test_a_priority_nobody_owns_asks_for_an_owner_in_the_routing_file() -> None:
    from digests.model import Owner, Priority
    from digests.priorities import next_step

    priority = Priority(
        rank=1, system_id=S, system_name="Support Assistant", category_id="unsafe",
        category_label="Unsafe", severity=Severity.critical, reports=4, previous_reports=0,
        cases=2, open_cases=2, sla_breaches=1, score=64.0, reason="4 reports",
    )  # fmt: skip
    nobody = Owner(person=None, name="nobody", role="governance")
    assert next_step(priority, nobody, 3 * 86_400 + 60) == (
        "name a governance owner for Support Assistant in routing.yaml: 2 open, oldest breached 3 d"
    )
    assert next_step(priority, None, None) == (
        "name an owner for Support Assistant in routing.yaml: 2 open"
    )
    hours = next_step(priority, Owner(person="bob", name="Bob", role="governance"), 5 * 3600 + 59)
    assert hours == "ask Bob (governance) for a fix date: 2 open, oldest breached 5 h"
