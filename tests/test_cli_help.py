"""`--help` of every command reads cleanly, `serve --help` names the environment it reads, and
`loopkeeper --version` prints the installed version."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.app.cli import app
from bot.config.settings import Settings


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():  # a group's sub-commands
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def help_of(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_covered() -> None:
    # The walk found the tree, not just the root: a guard on the test below.
    assert ("serve",) in COMMANDS
    assert ("db", "upgrade") in COMMANDS
    assert ("outbox", "retry") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "loopkeeper")
def test_help_shows_no_type_noise_on_flags(path: tuple[str, ...]) -> None:
    text = help_of(*path)
    assert "<bool>" not in text
    assert "--help" in text


def test_help_shows_defaults() -> None:
    assert "[default: 8;" in help_of("demo")
    assert "[default: no-force]" in help_of("init")
    assert "[default: table]" in help_of("cases")
    serve = help_of("serve")
    assert "[default: 127.0.0.1]" in serve
    assert "[default: 3000]" in serve


def test_serve_help_lists_every_environment_variable_it_reads() -> None:
    text = help_of("serve")
    for field in Settings.model_fields.values():
        name = field.validation_alias.choices[0]  # type: ignore[union-attr]
        assert name in text
    assert "[default: sqlite+aiosqlite:///./loopkeeper.db]" in text


def test_version_prints_the_installed_version() -> None:
    script = Path(sys.executable).with_name("loopkeeper")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from bot.app.cli import main; main()"]
    )
    done = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"loopkeeper {metadata.version('loopkeeper')}"
