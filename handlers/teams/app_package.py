"""The Teams app package: manifest.json (schema v1.17) and its two icons, zipped for upload.

Built in code, so `loopkeeper teams-package` works from an installed package too;
deploy/teams/ holds the same files with a placeholder id (tests keep the two in sync).
No botbuilder here.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
MANIFEST_VERSION = "1.17"
SCHEMA_URL = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}"
    "/MicrosoftTeams.schema.json"
)
APP_VERSION = "0.1.0"
COMMAND_ID = "reportAiOutput"
ACCENT = (0x31, 0x5F, 0xD8)  # loopkeeper blue
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

FILES = ("manifest.json", "color.png", "outline.png")


def is_app_id(value: str) -> bool:
    """Whether `value` is a Microsoft app id (a GUID), as the manifest requires."""
    return bool(_GUID.match(value))


def manifest(app_id: str = PLACEHOLDER_ID) -> dict[str, Any]:
    """The app manifest: a bot (1:1, teams, group chats) and the "Report AI output" message
    action; reading a channel's messages (RSC) lets replies in a case thread reach the bot
    without an @mention."""
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": APP_VERSION,
        "id": app_id,
        "developer": {
            "name": "loopkeeper",
            "websiteUrl": "https://github.com/loopkeeper/loopkeeper",
            "privacyUrl": "https://github.com/loopkeeper/loopkeeper#privacy",
            "termsOfUseUrl": "https://github.com/loopkeeper/loopkeeper#license",
        },
        "name": {"short": "loopkeeper", "full": "loopkeeper: close the loop on AI outputs"},
        "description": {
            "short": "Flag bad AI answers; their owners triage, fix and tell you.",
            "full": (
                "Flag an AI assistant's answer from its message menu (… → Report AI output). "
                "loopkeeper files it as a case for the person who owns that kind of problem for "
                "that AI system, posts a card in the system's triage channel where owners "
                "acknowledge, ask, reassign and resolve it, escalates what nobody picks up, "
                "tells you how it ended, and sends a weekly digest to the people who decide "
                "what to fix next."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupChat"],
                "isNotificationOnly": False,
                "supportsFiles": False,
            }
        ],
        "composeExtensions": [
            {
                "botId": app_id,
                "commands": [
                    {
                        "id": COMMAND_ID,
                        "type": "action",
                        "title": "Report AI output",
                        "description": "Flag this AI answer to the people who own it",
                        "context": ["message"],
                        "fetchTask": True,
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
        "webApplicationInfo": {"id": app_id, "resource": f"api://botid-{app_id}"},
        "authorization": {
            "permissions": {
                "resourceSpecific": [
                    {"name": "ChannelMessage.Read.Group", "type": "Application"},
                ]
            }
        },
    }


def build_package(app_id: str) -> bytes:
    """The zip to upload to Teams (Apps → Manage your apps → Upload an app)."""
    if not is_app_id(app_id):
        raise ValueError(f"'{app_id}' is not a Microsoft app id (a GUID)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest_text(app_id))
        archive.writestr("color.png", color_icon())
        archive.writestr("outline.png", outline_icon())
    return buffer.getvalue()


def write_package(app_id: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(build_package(app_id))
    return out


def manifest_text(app_id: str = PLACEHOLDER_ID) -> str:
    return json.dumps(manifest(app_id), indent=2, ensure_ascii=False) + "\n"


# --- icons: a ring (the loop) with a check mark, drawn without any imaging library ------------


def color_icon() -> bytes:
    """192×192, full colour: a white ring and check on loopkeeper blue."""
    return _png(192, lambda x, y: _mark(x, y, 192, ACCENT + (255,), (255, 255, 255, 255)))


def outline_icon() -> bytes:
    """32×32, white on transparent, as Teams wants its outline icon."""
    return _png(32, lambda x, y: _mark(x, y, 32, (0, 0, 0, 0), (255, 255, 255, 255)))


def _mark(
    x: int, y: int, size: int, background: tuple[int, ...], ink: tuple[int, ...]
) -> tuple[int, ...]:
    c = (size - 1) / 2
    r = math.hypot(x - c, y - c) / size
    if 0.30 <= r <= 0.42:
        return ink
    # the check: two strokes inside the ring
    u, v = x / size, y / size
    width = 0.045
    if 0.33 <= u <= 0.46 and _near(u, v, (0.33, 0.50), (0.46, 0.63), width):
        return ink
    if 0.44 <= u <= 0.68 and _near(u, v, (0.44, 0.63), (0.68, 0.38), width):
        return ink
    return background


def _near(u: float, v: float, a: tuple[float, float], b: tuple[float, float], w: float) -> bool:
    (ax, ay), (bx, by) = a, b
    length = math.hypot(bx - ax, by - ay)
    return abs((by - ay) * u - (bx - ax) * v + bx * ay - by * ax) / length <= w


def _png(size: int, pixel: Any) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
