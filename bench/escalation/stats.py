"""An optional cProfile of the measured section."""

from __future__ import annotations

import cProfile
import io
import pstats
import re


class Profiler:
    """cProfile of this process between `start` and `stop` (the bot's side of a phase)."""

    def __init__(self, phase: str, path: str | None, top: int = 30) -> None:
        self.phase = phase
        self.path = path
        self.top = top
        self._profile = cProfile.Profile()

    def start(self) -> None:
        self._profile.enable()

    def stop(self) -> None:
        self._profile.disable()

    def report(self) -> str:
        if self.path:
            self._profile.dump_stats(self.path)
        out = io.StringIO()
        stats = pstats.Stats(self._profile, stream=out)
        out.write(_by_package(stats))
        stats.sort_stats("cumulative").print_stats(self.top)
        stats.sort_stats("tottime").print_stats(self.top)
        return out.getvalue()


def _by_package(stats: pstats.Stats) -> str:
    """Own time (tottime) summed per package: with asyncio and SQLAlchemy's greenlets the
    cumulative column double counts, own time does not."""
    totals: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (path, _line, name), (_cc, _nc, own, _cum, _callers) in raw.items():
        found = re.search(r"site-packages/([^/]+)", path)
        if found:
            key = found.group(1)
        elif path == "~":
            key = "built-in " + name.split(" of ")[0]
        elif "/work/" in path or path.startswith(("bot", "handlers", "storage")):
            key = "loopkeeper " + path.rsplit("/", 2)[-2]
        else:
            key = "stdlib " + path.rsplit("/", 1)[-1]
        totals[key] = totals.get(key, 0.0) + own
    whole = sum(totals.values()) or 1.0
    lines = [f"own time by package (total {whole:.2f} s):"]
    lines += [
        f"  {seconds:7.2f} s {100 * seconds / whole:5.1f}%  {key}"
        for key, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:15]
    ]
    return "\n".join(lines) + "\n\n"
