"""Two real `loopkeeper serve` processes on one PostgreSQL: every card and escalation once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.harness import ROUTING_FILE, SIGNING_SECRET, slack_signature
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.serve_process import free_port

FLAGS = 24
DEADLINE = 60.0


async def _until(condition, what: str, deadline: float = DEADLINE) -> None:  # type: ignore[no-untyped-def]
    """Poll a real process's visible effect; fail naming what never happened."""
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def replicas(database_url: str, slack: FakeSlack, tmp_path: Path) -> AsyncIterator[list[str]]:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite is the single-process store: replicas coordinate through PostgreSQL")
    env = {
        **os.environ,
        "LOOPKEEPER_DATABASE_URL": database_url,
        "LOOPKEEPER_CONFIG": str(ROUTING_FILE),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "LOOPKEEPER_TICK_SECONDS": "0.2",
    }
    processes, urls, logs = [], [], []
    for index in range(2):
        port = free_port()
        log = (tmp_path / f"replica{index}.log").open("w")
        logs.append(log)
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from bot.app.cli import main; main()",
                "serve",
                "--port",
                str(port),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as http:
            for url in urls:
                ready: list[bool] = []

                async def probe(url: str = url, ready: list[bool] = ready) -> None:
                    try:
                        async with http.get(f"{url}/readyz") as response:
                            ready.append(response.status == 200)
                    except aiohttp.ClientError:
                        pass

                give_up = time.monotonic() + DEADLINE
                while not any(ready):
                    assert time.monotonic() < give_up, (tmp_path / "replica0.log").read_text()
                    await probe()
                    await asyncio.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
        for log in logs:
            log.close()


async def test_two_replicas_post_each_card_and_escalation_once(
    replicas: list[str], slack: FakeSlack
) -> None:
    async with aiohttp.ClientSession() as http:
        for i in range(FLAGS):
            ts = f"1700000300.{i:06d}"
            slack.add_message(
                "C0SUPPORT",
                {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": f"answer {i}"},
            )
            body = json.dumps(
                {
                    "type": "event_callback",
                    "event_id": f"Ev0REPLICA{i:04d}",
                    "event": {
                        "type": "reaction_added",
                        "user": f"U0R{i:03d}",
                        "reaction": "x",
                        "item": {"type": "message", "channel": "C0SUPPORT", "ts": ts},
                    },
                }
            ).encode()
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": str(stamp),
                "X-Slack-Signature": slack_signature(body, stamp),
            }
            # Alternate replicas, and send every third event to both, as a Slack retry would.
            targets = [replicas[i % 2]] + ([replicas[(i + 1) % 2]] if i % 3 == 0 else [])
            for url in targets:
                async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
                    assert response.status == 200

    def cards() -> list[str]:
        return [
            c.args["text"].split(" ·")[0]
            for c in slack.calls
            if c.method == "chat.postMessage" and c.args["channel"] == "C0TRIAGE"
        ]

    def routed_dms() -> list[str]:
        return [
            c.args["text"].split(" was routed")[0]
            for c in slack.calls
            if c.method == "chat.postMessage" and c.args["channel"] == "U0ALICE"
        ]

    await _until(lambda: len(set(cards())) == FLAGS, "a card for every case")
    await _until(lambda: len(set(routed_dms())) == FLAGS, "the owner's DM for every case")
    await asyncio.sleep(1.0)  # several ticks of both replicas: a duplicate would show up now

    assert Counter(cards()).most_common(1)[0][1] == 1
    assert Counter(routed_dms()).most_common(1)[0][1] == 1
    assert len(cards()) == FLAGS
    confirmations = [c for c in slack.calls if c.method == "chat.postEphemeral"]
    assert len(confirmations) == FLAGS  # retried events stored and confirmed once
