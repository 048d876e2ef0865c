from __future__ import annotations

import textwrap
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import bot.config
from bot.config.errors import RoutingError
from bot.config.loading import load_routing, parse_routing
from bot.core.models import Role, Severity
from bot.core.routing_rules import DEFAULT_SLA, Routing

EXAMPLE = Path(bot.config.__file__).parent / "routing.example.yaml"


def example_data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def problems_of(data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(RoutingError) as raised:
        parse_routing(text, "routing.yaml")
    return raised.value.problems


# --- the example -------------------------------------------------------------------------------


def test_example_file_loads_with_its_routing() -> None:
    routing = load_routing(EXAMPLE)

    assert [c.id for c in routing.categories] == [
        "hallucination",
        "unsafe",
        "pii_leak",
        "bad_format",
        "edge_case",
        "other",
    ]
    assert routing.category("unsafe") is not None
    assert routing.category("unsafe").severity is Severity.critical  # type: ignore[union-attr]
    assert routing.reactions == {
        "x": "hallucination",
        "warning": "edge_case",
        "rotating_light": "unsafe",
    }
    support = routing.system("support-assistant")
    assert support is not None
    assert support.owners[Role.validation] == "alice"
    assert [(s.after, s.notify) for s in support.escalation] == [
        (timedelta(0), "owner"),
        (timedelta(hours=4), "governance"),
        (timedelta(days=1), "conductor"),
    ]
    assert routing.fallback_system == "support-assistant"
    assert routing.sla[Severity.low].resolve == timedelta(days=30)
    schedule = routing.digests[0].schedule
    assert (schedule.day, schedule.local_time, schedule.timezone) == (
        "mon",
        time(9, 0),
        "Europe/London",
    )
    assert routing.privacy.redact == ["email", "phone", "card_number"]
    assert all(person.name for person in routing.people.values())


def test_example_file_explains_every_section() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    sections = [i for i, line in enumerate(lines) if line[:1].isalpha()]
    assert len(sections) == len(Routing.model_fields)
    for i in sections:
        assert lines[i - 1].startswith("#"), f"no comment above {lines[i]!r}"


# --- lookups -----------------------------------------------------------------------------------


def test_lookups_find_people_systems_and_owners() -> None:
    routing = load_routing(EXAMPLE)

    alice = routing.person("alice")
    assert alice is not None
    assert alice.id == "alice"
    assert alice.display == "Alice Ng"
    assert routing.person_by_slack_id("U0ALICE") == alice
    assert routing.person_by_email("  Alice@EXAMPLE.com ") == alice
    assert routing.person_by_teams_id("29:1carol") == routing.person("carol")
    assert routing.person("nobody") is None
    assert routing.person_by_slack_id("U0NOBODY") is None
    assert routing.person_by_email("nobody@example.com") is None

    support = routing.system("support-assistant")
    assert routing.system_for_slack_bot("B0SUPPORT") == support
    assert routing.system_for_slack_channel("C0SUPPORT") == support
    assert routing.system_for_teams_bot("28:support-bot") == support
    assert routing.system_for_slack_bot("B0OTHER") is None
    assert routing.system_for_slack_channel("C0RANDOM") is None
    assert routing.system("nope") is None

    assert routing.owner_of("support-assistant", Role.governance) == "bob"
    assert support is not None
    assert routing.owner_of(support, "prompt") == "alice"
    assert routing.owner_of(support, Role.platform) is None
    assert routing.owner_of("nope", Role.validation) is None

    assert routing.is_admin("carol")
    assert not routing.is_admin("alice")


def test_display_falls_back_to_the_person_key() -> None:
    data = example_data()
    data["people"]["bob"] = {"email": "bob@example.com"}
    routing = parse_routing(yaml.safe_dump(data), "routing.yaml")
    assert routing.person("bob").display == "bob"  # type: ignore[union-attr]


def test_escalation_target_resolves_owner_roles_and_people() -> None:
    routing = load_routing(EXAMPLE)
    support = routing.systems[0]
    owner_step, governance_step, conductor_step = support.escalation
    assert routing.escalation_target(support, owner_step, owner="alice") == "alice"
    assert routing.escalation_target(support, governance_step, owner="alice") == "bob"
    assert routing.escalation_target(support, conductor_step, owner="alice") == "carol"


def test_routing_is_immutable() -> None:
    routing = load_routing(EXAMPLE)
    with pytest.raises(ValidationError):
        routing.fallback_system = "other"  # type: ignore[misc]


# --- defaults ----------------------------------------------------------------------------------


def test_missing_sections_take_sensible_defaults() -> None:
    data = example_data()
    for section in ("admins", "reactions", "fallback_system", "sla", "digests", "privacy"):
        del data[section]
    del data["systems"][0]["escalation"]
    routing = parse_routing(yaml.safe_dump(data), "routing.yaml")

    assert routing.sla == DEFAULT_SLA
    assert routing.sla[Severity.critical].acknowledge == timedelta(hours=1)
    assert routing.sla[Severity.medium].resolve == timedelta(days=7)
    assert routing.privacy.store_output_text is True
    assert routing.privacy.redact == []
    assert routing.reactions == {}
    assert [(s.after, s.notify) for s in routing.systems[0].escalation] == [(timedelta(0), "owner")]


def test_sla_fills_left_out_severities_and_halves() -> None:
    data = example_data()
    data["sla"] = {"critical": {"acknowledge": "15m"}}
    routing = parse_routing(yaml.safe_dump(data), "routing.yaml")
    assert routing.sla[Severity.critical].acknowledge == timedelta(minutes=15)
    assert routing.sla[Severity.critical].resolve == timedelta(days=1)
    assert routing.sla[Severity.high] == DEFAULT_SLA[Severity.high]


def test_section_with_every_entry_commented_out_counts_as_absent() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "reactions:\n  x: hallucination\n  warning: edge_case\n  rotating_light: unsafe",
        "reactions:\n  # x: hallucination",
    )
    assert parse_routing(text, "routing.yaml").reactions == {}


