"""Output volume: how many outputs an AI app served per system, prompt version, model and day.

Optional: an app that reports it (`POST /api/v1/volume`) gets flag rates per 1,000 outputs in
the digest instead of flags per day. A day's count replaces what was reported for that day
before, so an app may report a running total as often as it likes.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class OutputVolume(BaseModel):
    model_config = ConfigDict(frozen=True)

    system_id: str
    prompt_version: str | None = None
    model: str | None = None
    day: date
    count: int = Field(ge=0)


class VolumeLog(Protocol):
    async def record_volume(self, volume: OutputVolume) -> None:
        """Store the day's count for its system × prompt version × model (replacing it)."""
        ...
