"""A busy machine on purpose: a subprocess spinning on one core while a benchmark runs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

SPIN = "while True: pass"


def _hog_command() -> tuple[list[str], str]:
    """The spinning child's command line, pinned to the last CPU this process may use (the
    child pins itself: no preexec_fn in a process that may have threads)."""
    if not hasattr(os, "sched_setaffinity"):
        return [sys.executable, "-c", SPIN], "not pinned (no sched_setaffinity here)"
    cpu = max(os.sched_getaffinity(0))
    code = f"import os\nos.sched_setaffinity(0, {{{cpu}}})\n{SPIN}\n"
    return [sys.executable, "-c", code], f"pinned to CPU {cpu}"


@contextlib.contextmanager
def cpu_hog(enabled: bool) -> Iterator[str]:
    """While inside, one core is busy; yields how (for the report), or "none"."""
    if not enabled:
        yield "none"
        return
    command, where = _hog_command()
    process = subprocess.Popen(command)
    try:
        yield f"one process spinning on `{SPIN}`, {where}"
    finally:
        process.kill()
        process.wait()


PROBE_STEPS = 1_000_000


def load_average() -> str:
    """The machine's load, and how fast one core runs Python right now: on a virtual machine
    whose host is busy, the load average stays low while every figure slows (the probe, a
    fixed loop, was seen taking from 1.1 to 1.8 s for ten times these steps on this kind of machine
    within a minute)."""
    one, five, fifteen = os.getloadavg()
    return (
        f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs, "
        f"probe {_probe_ms():.0f} ms"
    )


def _probe_ms() -> float:
    """Milliseconds this process takes for PROBE_STEPS steps of a plain Python loop."""
    started = time.perf_counter()
    total = 0
    for step in range(PROBE_STEPS):
        total += step
    return (time.perf_counter() - started) * 1000