def test_yaml_1_1_surprises_are_read_as_written() -> None:
    # Unquoted 10:30 is a base-60 number and `on` a boolean in YAML 1.1; users mean text.
    text = EXAMPLE.read_text(encoding="utf-8").replace('time: "09:00"', "time: 10:30")
    text = text.replace("  warning: edge_case", "  on: edge_case")
    routing = parse_routing(text, "routing.yaml")
    assert routing.digests[0].schedule.time == "10:30"
    assert routing.reactions["on"] == "edge_case"


# --- problems ----------------------------------------------------------------------------------

SEVERAL_MISTAKES = """\
people:
  alice: {email: alice@example.com, slack: U0ALICE}
  bob:   {email: bob@example.com}
  carol: {email: carol@example.com}
admins: [carol, dave]
categories:
  - {id: hallucination, label: "Wrong facts", severity: high, route_to: validation}
  - {id: unsafe, label: "Unsafe", severity: critcal, route_to: governance}
  - {id: unsafe, label: "Also unsafe", severity: low, route_to: prompt}
reactions:
  x: halucination
systems:
  - id: support-assistant
    name: Support Assistant
    match: {slack_bot_ids: [B0SUPPORT], slack_channels: [C0SUPPORT]}
    owners: {validation: alise, governance: bob, prompt: alice, conductor: carol}
    escalation:
      - {after: 0m, notify: owner}
      - {after: 4x, notify: governance}
      - {after: 1d, notify: conductr}
  - id: code-helper
    name: Code Helper
    match: {slack_bot_ids: [B0SUPPORT]}
    owners: {validation: alice, governance: bob}
fallback_system: support
digests:
  - name: weekly
    schedule: {day: monday, time: "9:00", timezone: Europe/Lundon}
    slack_channel: C0CONDUCT
    systems: [support-assistant, code-help]
"""


