"""Durations as operators write them in routing.yaml: "30m", "4h", "1d", "2w", "1h30m"."""

from __future__ import annotations

import re
from datetime import timedelta

HINT = "use e.g. 30m, 4h, 1d"

_UNITS: dict[str, int] = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> timedelta:
    """Parse "45m", "4h", "1d", "2w" or a compound such as "1h30m" (largest unit first).

    A bare "0" is accepted as no delay. Anything else raises ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r} ({HINT})")
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return timedelta(0)
    match = _DURATION.fullmatch(compact)
    if not compact or match is None:
        raise ValueError(f"invalid duration '{text}' ({HINT})")
    seconds = sum(
        int(amount) * size
        for amount, size in zip(match.groups(), _UNITS.values(), strict=True)
        if amount is not None
    )
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """The canonical form of a duration: "1d", "4h", "1h30m", "2w", "0m".

    Whole weeks are written in weeks; otherwise days are kept as days ("10d", not "1w3d").
    Fractions of a second are dropped.
    """
    total = int(td.total_seconds())
    if total < 0:
        raise ValueError(f"negative duration {td}")
    if total == 0:
        return "0m"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts: list[str] = []
    if days:
        parts.append(f"{days // 7}w" if days % 7 == 0 else f"{days}d")
    parts.extend(
        f"{amount}{unit}"
        for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s"))
        if amount
    )
    return "".join(parts)
