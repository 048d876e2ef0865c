"""What a conductor tripped over in the digest (issue #13): demo data that did not say so, a
week that has not happened yet answered with "Quiet week"."""

from __future__ import annotations

import json

from tests.test_digest_cli import env, run_cli  # noqa: F401  (the fixture)


async def test_a_digest_over_demo_data_says_so_in_every_format(env: dict[str, str]) -> None:  # noqa: F811
    assert (await run_cli(env, "demo", "--weeks", "2")).exit_code == 0

    data = json.loads((await run_cli(env, "digest", "--format", "json")).stdout)
    assert data["demo"] is True and data["so_far"] is False
    markdown = (await run_cli(env, "digest")).stdout
    assert markdown.splitlines()[0].endswith("· DEMO DATA")
    html = (await run_cli(env, "digest", "--format", "html")).stdout
    assert "· DEMO DATA</h1>" in html


async def test_a_digest_over_real_data_is_not_marked_demo(env: dict[str, str]) -> None:  # noqa: F811
    data = json.loads((await run_cli(env, "digest", "--format", "json")).stdout)
    assert data["demo"] is False
    assert "DEMO" not in (await run_cli(env, "digest", "--format", "html")).stdout


async def test_a_week_that_has_not_started_is_refused_in_one_line(env: dict[str, str]) -> None:  # noqa: F811
    result = await run_cli(env, "digest", "--week", "2030-W01")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "2030-W01 has not started yet (it starts Mon 31 Dec 2029 in Europe/London): pick this "
        "week or an earlier one."
    ]


async def test_the_demo_digest_calls_out_a_prompt_regression_and_names_owners(
    env: dict[str, str],  # noqa: F811
) -> None:
    assert (await run_cli(env, "demo")).exit_code == 0

    data = json.loads((await run_cli(env, "digest", "--format", "json")).stdout)
    [regression] = [v["regression"] for v in data["versions"] if v["regression"]]
    assert regression.startswith("support-assistant prompt v8: ")
    assert regression.endswith("the flags per day of v7, since Tue")
    for priority in data["priorities"]:
        assert priority["owner"]["person"] and priority["owner"]["role"]
        assert priority["next_step"].startswith(("ask ", "check with "))