def test_every_mistake_is_reported_with_its_location() -> None:
    problems = problems_of(SEVERAL_MISTAKES)

    assert problems == [
        "admins[1]: unknown person 'dave'",
        "categories[1].severity: must be one of low, medium, high, critical (got 'critcal')",
        "categories[2].id: duplicate category id 'unsafe' (also categories[1])",
        "reactions.x: unknown category 'halucination' (did you mean 'hallucination'?)",
        "systems[0].owners.validation: unknown person 'alise' (did you mean 'alice'?)",
        "systems[0].escalation[1].after: invalid duration '4x' (use e.g. 30m, 4h, 1d)",
        "systems[0].escalation[2].notify: unknown person 'conductr': use owner, a role "
        "(validation, governance, prompt, platform, conductor) or a person id "
        "(did you mean 'conductor'?)",
        "systems[1].match.slack_bot_ids[0]: 'B0SUPPORT' is already matched to system "
        "'support-assistant'",
        "systems[1].owners: no prompt owner, but category 'unsafe' routes to prompt",
        "fallback_system: unknown system 'support' (did you mean 'support-assistant'?)",
        "digests[0].schedule.timezone: unknown time zone 'Europe/Lundon' "
        "(use an IANA name such as Europe/London)",
        "digests[0].systems[1]: unknown system 'code-help' (did you mean 'code-helper'?)",
    ]


def test_routing_error_prints_one_problem_per_line() -> None:
    with pytest.raises(RoutingError) as raised:
        parse_routing(SEVERAL_MISTAKES, "routing.yaml")
    lines = str(raised.value).splitlines()
    assert lines == raised.value.problems
    assert "systems[0].owners.validation: unknown person 'alise'" in str(raised.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["categories"][0].update(colour="red"),
            "categories[0].colour: unknown key 'colour'",
        ),
        (
            lambda d: d["systems"][0].update(escalaton=[]),
            "systems[0].escalaton: unknown key 'escalaton' (did you mean 'escalation'?)",
        ),
        (
            lambda d: d.update(peple={}),
            "peple: unknown key 'peple' (did you mean 'people'?)",
        ),
        (
            lambda d: d["people"]["alice"].update(phone="123"),
            "people.alice.phone: unknown key 'phone'",
        ),
        (
            lambda d: d["systems"][0]["owners"].update(validatoin="alice"),
            "systems[0].owners.validatoin: unknown key 'validatoin': "
            "must be one of validation, governance, prompt, platform, conductor",
        ),
        (
            lambda d: d["sla"].update(urgent={"acknowledge": "1h", "resolve": "1d"}),
            "sla.urgent: unknown key 'urgent': must be one of low, medium, high, critical",
        ),
    ],
)
def test_unknown_keys_are_refused(edit: Any, expected: str) -> None:
    data = example_data()
    edit(data)
    assert problems_of(data) == [expected]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["categories"][1].pop("label"), "categories[1].label: required"),
        (lambda d: d.pop("systems"), "systems: required"),
        (lambda d: d.update(categories=[]), "categories: must list at least one"),
        (
            lambda d: d["categories"][2].update(route_to="legal"),
            "categories[2].route_to: must be one of validation, governance, prompt, platform, "
            "conductor (got 'legal')",
        ),
        (
            lambda d: d["people"].update(dave={"name": "Dave"}),
            "people.dave: needs at least one of email, slack, teams",
        ),
        (
            lambda d: d["people"]["bob"].update(email="bob.example.com"),
            "people.bob.email: 'bob.example.com' is not an email address",
        ),
        (
            lambda d: d["people"]["bob"].update(slack="U0ALICE"),
            "people.bob.slack: 'U0ALICE' is also alice's slack",
        ),
        (
            lambda d: d["people"].update(governance={"email": "gov@example.com"}),
            "people.governance: 'governance' is reserved (escalation steps use it to mean "
            "a role); pick another id",
        ),
        (
            lambda d: d.update(people=["alice"]),
            "people: must be a mapping (key: value) (got a list)",
        ),
        (
            lambda d: d["systems"][0]["escalation"][2].update(after="1h"),
            "systems[0].escalation[2].after: 1h is earlier than the step before it (4h); "
            "list steps in time order",
        ),
        (
            lambda d: d["systems"][0]["escalation"][1].update(notify="platform"),
            "systems[0].escalation[1].notify: this system has no platform owner to notify",
        ),
        (
            lambda d: d["sla"]["high"].update(acknowledge="4d"),
            "sla.high: acknowledge (4d) is later than resolve (3d)",
        ),
        (
            lambda d: d["digests"][0]["schedule"].update(day="funday"),
            "digests[0].schedule.day: must be one of mon, tue, wed, thu, fri, sat, sun "
            "(got 'funday')",
        ),
        (
            lambda d: d["digests"][0]["schedule"].update(time="25:00"),
            'digests[0].schedule.time: must be a time "HH:MM" such as "09:00" (got \'25:00\')',
        ),
        (
            lambda d: d["digests"][0].update(systems="some"),
            "digests[0].systems: must be all or a list of system ids (got 'some')",
        ),
        (
            lambda d: d["digests"][0].update(slack_channel=None, teams_channel=None),
            "digests[0]: needs a slack_channel or a teams_channel to post to",
        ),
        (
            lambda d: d["privacy"].update(redact=["email", "ssn"]),
            "privacy.redact[1]: must be one of email, phone, card_number (got 'ssn')",
        ),
        (
            lambda d: d["systems"][0].update(id="support assistant"),
            "systems[0].id: 'support assistant' is not a usable id: use letters, digits, "
            "'-', '_' or '.', no spaces",
        ),
    ],
)
def test_each_mistake_has_a_located_human_message(edit: Any, expected: str) -> None:
    data = example_data()
    edit(data)
    problems = problems_of(data)
    assert expected in problems, problems


