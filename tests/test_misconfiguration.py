"""Every common misconfiguration ends in one line on stderr saying what is wrong and how to fix
it, exit code 1, no traceback; valid input starts cleanly.

Each case runs the real `loopkeeper` console script in a subprocess, as an operator would, with
an environment built from scratch (no network: SQLite in tmp_path, nothing listening on port 1,
Slack faked on an ephemeral port). A `serve` that should refuse does so before listening; one
that should start is awaited by its "listening" line on stdout and stopped with a signal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from tests.conftest import PostgresServer
from tests.harness import ROUTING_FILE, SIGNING_SECRET
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.serve_process import free_port

# A ceiling for a process that should have answered long before: a hang fails, not blocks.
PATIENCE = 90.0
CONSOLE_SCRIPT = Path(sys.executable).with_name("loopkeeper")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def refusal(self) -> str:
        """The one line the operator reads; the run must have refused with nothing else."""
        assert "Traceback" not in self.stderr + self.stdout, self.stderr
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert self.code == 1, (self.code, self.stderr)
        assert len(lines) == 1, self.stderr
        return lines[0]


def _command(*args: str) -> list[str]:
    if CONSOLE_SCRIPT.exists():
        return [str(CONSOLE_SCRIPT), *args]
    return [sys.executable, "-c", "from bot.app.cli import main; main()", *args]


def _environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """Nothing from the developer's shell but PATH and HOME (where caches such as matplotlib's
    fonts live): no SLACK_* or database setting leaks in."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LOOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'loopkeeper.db'}",
        "LOOPKEEPER_CONFIG": str(ROUTING_FILE),
    }
    env.update(variables)
    return env


def run(tmp_path: Path, *args: str, **variables: str) -> Ran:
    done = subprocess.run(
        _command(*args),
        env=_environment(tmp_path, **variables),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


async def run_async(tmp_path: Path, *args: str, **variables: str) -> Ran:
    """`run` for a test whose event loop must keep serving (the fake Slack lives on it)."""
    process = await asyncio.create_subprocess_exec(
        *_command(*args),
        env=_environment(tmp_path, **variables),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), PATIENCE)
    except TimeoutError:  # it started serving instead of refusing
        process.kill()
        await process.wait()
        raise AssertionError(f"{' '.join(args)} did not exit: it should have refused") from None
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@dataclass
class Serving:
    process: asyncio.subprocess.Process
    url: str
    said: list[str]


