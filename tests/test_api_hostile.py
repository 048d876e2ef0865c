"""`POST /api/v1/reports` under hostile and real-world input: never a 500, never a traceback,
every invalid field named at once, nothing stored from a refused request."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests import hostile
from tests.harness import INGEST_TOKEN, BotUnderTest
from tests.hostile import cut_the_database, tracebacks


def forwarded(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "system": "code-helper",
        "category": "hallucination",
        "comment": "It invented an API that does not exist",
        "trace_id": "trace-123",
        "reporter": {"slack_id": "U0REPORTER"},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def raw_post(base_url: str, path: str, head: bytes, body: bytes) -> int:
    return await hostile.raw_post(
        base_url, path, b"Content-Type: application/json\r\n" + head, body
    )


async def assert_nothing_stored(bot: BotUnderTest) -> None:
    assert await bot.runtime.store.list_cases() == []


# --- authentication first ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: Bearer \xff\xfe\xfd\r\n",  # not ASCII: crashed the comparison
        "Authorization: Bearer tökén\r\n".encode(),
        b"Authorization: \r\n",
        b"Authorization: Bearer\r\n",
        b"Authorization: Basic dXNlcjpwYXNz\r\n",
        b"Authorization: bearer " + INGEST_TOKEN.encode() + b"x\r\n",
    ],
    ids=["latin1-bytes", "utf8", "empty", "no-token", "basic", "longer"],
)
async def test_malformed_authorization_is_401_not_500(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, header: bytes
) -> None:
    status = await raw_post(bot.base_url, "/api/v1/reports", header, b"{nope")
    assert status == 401
    assert tracebacks(caplog) == []
    await assert_nothing_stored(bot)


async def test_the_token_is_checked_before_the_body_is_read(bot: BotUnderTest) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    status = await raw_post(bot.base_url, "/api/v1/reports", b"", deep)
    assert status == 401


async def test_scheme_is_case_insensitive(bot: BotUnderTest) -> None:
    status = await raw_post(
        bot.base_url,
        "/api/v1/reports",
        b"Authorization: bearer " + INGEST_TOKEN.encode() + b"\r\n",
        b"[]",
    )
    assert status == 400  # past authentication: the body is refused, not the token


# --- the body ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),  # RecursionError: was a 500
        (b'{"a":' * 200 + b"1" + b"}" * 200, "nested"),
        (b'{"category": ' + b"9" * 5000 + b"}", "JSON"),  # int too long: ValueError, was 500
        ('{"comment": "caf\u00e9"}'.encode("latin-1"), "UTF-8"),
        ('{"comment": "x"}'.encode("utf-16"), "UTF-8"),  # json.loads guessed UTF-16
        (b"", "JSON"),
        (b"\x00\x01\x02", "JSON"),
        (b"[1, 2]", "object"),
        (b'"just a string"', "object"),
        (b"null", "object"),
    ],
    ids=[
        "deep-array",
        "deep-object",
        "huge-int",
        "latin1",
        "utf16",
        "empty",
        "binary",
        "array",
        "string",
        "null",
    ],
)
async def test_a_body_that_is_no_report_is_400_with_a_clear_message(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, body: bytes, error: str
) -> None:
    response = await bot.ingest(body)
    assert response.status == 400
    assert error in (await response.json())["error"]
    assert tracebacks(caplog) == []
    await assert_nothing_stored(bot)


async def test_a_body_over_the_size_limit_is_413(bot: BotUnderTest) -> None:
    response = await bot.ingest(forwarded(comment="x" * 2_000_000))
    assert response.status == 413
    await assert_nothing_stored(bot)


# --- fields ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"reporter": {"slack_id": "U0\x00EVIL"}}, "reporter.slack_id"),  # was 500
        ({"system": "code\x00helper"}, "system"),  # was 500
        ({"trace_id": "t\x00"}, "trace_id"),  # was 500
        ({"trace_id": "t" * 300}, "trace_id"),
        ({"idempotency_key": "k" * 700}, "idempotency_key"),
        ({"comment": 10**300}, "comment"),
        ({"comment": ["nested", {"list": True}]}, "comment"),
        ({"severity": 3}, "severity"),
        ({"reporter": 42}, "reporter"),
        ({"model": "\ud800"}, "model"),  # a lone surrogate cannot be stored: was 500
        ({"reporter": {"email": "a@b.c\x00"}}, "reporter.email"),
    ],
)
async def test_an_invalid_field_is_4xx_naming_it_and_never_500(
    bot: BotUnderTest,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = await bot.ingest(forwarded(**overrides))
    assert response.status == 422
    answer = await response.json()
    assert field in answer["fields"], answer
    assert tracebacks(caplog) == []
    await assert_nothing_stored(bot)


async def test_every_invalid_field_is_listed_at_once(bot: BotUnderTest) -> None:
    response = await bot.ingest(forwarded(reporter={}, category="meh", system="nope", colour=1))

    assert response.status == 422
    answer = await response.json()
    assert set(answer["fields"]) == {"reporter", "category", "system", "colour"}
    assert "unknown category 'meh'" in answer["fields"]["category"]
    assert "hallucination" in answer["fields"]["category"]
    assert "unknown system 'nope'" in answer["fields"]["system"]
    assert answer["field"] == "reporter"  # the first, as before
    assert {p["field"] for p in answer["problems"]} == set(answer["fields"])
    await assert_nothing_stored(bot)


# --- reporter as a plain string ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "reporter_id"),
    [
        ("Someone@Example.com", "email:someone@example.com"),
        ("U0REPORTER", "slack:U0REPORTER"),
        ("W0ENTERPRISE", "slack:W0ENTERPRISE"),
        ("29:1abcDEF-xyz", "teams:29:1abcDEF-xyz"),
    ],
)
async def test_reporter_may_be_a_plain_string(
    bot: BotUnderTest, given: str, reporter_id: str
) -> None:
    response = await bot.ingest(forwarded(reporter=given))
    assert response.status == 201, await response.json()
    case_id = (await response.json())["case"]
    async with bot.runtime.store.transaction() as tx:
        [report] = await tx.case_reports(case_id)
    assert report.reporter_id == reporter_id


@pytest.mark.parametrize("given", ["", "someone", "U", "29:", "a@", "x" * 400])
async def test_a_reporter_string_that_names_nobody_is_refused(
    bot: BotUnderTest, given: str
) -> None:
    response = await bot.ingest(forwarded(reporter=given))
    assert response.status == 422
    assert "reporter" in (await response.json())["fields"]
    await assert_nothing_stored(bot)


# --- input and output --------------------------------------------------------------------------


async def test_input_and_output_are_accepted_and_the_output_is_kept(bot: BotUnderTest) -> None:
    response = await bot.ingest(
        forwarded(input="What is the refund window?", output="It is 90 days.\x00")
    )
    assert response.status == 201, await response.json()
    case = await bot.runtime.store.get_case((await response.json())["case"])
    assert case is not None
    assert case.output_excerpt is not None
    assert "90 days" in case.output_excerpt
    assert "\x00" not in case.output_excerpt


async def test_healthz_is_fine_after_all_that(bot: BotUnderTest) -> None:
    await bot.ingest(b"[" * 50_000)
    response = await bot.http.get(f"{bot.base_url}/healthz")
    assert response.status == 200


# --- a passing database fault ------------------------------------------------------------------


async def warm_up(bot: BotUnderTest) -> None:
    """A report before the outage, so the bot holds connections the outage can drop."""
    assert (await bot.ingest(forwarded(trace_id="before-the-outage"))).status == 201


async def test_a_database_outage_is_503_so_the_client_retries(
    bot: BotUnderTest, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await cut_the_database(bot.runtime.store.engine, database_url, warm=lambda: warm_up(bot))

    response = await bot.ingest(forwarded(trace_id="during-the-outage"))

    assert response.status == 503
    assert response.headers["Retry-After"]
    assert "try again" in (await response.json())["error"]
    assert tracebacks(caplog) == []


async def test_a_header_the_server_cannot_parse_is_400_in_one_log_line(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    status = await raw_post(
        bot.base_url, "/api/v1/reports", b"Authorization: Bearer \x08\r\n", b"{}"
    )
    assert status == 400
    assert tracebacks(caplog) == []
    assert any("malformed request" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (b"gzip", b"\x1f\x8b not gzip at all"),  # was a 500 with a traceback
        (b"deflate", b"not deflate"),
        (b"gzip", gzip.compress(b'{"comment": "' + b"0" * 20_000_000 + b'"}')),  # a zip bomb
    ],
    ids=["bad-gzip", "bad-deflate", "gzip-bomb"],
)
async def test_a_compressed_body_that_cannot_be_read_is_4xx(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, encoding: bytes, body: bytes
) -> None:
    head = b"Content-Encoding: " + encoding + b"\r\nAuthorization: Bearer "
    status = await raw_post(
        bot.base_url, "/api/v1/reports", head + INGEST_TOKEN.encode() + b"\r\n", body
    )
    assert status in (400, 413)
    assert tracebacks(caplog) == []
    await assert_nothing_stored(bot)