def test_second_system_claiming_a_channel_is_a_problem() -> None:
    data = example_data()
    second = {
        "id": "code-helper",
        "name": "Code Helper",
        "match": {"slack_channels": ["C0CODE", "C0SUPPORT"]},
        "owners": dict(data["systems"][0]["owners"]),
    }
    data["systems"].append(second)
    assert problems_of(data) == [
        "systems[1].match.slack_channels[1]: 'C0SUPPORT' is already matched to system "
        "'support-assistant'"
    ]


def test_duplicate_system_ids_are_a_problem() -> None:
    data = example_data()
    data["systems"].append({"id": "support-assistant", "name": "Again"})
    assert (
        "systems[1].id: duplicate system id 'support-assistant' (also systems[0])"
        in problems_of(data)
    )


def test_references_are_checked_when_built_in_code_too() -> None:
    data = example_data()
    data["systems"][0]["owners"]["validation"] = "alise"
    with pytest.raises(ValidationError) as raised:
        Routing.model_validate(data)
    [error] = raised.value.errors()
    assert error["loc"] == ("systems", 0, "owners", "validation")
    assert error["msg"].startswith("unknown person 'alise'")


# --- file-level problems -----------------------------------------------------------------------


def test_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    with pytest.raises(RoutingError) as raised:
        load_routing(path)
    assert raised.value.problems == [
        f"{path}: file not found (run `loopkeeper init` to write an example)"
    ]


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            people:
              alice: {email: alice@example.com
            admins: [alice]
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(RoutingError) as raised:
        load_routing(path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{path}:3:7: invalid YAML: ")


def test_bad_indentation_reports_where(tmp_path: Path) -> None:
    with pytest.raises(RoutingError) as raised:
        parse_routing("people:\n  alice: {email: a@b.c}\n    bob: {email: b@b.c}\n", "r.yaml")
    [problem] = raised.value.problems
    assert problem == (
        "r.yaml:3:5: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(check the indentation of this line and the one above)"
    )


def test_tab_indentation_gets_a_hint() -> None:
    with pytest.raises(RoutingError) as raised:
        parse_routing("people:\n\talice: {email: a@b.c}\n", "r.yaml")
    [problem] = raised.value.problems
    assert problem.startswith("r.yaml:2:1: invalid YAML: ")
    assert problem.endswith("(indent with spaces, not tabs)")


def test_duplicate_keys_are_reported_not_silently_dropped() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  bob:   {name: Bob Okafor",
        "  alice: {name: Alice Again, email: a2@example.com}\n  bob:   {name: Bob Okafor",
    )
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith("routing.yaml:")
    assert problems[0].endswith(": duplicate key 'alice' (each key may appear once in a mapping)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- people\n- systems\n", "not a list"),
        ("just a sentence\n", "not str 'just a sentence'"),
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, expected: str) -> None:
    [problem] = problems_of(text)
    assert problem.startswith("routing.yaml: ")
    assert expected in problem
