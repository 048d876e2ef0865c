"""The digest as JSON for other tools: every field of `WeeklyDigest`, `quiet` included."""

from __future__ import annotations

from digests.model import WeeklyDigest


def render_json(digest: WeeklyDigest, *, indent: int | None = 2) -> str:
    return digest.model_dump_json(indent=indent)
