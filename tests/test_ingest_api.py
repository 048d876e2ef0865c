"""`POST /api/v1/reports`: AI apps forwarding their own thumbs-down."""

from __future__ import annotations

from typing import Any

from bot.core.models import Channel, Severity
from tests.harness import BotUnderTest


def forwarded(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "system": "code-helper",
        "category": "hallucination",
        "comment": "It invented an API that does not exist",
        "trace_id": "trace-123",
        "prompt_version": "v12",
        "reporter": {"slack_id": "U0REPORTER"},
    }
    body.update(overrides)
    return body


async def test_forwarded_thumbs_down_opens_a_case_and_confirms(bot: BotUnderTest) -> None:
    response = await bot.ingest(forwarded())

    assert response.status == 201
    answer = await response.json()
    assert answer["system"] == "code-helper"
    assert answer["owner"] == "dave"
    assert answer["case_created"] is True
    case = await bot.runtime.store.get_case(answer["case"])
    assert case is not None
    assert (case.trace_id, case.prompt_version) == ("trace-123", "v12")
    await bot.deliver()
    [dm] = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "U0REPORTER"]
    assert dm["channel"] == "U0REPORTER"
    assert f"case #{case.id}" in dm["text"]


async def test_same_trace_from_two_people_joins_one_case(bot: BotUnderTest) -> None:
    first = await (await bot.ingest(forwarded())).json()
    second = await (
        await bot.ingest(forwarded(reporter={"email": "Someone@Example.com"}, severity="critical"))
    ).json()

    assert first["case"] == second["case"]
    assert second["reporters"] == 2
    assert second["severity"] == Severity.critical.value


async def test_message_link_joins_the_case_of_a_reaction_on_that_message(bot: BotUnderTest) -> None:
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000100", "bot_id": "B0SUPPORT", "text": "hi"},
    )
    await bot.react("U0FIRST", "x", "C0SUPPORT", "1700000000.000100")

    answer = await (
        await bot.ingest(
            forwarded(
                system=None,
                trace_id=None,
                message_link="https://acme.slack.com/archives/C0SUPPORT/p1700000000000100",
            )
        )
    ).json()

    cases = await bot.runtime.store.list_cases()
    assert len(cases) == 1
    assert answer["case"] == cases[0].id
    assert answer["reporters"] == 2
    async with bot.runtime.store.transaction() as tx:
        channels = {r.channel for r in await tx.case_reports(cases[0].id)}
    assert channels == {Channel.slack_reaction, Channel.api}


async def test_idempotency_key_stores_one_report(bot: BotUnderTest) -> None:
    first = await bot.ingest(forwarded(idempotency_key="fb-1"))
    again = await bot.ingest(forwarded(idempotency_key="fb-1"))

    assert first.status == 201
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    [case] = await bot.runtime.store.list_cases()
    assert case.report_count == 1


async def test_wrong_token_is_401_and_nothing_stored(bot: BotUnderTest) -> None:
    missing = await bot.ingest(forwarded(), token=None)
    wrong = await bot.ingest(forwarded(), token="guess")

    assert (missing.status, wrong.status) == (401, 401)
    assert await bot.runtime.store.list_cases() == []


async def test_bad_input_names_the_field(bot: BotUnderTest) -> None:
    broken = await bot.ingest(b"{nope")
    no_reporter = await bot.ingest(forwarded(reporter={}))
    bad_category = await bot.ingest(forwarded(category="meh"))
    bad_system = await bot.ingest(forwarded(system="nope"))
    bad_severity = await bot.ingest(forwarded(severity="apocalyptic"))
    extra = await bot.ingest(forwarded(colour="red"))

    assert broken.status == 400
    assert (await no_reporter.json())["field"] == "reporter"
    assert no_reporter.status == 422
    assert (await bad_category.json())["field"] == "category"
    assert "hallucination" in (await bad_category.json())["error"]
    assert (await bad_system.json())["field"] == "system"
    assert (await bad_severity.json())["field"] == "severity"
    assert (await extra.json())["field"] == "colour"
    assert await bot.runtime.store.list_cases() == []


async def test_the_openapi_document_describes_what_the_route_accepts(bot: BotUnderTest) -> None:
    response = await bot.http.get(f"{bot.base_url}/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    operation = document["paths"]["/api/v1/reports"]["post"]
    assert {"201", "200", "400", "401", "422", "503"} <= set(operation["responses"])
    report = document["components"]["schemas"]["ApiReport"]
    assert set(report["properties"]) >= {"system", "category", "reporter", "input", "output"}
    assert set(report["required"]) == {"category", "reporter"}
    assert "hallucination" in report["properties"]["category"]["enum"]
    kinds = report["properties"]["reporter"]["anyOf"]
    assert {"type": "string"}.items() <= kinds[1].items()
    # What the document calls valid, the route takes.
    example = {name: "x" for name in ("comment", "expected", "input", "output")}
    answer = await bot.ingest(
        {**example, "category": "hallucination", "system": "code-helper", "reporter": "U0ALICE"}
    )
    assert answer.status == 201
