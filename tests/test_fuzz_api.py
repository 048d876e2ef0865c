"""Property-based fuzzing of `POST /api/v1/reports`, on SQLite and PostgreSQL.

Bodies start from the real payload shape and are broken field by field and byte by byte;
requests without the token carry garbage headers and bodies. Whatever arrives: no 5xx, no
traceback in the log, nothing stored without the token, and the server stays healthy."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.harness import INGEST_TOKEN, BotUnderTest
from tests.hostile import (
    encoded,
    header_values,
    hostile_strings,
    mutated,
    raw_post,
    sent,
    tracebacks,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

REAL_REPORT: dict[str, Any] = {
    "system": "support-assistant",
    "category": "hallucination",
    "severity": "high",
    "comment": "wrong refund window",
    "expected": "30 days",
    "input": "What is the refund window?",
    "output": "It is 90 days.",
    "trace_id": "tr-123",
    "prompt_version": "v7",
    "model": "gpt-x",
    "message_link": "https://acme.slack.com/archives/C0SUPPORT/p1700000000000100",
    "reporter": {"slack_id": "U0ALICE", "email": "alice@example.com", "name": "Alice"},
    "idempotency_key": "feedback-991",
}

reports = st.one_of(
    mutated(REAL_REPORT),
    mutated(REAL_REPORT, max_changes=2, values=hostile_strings),
    mutated({**REAL_REPORT, "reporter": "alice@example.com"}),
    mutated({"category": "other", "reporter": "29:1carol"}, max_changes=2),
)


async def _post(
    bot: BotUnderTest, body: bytes | tuple[bytes, bytes], authorization: bytes | None
) -> int:
    extra, body = body if isinstance(body, tuple) else (b"", body)
    head = b"Content-Type: application/json\r\n" + extra
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    return await raw_post(bot.base_url, "/api/v1/reports", head, body)


@FUZZ
@given(body=reports.flatmap(encoded).flatmap(sent))
async def test_authenticated_hostile_bodies_never_5xx(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, body: tuple[bytes, bytes]
) -> None:
    seen = len(caplog.records)
    status = await _post(bot, body, b"Bearer " + INGEST_TOKEN.encode())
    event(f"answered {status}")
    assert status < 500, body[1][:300]
    assert status in (200, 201, 400, 413, 422), (status, body[1][:300])
    assert tracebacks(caplog, seen) == []


@FUZZ
@given(authorization=st.none() | header_values, body=reports.flatmap(encoded).flatmap(sent))
async def test_unauthenticated_requests_are_401_and_store_nothing(
    bot: BotUnderTest,
    caplog: pytest.LogCaptureFixture,
    authorization: bytes | None,
    body: tuple[bytes, bytes],
) -> None:
    seen = len(caplog.records)
    status = await _post(bot, body, authorization)
    # aiohttp itself answers 400 to a header it cannot parse at all; anything else is ours: 401.
    assert status in (400, 401), (status, authorization)
    assert tracebacks(caplog, seen) == []
    assert await bot.runtime.store.list_cases() == []


async def test_still_healthy_after_fuzzing(bot: BotUnderTest) -> None:
    for body in (b"[" * 100_000, b"\xff" * 1000, b'{"category": ' + b"9" * 5000 + b"}"):
        await _post(bot, body, b"Bearer " + INGEST_TOKEN.encode())
    response = await bot.http.get(f"{bot.base_url}/healthz")
    assert response.status == 200
    good = await bot.ingest({"category": "other", "reporter": "U0ALICE"})
    assert good.status == 201
