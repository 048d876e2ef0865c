"""The surge card with hostile and oversized text: every Block Kit limit kept, no markup the
bot did not make (a system name, labels, versions and outputs are anyone's words)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.harness import running_bot
from tests.support.fake_slack import FakeSlack
from tests.support.slack_payloads import all_problems, sent, write_routing
from tests.test_surge import SURGE, surge_posts

HOSTILE = "<!channel> <@U0BOSS> <https://evil.example|click> & *bold* " + "Ω" * 300


def hostile_routing(data: dict[str, Any]) -> None:
    data["surge"] = SURGE
    data["systems"][1]["name"] = "Code Helper " + HOSTILE
    for category in data["categories"]:
        category["label"] = f"{category['label']} {HOSTILE}"


async def test_a_hostile_surge_card_keeps_slacks_limits_and_shows_text_as_written(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    routing = write_routing(tmp_path / "routing.yaml", hostile_routing)
    async with running_bot(database_url, slack, routing) as bot:
        for n in range(45):
            response = await bot.ingest(
                {
                    "system": "code-helper",
                    "category": ["hallucination", "unsafe", "bad_format"][n % 3],
                    "trace_id": f"trace-{n}",
                    "prompt_version": f"v{n % 2} <!here>",
                    "model": "<@U0BOSS> &gpt",
                    "output": f"answer {n} {HOSTILE}",
                    "reporter": {"slack_id": f"U0R{n}"},
                }
            )
            assert response.status == 201
            bot.clock.advance(timedelta(seconds=1))
        await bot.deliver()
        bot.clock.advance(timedelta(seconds=30))
        await bot.deliver()

        assert len(surge_posts(slack)) == 1
        known = {"U0ALICE", "U0DAVE", "U0CAROL"} | {f"U0R{n}" for n in range(45)}
        assert all_problems(sent(slack), known) == []
