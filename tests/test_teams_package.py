"""The Teams app package: manifest (schema v1.17 shape), icons, `loopkeeper teams-package`."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

from typer.testing import CliRunner

from bot.app.cli import app
from handlers.teams.app_package import (
    COMMAND_ID,
    PLACEHOLDER_ID,
    color_icon,
    manifest,
    manifest_text,
    outline_icon,
)

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "teams"
APP_ID = "3f1c2b7a-0000-4000-8000-00000000b07a"


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGBA bytes) of an unfiltered 8-bit RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, width, height = 8, b"", 0, 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 6)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4 + 1
    rows = [raw[i * stride + 1 : (i + 1) * stride] for i in range(height)]
    assert all(raw[i * stride] == 0 for i in range(height))
    return width, height, rows


def test_the_shipped_files_are_what_the_package_builds() -> None:
    assert (DEPLOY / "manifest.json").read_text(encoding="utf-8") == manifest_text()
    assert (DEPLOY / "color.png").read_bytes() == color_icon()
    assert (DEPLOY / "outline.png").read_bytes() == outline_icon()


def test_the_manifest_declares_the_bot_and_the_message_action() -> None:
    found = manifest(APP_ID)
    assert found["manifestVersion"] == "1.17"
    assert found["$schema"].endswith("/v1.17/MicrosoftTeams.schema.json")
    assert found["id"] == APP_ID
    for key in ("version", "developer", "name", "description", "icons", "accentColor"):
        assert key in found  # the schema's required keys
    assert len(found["name"]["short"]) <= 30
    assert len(found["description"]["short"]) <= 80
    assert len(found["description"]["full"]) <= 4000
    assert all(url.startswith("https://") for url in list(found["developer"].values())[1:])
    [bot] = found["bots"]
    assert bot["botId"] == APP_ID
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    [extension] = found["composeExtensions"]
    assert extension["botId"] == APP_ID
    [command] = extension["commands"]
    assert command == {
        "id": COMMAND_ID,
        "type": "action",
        "title": "Report AI output",
        "description": command["description"],
        "context": ["message"],
        "fetchTask": True,
    }
    assert len(command["title"]) <= 32
    assert PLACEHOLDER_ID not in json.dumps(found)


def test_the_icons_are_the_sizes_teams_wants() -> None:
    width, height, rows = png_pixels(color_icon())
    assert (width, height) == (192, 192)
    assert all(row[3::4] == b"\xff" * 192 for row in rows)  # opaque
    width, height, rows = png_pixels(outline_icon())
    assert (width, height) == (32, 32)
    pixels = [row[i : i + 4] for row in rows for i in range(0, len(row), 4)]
    assert set(pixels) == {b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"}  # white on clear


def test_teams_package_writes_the_zip_with_the_app_id(tmp_path: Path) -> None:
    out = tmp_path / "pkg" / "loopkeeper.zip"
    result = CliRunner().invoke(app, ["teams-package", "--app-id", APP_ID, "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        packaged = json.loads(archive.read("manifest.json"))
    assert packaged == manifest(APP_ID)


def test_teams_package_takes_the_app_id_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "teams.zip"
    result = CliRunner().invoke(
        app, ["teams-package", "--out", str(out)], env={"MICROSOFT_APP_ID": APP_ID}
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID


def test_teams_package_refuses_without_a_usable_app_id(tmp_path: Path) -> None:
    out = tmp_path / "teams.zip"
    result = CliRunner().invoke(
        app, ["teams-package", "--out", str(out)], env={"MICROSOFT_APP_ID": ""}
    )
    assert result.exit_code == 1
    assert "MICROSOFT_APP_ID" in result.output
    result = CliRunner().invoke(app, ["teams-package", "--app-id", "my-bot", "--out", str(out)])
    assert result.exit_code == 1
    assert "GUID" in result.output
    assert not out.exists()
