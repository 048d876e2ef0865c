"""Regressions by prompt version and model (issue #13), on a fixed fixture, SQLite and PostgreSQL.

support-assistant  prompt v7 / m1: one report on 1 Dec 2025 (before the window), then one a
                   week in 2026-W01 … W06 (6 in the window; live 22 Dec 00:00 → 10 Feb 09:00)
                   prompt v8 / m1: first seen Tue 10 Feb 09:00, 6 reports in W07
                   (live 10 Feb 09:00 → 16 Feb 00:00, 5 d 15 h)
code-helper        prompt p1 / m1: one a week in W01 … W06; p1 / m2: one report, Mon 9 Feb
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest

from bot.core.volume import OutputVolume
from digests.history import CaseHistory, Event, ReplayClock, write_history
from digests.model import VersionRow
from storage.database import create_engine
from storage.repository import SqlCaseStore
from tests.harness import INGEST_TOKEN, BotUnderTest
from tests.test_digest import HIGH, MED, VAL, at, case, digest_of, reported

S, C = "support-assistant", "code-helper"


def weekly(prefix: str, prompt: str, model: str) -> list[Event]:
    """One report a week, Thursday noon of 2026-W01 … W06."""
    first = datetime(2026, 1, 1, 12, tzinfo=UTC)
    return [
        reported(first + timedelta(weeks=n), f"{prefix}{n}", prompt_version=prompt, model=model)
        for n in range(6)
    ]


FIXTURE: list[CaseHistory] = [
    case(51, S, "hallucination", HIGH, "alice", VAL,
         reported(datetime(2025, 12, 1, 12, tzinfo=UTC), "old", prompt_version="v7", model="m1"),
         *weekly("s7-", "v7", "m1")),
    case(52, S, "hallucination", HIGH, "alice", VAL,
         *(reported(at(10, 9) + timedelta(hours=12 * n), f"s8-{n}", prompt_version="v8",
                    model="m1") for n in range(6))),
    case(53, C, "edge_case", MED, "dave", VAL, *weekly("c1-", "p1", "m1")),
    case(54, C, "edge_case", MED, "dave", VAL,
         reported(at(9, 10), "c2-0", prompt_version="p1", model="m2")),
]  # fmt: skip


async def seed(database_url: str, histories: list[CaseHistory]) -> None:
    clock = ReplayClock()
    store = SqlCaseStore(create_engine(database_url), clock=clock)
    try:
        for history in histories:
            await write_history(store, clock, history)
    finally:
        await store.close()


def rows(versions: list[VersionRow]) -> dict[tuple[str, str | None, str | None], VersionRow]:
    return {(v.system_id, v.prompt_version, v.model): v for v in versions}


async def test_a_new_prompt_version_flagged_far_more_is_called_out(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    versions = (await digest_of(database_url)).versions

    assert [(v.system_id, v.prompt_version, v.model) for v in versions] == [
        (S, "v8", "m1"),  # the regression first, then by reports this week, in the window
        (C, "p1", "m2"),
        (C, "p1", "m1"),
        (S, "v7", "m1"),
    ]
    v8, v7 = rows(versions)[(S, "v8", "m1")], rows(versions)[(S, "v7", "m1")]
    assert (v8.reports, v8.previous, v8.series) == (6, 0, [0, 0, 0, 0, 0, 0, 0, 6])
    assert (v7.reports, v7.previous, v7.series) == (0, 1, [0, 1, 1, 1, 1, 1, 1, 0])
    assert v8.rate == round(6 / 5.625, 3) and v7.rate == round(6 / 50.375, 3)
    assert v8.rate_per_1k is None and v8.predecessor == "v7" and v7.predecessor is None
    assert v8.first_seen == at(10, 9) and v7.first_seen is None  # v7 was seen before the window
    # 1.067 a day against 0.119: 8.96×
    assert v8.regression == "support-assistant prompt v8: 9× the flags per day of v7, since Tue"
    assert v7.regression is None


async def test_a_model_change_with_too_few_reports_is_not_a_regression(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    m2 = rows((await digest_of(database_url)).versions)[(C, "p1", "m2")]
    # one report in 6 d 14 h (Mon 9 Feb 10:00 to the week's end): 0.152 a day, above p1/m1's
    # 6 in 48 d 10 h (0.124), but one report proves nothing
    assert (m2.reports, m2.rate, m2.predecessor, m2.regression) == (1, 0.152, "m1", None)


async def test_reported_volume_turns_rates_into_flags_per_1000_outputs(database_url: str) -> None:
    await seed(database_url, FIXTURE)
    store = SqlCaseStore(create_engine(database_url))
    try:
        for prompt, day, count in (
            ("v7", date(2026, 1, 15), 6000),
            ("v8", date(2026, 2, 12), 1500),
        ):
            await store.record_volume(
                OutputVolume(system_id=S, prompt_version=prompt, model="m1", day=day, count=count)
            )
        # reported again: a day's count replaces the earlier one
        await store.record_volume(
            OutputVolume(system_id=S, prompt_version="v8", model="m1", day=date(2026, 2, 12),
                         count=3000)
        )  # fmt: skip
    finally:
        await store.close()

    versions = rows((await digest_of(database_url)).versions)
    v8, v7 = versions[(S, "v8", "m1")], versions[(S, "v7", "m1")]
    assert (v7.rate_per_1k, v8.rate_per_1k) == (1.0, 2.0)
    assert v8.regression == (
        "support-assistant prompt v8: 2× the flags per 1,000 outputs of v7, since Tue"
    )


async def test_volume_arrives_through_the_api(bot: BotUnderTest) -> None:
    body = {"system": S, "prompt_version": "v8", "model": "m1", "day": "2026-02-12", "count": 42}
    answer = await post_volume(bot, body)
    assert answer.status == 200
    assert await answer.json() == body
    refused = await post_volume(bot, body, token="wrong")
    assert refused.status == 401


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"system": "nope", "day": "2026-02-12", "count": 1}, ["system"]),
        ({"system": S, "day": "2099-01-01", "count": -1}, ["count", "day"]),
        ({"day": "yesterday", "count": "many", "extra": 1}, ["system", "day", "count", "extra"]),
        # JSON's true/false and 2.5 are not counts, whatever Python makes of them (schemathesis)
        ({"system": S, "day": "2026-02-12", "count": False}, ["count"]),
        ({"system": S, "day": "2026-02-12", "count": 2.5}, ["count"]),
        ({"system": S, "day": "2026-02-12", "count": "7"}, ["count"]),
        ({"system": S, "day": 0, "count": 1}, ["day"]),
    ],
)
async def test_invalid_volume_is_refused_with_every_field_named(
    bot: BotUnderTest, body: dict[str, object], fields: list[str]
) -> None:
    answer = await post_volume(bot, body)
    assert answer.status == 422
    assert sorted((await answer.json())["fields"]) == sorted(fields)


async def test_a_volume_body_that_is_not_a_small_json_object_is_a_4xx(bot: BotUnderTest) -> None:
    assert (await post_volume(bot, b"[1, 2]")).status == 400
    assert (await post_volume(bot, b"\xff")).status == 400
    assert (await post_volume(bot, b"{" + b" " * 5000 + b"}")).status == 413


async def test_the_openapi_document_describes_the_volume_route(bot: BotUnderTest) -> None:
    document = await (await bot.http.get(f"{bot.base_url}/api/v1/openapi.json")).json()
    route = document["paths"]["/api/v1/volume"]["post"]
    assert set(route["responses"]) == {"200", "400", "401", "413", "422", "503"}
    schema = document["components"]["schemas"]["ApiVolume"]
    assert set(schema["required"]) == {"system", "day", "count"}
    assert S in schema["properties"]["system"]["enum"]


async def post_volume(
    bot: BotUnderTest, body: object, token: str = INGEST_TOKEN
) -> aiohttp.ClientResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await bot.http.post(
        f"{bot.base_url}/api/v1/volume",
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    await response.read()
    return response
