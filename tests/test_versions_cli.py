"""`loopkeeper versions` on real databases (SQLite and PostgreSQL), over the versions fixture."""

from __future__ import annotations

import json

from tests.test_digest_cli import env, run_cli  # noqa: F401  (the fixture)
from tests.test_digest_versions import FIXTURE, seed

REGRESSION = "support-assistant prompt v8: 9× the flags per day of v7, since Tue"


async def test_versions_as_json(env: dict[str, str], database_url: str) -> None:  # noqa: F811
    await seed(database_url, FIXTURE)
    result = await run_cli(env, "versions", "--week", "2026-W07", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["week"], data["so_far"]) == ("2026-W07", False)
    first = data["versions"][0]
    assert (first["system_id"], first["prompt_version"], first["model"]) == (
        "support-assistant",
        "v8",
        "m1",
    )
    assert first["regression"] == REGRESSION
    assert set(first) >= {
        "system_id", "prompt_version", "model", "reports", "previous", "rate", "rate_per_1k",
        "regression",
    }  # fmt: skip


async def test_versions_table_calls_the_regression_out(
    env: dict[str, str],  # noqa: F811
    database_url: str,
) -> None:
    await seed(database_url, FIXTURE)
    result = await run_cli(env, "versions", "--week", "2026-W07")
    assert result.exit_code == 0, result.output
    assert f"⚠ {REGRESSION}" in result.stdout
    assert "0 1 1 1 1 1 1 0" in result.stdout  # v7's eight weeks


async def test_versions_of_one_system(env: dict[str, str], database_url: str) -> None:  # noqa: F811
    await seed(database_url, FIXTURE)
    result = await run_cli(
        env, "versions", "--week", "2026-W07", "--system", "code-helper", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert {v["system_id"] for v in json.loads(result.stdout)["versions"]} == {"code-helper"}


async def test_versions_refuses_in_one_line(env: dict[str, str]) -> None:  # noqa: F811
    unknown = await run_cli(env, "versions", "--system", "nope")
    assert unknown.exit_code == 1
    assert len(unknown.output.splitlines()) == 1 and "No AI system 'nope'" in unknown.output
    future = await run_cli(env, "versions", "--week", "2030-W01")
    assert future.exit_code == 1
    assert future.output.splitlines() == [
        "2030-W01 has not started yet (it starts Mon 31 Dec 2029 in Europe/London): pick this "
        "week or an earlier one."
    ]
