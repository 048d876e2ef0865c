"""`loopkeeper export dataset`: flagged cases as eval datasets, checked field by field for
each tool's format, on a database filled the way the bot fills it (ingest API, triage)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert as sql_insert
from typer.testing import CliRunner, Result

from bot.app.cli import app
from bot.core.dataset import DatasetQuery, StatusFilter
from bot.core.models import CaseStatus, Channel, Severity
from storage.database import create_engine
from storage.dataset_rows import DatasetRows
from storage.statements import CASES, REPORTS
from tests.harness import ROUTING_FILE, BotUnderTest, running_bot
from tests.support.fake_slack import FakeSlack
from tests.support.slack_payloads import write_routing

QUESTION = "How long do I have to return a laptop?"
ANSWER = "Our refund window is 90 days, mail refunds@example.com."
EXPECTED = "30 days for laptops."


def invoke(database_url: str, routing: Path, *args: str) -> Result:
    env = {"LOOPKEEPER_DATABASE_URL": database_url, "LOOPKEEPER_CONFIG": str(routing)}
    return CliRunner().invoke(app, ["export", "dataset", *args], env=env)


async def export(
    database_url: str, *args: str, routing: Path = ROUTING_FILE
) -> list[dict[str, Any]]:
    result = await asyncio.to_thread(invoke, database_url, routing, *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@dataclass(frozen=True)
class Fixture:
    resolved: int  # labelled, input captured, resolved with a reason and a note
    unlabelled: int  # resolved, nobody gave an expected answer
    open_case: int  # labelled, still new
    no_input: int  # resolved, labelled, but the input was never captured
    opened_at: datetime


def report(**fields: Any) -> dict[str, Any]:
    return {
        "system": "support-assistant",
        "category": "hallucination",
        "reporter": {"slack_id": "U0REPORTER"},
        **fields,
    }


async def filed(bot: BotUnderTest, body: dict[str, Any]) -> int:
    response = await bot.ingest(body)
    assert response.status == 201, await response.text()
    return int((await response.json())["case"])


async def seed(bot: BotUnderTest) -> Fixture:
    resolved = await filed(
        bot,
        report(
            trace_id="tr-1",
            prompt_version="v12",
            model="gpt-test",
            input=QUESTION,
            output=ANSWER,
            expected=EXPECTED,
            comment="Wrong window",
            message_link="https://acme.slack.com/archives/C0SUPPORT/p1700000000000100",
        ),
    )
    unlabelled = await filed(bot, report(trace_id="tr-2", input="Hi?", output="Hello."))
    open_case = await filed(
        bot, report(trace_id="tr-3", input="Q3", output="A3", expected="E3", category="unsafe")
    )
    no_input = await filed(bot, report(trace_id="tr-4", output="A4", expected="E4"))
    triage = bot.runtime.triage
    await triage.resolve(resolved, "alice", "prompt_fixed", "Cited the policy page")
    await triage.resolve(unlabelled, "alice", "other", "")
    await triage.resolve(no_input, "alice", "data_fixed", "")
    case = await bot.runtime.store.get_case(resolved)
    assert case is not None
    return Fixture(resolved, unlabelled, open_case, no_input, case.created_at)


@pytest.fixture
async def seeded(database_url: str, slack: FakeSlack) -> Fixture:
    async with running_bot(database_url, slack) as bot:
        return await seed(bot)


def by_case(lines: list[dict[str, Any]], key: str = "case_number") -> dict[int, dict[str, Any]]:
    return {int(line[key]): line for line in lines}


async def test_jsonl_is_the_canonical_record(database_url: str, seeded: Fixture) -> None:
    lines = await export(database_url)

    assert [line["case_number"] for line in lines] == [seeded.resolved, seeded.no_input]
    first = lines[0]
    assert first == {
        "schema_version": 1,
        "id": f"loopkeeper-case-{seeded.resolved}",
        "case_number": seeded.resolved,
        "system": "support-assistant",
        "category": "hallucination",
        "severity": "high",
        "input": QUESTION,
        "output": "Our refund window is 90 days, mail [email].",  # redacted
        "expected": EXPECTED,
        "comment": "Wrong window",
        "trace_id": "tr-1",
        "prompt_version": "v12",
        "model": "gpt-test",
        "status": "resolved",
        "resolution": "Cited the policy page",
        "reason": "prompt_fixed",
        "permalink": "https://acme.slack.com/archives/C0SUPPORT/p1700000000000100",
        "created_at": seeded.opened_at.astimezone(UTC).isoformat(),
    }
    assert list(first) == list(first.keys())  # field order is the documented one
    assert lines[1]["input"] is None and lines[1]["expected"] == "E4"


async def test_status_all_and_include_unlabelled_widen_the_export(
    database_url: str, seeded: Fixture
) -> None:
    labelled_all = by_case(await export(database_url, "--status", "all"))
    everything = by_case(await export(database_url, "--status", "all", "--include-unlabelled"))

    assert set(labelled_all) == {seeded.resolved, seeded.open_case, seeded.no_input}
    assert set(everything) == set(labelled_all) | {seeded.unlabelled}
    assert everything[seeded.unlabelled]["expected"] is None
    assert labelled_all[seeded.open_case]["status"] == "new"
    assert labelled_all[seeded.open_case]["resolution"] is None


async def test_filters_by_category_system_and_date(database_url: str, seeded: Fixture) -> None:
    unsafe = await export(database_url, "--status", "all", "--category", "unsafe")
    other_system = await export(database_url, "--system", "code-helper")
    tomorrow = (seeded.opened_at + timedelta(days=1)).date().isoformat()
    later = await export(database_url, "--since", tomorrow)
    today = await export(database_url, "--since", seeded.opened_at.date().isoformat())

    assert [line["case_number"] for line in unsafe] == [seeded.open_case]
    assert (other_system, later) == ([], [])
    assert len(today) == 2


async def test_langfuse_dataset_items(database_url: str, seeded: Fixture) -> None:
    items = await export(database_url, "--format", "langfuse")

    item = items[0]
    assert set(item) == {"input", "expectedOutput", "metadata", "sourceTraceId"}
    assert (item["input"], item["expectedOutput"], item["sourceTraceId"]) == (
        QUESTION,
        EXPECTED,
        "tr-1",
    )
    meta = item["metadata"]
    assert meta["loopkeeper_id"] == f"loopkeeper-case-{seeded.resolved}"
    assert meta["flagged_output"] == "Our refund window is 90 days, mail [email]."
    assert (meta["category"], meta["severity"], meta["reason"]) == (
        "hallucination",
        "high",
        "prompt_fixed",
    )
    assert (meta["prompt_version"], meta["model"]) == ("v12", "gpt-test")
    assert items[1]["input"] is None  # Langfuse takes an item without input


async def test_langsmith_examples(database_url: str, seeded: Fixture) -> None:
    examples = await export(database_url, "--format", "langsmith")

    example = examples[0]
    assert set(example) == {"inputs", "outputs", "metadata"}
    assert example["inputs"] == {"input": QUESTION}
    assert example["outputs"] == {"output": EXPECTED}
    assert example["metadata"]["case_number"] == seeded.resolved
    assert example["metadata"]["trace_id"] == "tr-1"


async def test_openai_evals_items(database_url: str, seeded: Fixture) -> None:
    result = await asyncio.to_thread(invoke, database_url, ROUTING_FILE, "--format", "openai-evals")

    assert result.exit_code == 0
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert set(line) == {"item"}
    item = line["item"]
    assert (item["input"], item["ideal"]) == (QUESTION, EXPECTED)
    assert item["flagged_output"] == "Our refund window is 90 days, mail [email]."
    assert item["case_number"] == seeded.resolved
    assert "1 case(s) left out: no input was captured" in result.stderr  # case no_input


async def test_promptfoo_tests(database_url: str, seeded: Fixture) -> None:
    [test] = await export(database_url, "--format", "promptfoo")

    assert set(test) == {"description", "vars", "assert", "metadata"}
    assert test["vars"] == {"input": QUESTION}
    assert test["assert"] == [
        {"type": "llm-rubric", "value": f"The answer agrees with this expected answer: {EXPECTED}"},
        {"type": "not-equals", "value": "Our refund window is 90 days, mail [email]."},
    ]
    assert test["description"] == (
        f"loopkeeper case #{seeded.resolved} (hallucination): Wrong window"
    )
    assert test["metadata"]["system"] == "support-assistant"


async def test_inspect_samples(database_url: str, seeded: Fixture) -> None:
    [sample] = await export(database_url, "--format", "inspect")

    assert list(sample) == ["id", "input", "target", "metadata"]
    assert (sample["id"], sample["input"], sample["target"]) == (
        f"loopkeeper-case-{seeded.resolved}",
        QUESTION,
        EXPECTED,
    )
    assert sample["metadata"]["resolution"] == "Cited the policy page"


async def test_out_writes_a_file_and_stdout_stays_empty(
    database_url: str, seeded: Fixture, tmp_path: Path
) -> None:
    target = tmp_path / "cases.jsonl"
    result = await asyncio.to_thread(
        invoke, database_url, ROUTING_FILE, "--format", "inspect", "--out", str(target)
    )

    assert result.exit_code == 0
    assert result.stdout == ""
    [line] = target.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["input"] == QUESTION


async def test_without_store_output_text_no_input_or_output_leaves(
    database_url: str, seeded: Fixture, tmp_path: Path
) -> None:
    def private(data: dict[str, Any]) -> None:
        data["privacy"]["store_output_text"] = False

    routing = write_routing(tmp_path / "routing.yaml", private)
    lines = await export(database_url, routing=routing)

    assert [(line["input"], line["output"]) for line in lines] == [(None, None), (None, None)]
    assert lines[0]["expected"] == EXPECTED


async def test_mistakes_are_one_line_each(database_url: str, seeded: Fixture) -> None:
    cases = [
        (("--system", "nope"), "--system: no AI system 'nope'"),
        (("--category", "nope"), "--category: no category 'nope'"),
        (("--since", "last week"), "--since: 'last week' is not a date"),
        (("--format", "csv"), "Invalid value for '--format'"),
    ]
    for args, message in cases:
        result = await asyncio.to_thread(invoke, database_url, ROUTING_FILE, *args)
        assert result.exit_code != 0
        assert message in result.output, result.output
        assert "Traceback" not in result.output


async def test_rows_are_read_in_pages(database_url: str) -> None:
    """A large export holds one page at a time: 1,050 cases come in 11 pages of at most 100."""
    now = datetime(2026, 11, 2, tzinfo=UTC)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sql_insert(CASES), [_case_row(i, now) for i in range(1050)])
            await connection.execute(
                sql_insert(REPORTS), [_report_row(i, now) for i in range(1050)]
            )
        rows = DatasetRows(engine, DatasetQuery(status=StatusFilter.all), page_size=100)
        seen: list[int] = []
        largest_page = 0
        last_pages = 0
        in_page = 0
        async for found in rows:
            seen.append(found.case.id or 0)
            in_page = in_page + 1 if rows.pages == last_pages else 1
            last_pages = rows.pages
            largest_page = max(largest_page, in_page)
            assert [r.expected for r in found.reports] == [f"expected {found.case.id}"]
    finally:
        await engine.dispose()

    assert seen == sorted(seen) and len(set(seen)) == 1050
    assert rows.pages == 11
    assert largest_page == 100


def _case_row(i: int, now: datetime) -> dict[str, Any]:
    return {
        "id": i + 1,
        "output_key": f"bulk:{i}",
        "system_id": "support-assistant",
        "category_id": "hallucination",
        "severity": Severity.high,
        "status": CaseStatus.resolved,
        "report_count": 1,
        "created_at": now,
        "updated_at": now,
    }


def _report_row(i: int, now: datetime) -> dict[str, Any]:
    return {
        "case_id": i + 1,
        "reporter_id": "slack:U0BULK",
        "channel": Channel.api,
        "category_id": "hallucination",
        "severity": Severity.high,
        "expected": f"expected {i + 1}",
        "input": f"input {i + 1}",
        "created_at": now,
        "updated_at": now,
    }


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return []


async def test_hostile_text_stays_inside_its_record(database_url: str, slack: FakeSlack) -> None:
    hostile = 'Line\u2028break\x85"quoted"\nnew line\u2029 {"schema_version": 99}\t<@U0ALL>'
    async with running_bot(database_url, slack) as bot:
        case = await filed(
            bot, report(trace_id="tr-h", input=hostile, output=hostile, expected=hostile)
        )
        await bot.runtime.triage.resolve(case, "alice", "other", hostile)

    for fmt in ("jsonl", "langfuse", "langsmith", "openai-evals", "promptfoo", "inspect"):
        result = await asyncio.to_thread(invoke, database_url, ROUTING_FILE, "--format", fmt)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()  # splits at U+2028 and U+0085 too
        assert len(lines) == 1, (fmt, lines)
        assert hostile in strings(json.loads(lines[0])), fmt
    [record] = await export(database_url)
    assert (record["input"], record["output"], record["expected"], record["resolution"]) == (
        hostile,
        hostile,
        hostile,
        hostile,
    )