async def start_serving(tmp_path: Path, **variables: str) -> Serving:
    """A `serve` that must start: returns once it says it is listening."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *_command("serve", "--port", str(port)),
        env=_environment(tmp_path, **variables),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    said: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), PATIENCE)).decode()
        if not line:  # it exited instead
            assert process.stderr is not None
            errors = (await process.stderr.read()).decode()
            raise AssertionError(f"serve did not start:\n{''.join(said)}{errors}")
        said.append(line)
        if line.startswith("loopkeeper is listening"):
            return Serving(process, f"http://127.0.0.1:{port}", said)


async def stop(serving: Serving, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    serving.process.send_signal(sig)
    stdout, stderr = await asyncio.wait_for(serving.process.communicate(), PATIENCE)
    assert serving.process.returncode is not None
    return serving.process.returncode, "".join(serving.said) + stdout.decode(), stderr.decode()


@pytest.fixture
async def processes() -> AsyncIterator[list[Serving]]:
    """Whatever a failing test left running is killed."""
    started: list[Serving] = []
    yield started
    for serving in started:
        if serving.process.returncode is None:
            serving.process.kill()
            await serving.process.wait()


# --- the environment ---------------------------------------------------------------------------


async def test_empty_slack_variables_mean_slack_off_and_the_bot_starts(
    tmp_path: Path, processes: list[Serving]
) -> None:
    # As an .env written from a template leaves them, in the environment and in the file.
    (tmp_path / ".env").write_text(
        "SLACK_APP_TOKEN=\nLOOPKEEPER_INGEST_TOKEN=\nMICROSOFT_APP_ID=\nLOOPKEEPER_TICK_SECONDS=\n"
    )
    serving = await start_serving(tmp_path, SLACK_BOT_TOKEN="", SLACK_SIGNING_SECRET="")
    processes.append(serving)
    async with aiohttp.ClientSession() as http, http.get(f"{serving.url}/healthz") as response:
        assert response.status == 200
    code, stdout, stderr = await stop(serving)
    assert code == 0, stderr
    assert "Slack: off" in stdout
    assert "Ingest API: off" in stdout  # an empty token is no token, not one anyone may send
    assert "Teams: local emulator mode" in stdout
    assert "Traceback" not in stderr


def test_a_named_routing_file_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "routing.yml"  # a typo of routing.yaml
    line = run(tmp_path, "serve", LOOPKEEPER_CONFIG=str(missing)).refusal()
    assert str(missing) in line
    assert "LOOPKEEPER_CONFIG" in line
    assert not (tmp_path / "loopkeeper.db").exists()  # refused before migrating


def test_production_with_neither_slack_nor_teams_is_refused(tmp_path: Path) -> None:
    line = run(tmp_path, "serve", LOOPKEEPER_ENV="production", LOOPKEEPER_TEAMS="off").refusal()
    assert "neither Slack nor Teams" in line
    assert "SLACK_BOT_TOKEN" in line


# --- the database ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_a_postgresql_server_that_is_down_is_one_line(tmp_path: Path, command: list[str]) -> None:
    down = "postgresql+asyncpg://postgres@127.0.0.1:1/loopkeeper"  # nothing listens on port 1
    line = run(tmp_path, *command, LOOPKEEPER_DATABASE_URL=down).refusal()
    assert "127.0.0.1:1" in line
    assert "LOOPKEEPER_DATABASE_URL" in line


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_a_postgresql_database_that_does_not_exist_is_one_line(
    tmp_path: Path, command: list[str], postgres_server: PostgresServer
) -> None:
    url = postgres_server.url_of("loopkeeper_never_created")
    line = run(tmp_path, *command, LOOPKEEPER_DATABASE_URL=url).refusal()
    assert '"loopkeeper_never_created" does not exist' in line
    assert "createdb" in line


def test_postgresql_without_asyncpg_installed_says_which_extra_to_install(
    tmp_path: Path,
) -> None:
    # A plain `pip install .`: the driver cannot be imported.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['asyncpg'] = None\n")
    line = run(
        tmp_path,
        "serve",
        PYTHONPATH=str(site),
        LOOPKEEPER_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/loopkeeper",
    ).refusal()
    assert 'pip install "loopkeeper[postgres]"' in line


@pytest.mark.parametrize(
    ("url", "fixed"),
    [
        ("postgresql://postgres@127.0.0.1:1/loopkeeper", "postgresql+asyncpg://"),
        ("sqlite:///./loopkeeper.db", "sqlite+aiosqlite://"),
    ],
)
def test_a_url_without_an_async_driver_names_the_one_to_use(
    tmp_path: Path, url: str, fixed: str
) -> None:
    line = run(tmp_path, "db", "upgrade", LOOPKEEPER_DATABASE_URL=url).refusal()
    assert fixed in line


# --- listening ---------------------------------------------------------------------------------


def test_a_port_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    line = run(tmp_path, "serve", "--port", "99999").refusal()
    assert "99999" in line
    assert "--port" in line


def test_a_port_in_use_is_one_line(tmp_path: Path, busy_port: int) -> None:
    line = run(tmp_path, "serve", "--port", str(busy_port)).refusal()
    assert f"127.0.0.1:{busy_port}" in line
    assert "in use" in line


# --- Slack -------------------------------------------------------------------------------------


async def test_a_token_slack_refuses_stops_the_start_with_the_reason(
    tmp_path: Path, slack: FakeSlack
) -> None:
    ran = await run_async(
        tmp_path,
        "serve",
        "--port",
        str(free_port()),
        SLACK_BOT_TOKEN="xoxb-not-the-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
    )
    line = ran.refusal()
    assert "SLACK_BOT_TOKEN" in line
    assert "invalid_auth" in line
    assert "listening" not in ran.stdout


async def test_an_app_token_slack_refuses_stops_the_start_with_the_reason(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """Socket Mode: it used to ask apps.connections.open again every ten seconds, forever."""
    ran = await run_async(
        tmp_path,
        "serve",
        "--port",
        str(free_port()),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN="xapp-1-not-the-token",
        SLACK_API_URL=slack.url,
    )
    line = ran.refusal()
    assert "SLACK_APP_TOKEN" in line
    assert "invalid_auth" in line
    assert "listening" not in ran.stdout


def test_an_app_token_that_is_not_an_app_level_token_is_refused(tmp_path: Path) -> None:
    line = run(
        tmp_path,
        "serve",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=BOT_TOKEN,  # the bot token pasted twice: a common slip
    ).refusal()
    assert "SLACK_APP_TOKEN" in line
    assert "xapp-" in line
    assert BOT_TOKEN not in line


async def test_slack_out_of_reach_at_start_is_only_a_warning(database_url: str) -> None:
    """A network failure is not the token's fault: the bot starts and asks again later."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url="http://127.0.0.1:1/api/",  # nothing listens there
    )
    runtime = await build_runtime(settings, load_routing(ROUTING_FILE))
    try:
        assert runtime.bolt_app is not None
    finally:
        await runtime.close()


# --- one process per SQLite file ---------------------------------------------------------------


async def test_a_second_serve_on_one_sqlite_file_is_refused_while_the_first_lives(
    tmp_path: Path, processes: list[Serving], busy_port: int
) -> None:
    first = await start_serving(tmp_path)
    processes.append(first)
    second = await run_async(tmp_path, "serve", "--port", str(free_port()))
    line = second.refusal()
    assert str(tmp_path / "loopkeeper.db") in line
    assert "PostgreSQL" in line
    # A killed process leaves its lock file behind but not its lock: the next one gets past
    # it (and stops at the next thing wrong, the port this test holds, before serving).
    code, _stdout, _stderr = await stop(first, signal.SIGKILL)
    assert code == -signal.SIGKILL
    third = await run_async(tmp_path, "serve", "--port", str(busy_port))
    assert "in use" in third.refusal()
