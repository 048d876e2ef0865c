"""`loopkeeper serve` as an operator runs it: a subprocess on a free port, stopped with SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

STARTED_WITHIN = 60.0
"""Seconds a `serve` subprocess may take to answer /healthz (imports, migrations)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """The inherited environment without any of the bot's own settings."""
    ours = ("LOOPKEEPER_", "SLACK_", "MICROSOFT_")
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(ours)}


def _written(log: Path) -> str:
    return log.read_text()


async def until_healthy(http: aiohttp.ClientSession, url: str, process: Any, log: Path) -> None:
    give_up = time.monotonic() + STARTED_WITHIN
    while True:
        assert process.returncode is None, _written(log)
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        assert time.monotonic() < give_up, _written(log)
        await asyncio.sleep(0.1)


@dataclass
class Served:
    url: str
    http: aiohttp.ClientSession
    process: asyncio.subprocess.Process
    stdout: Path
    stderr: Path


@contextlib.asynccontextmanager
async def serve_process(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Served]:
    """`serve` with `env` (on top of an environment without the bot's settings), healthy."""
    port = free_port()
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from bot.app.cli import main; main()",
            "serve",
            "--port",
            str(port),
            env={**clean_environment(), **env},
            stdout=out,
            stderr=err,
            cwd=tmp_path,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await until_healthy(http, url, process, stderr)
                yield Served(url, http, process, stdout, stderr)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=30)
