"""The process's heap once the bot is up: frozen, so the collector's full passes skip it.

Every ack, filing round and delivery shares one event loop, and Python's full (oldest
generation) collection walks every tracked object while holding it: on the bot's heap, a
couple of hundred thousand objects from its libraries, modules and wiring, that was ~100 ms
every few seconds under load (bench.honest), which was most of ack p99. What is alive once
the bot is up lives as long as the process, so it is frozen out of the collector's reach
(CPython's `gc.freeze`, made for this); objects made later are collected as before.
"""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, Gauge


def freeze_startup_heap() -> int:
    """Collect what startup left behind, then freeze what is alive; how many objects that is."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def heap_metrics(registry: CollectorRegistry) -> None:
    """`loopkeeper_heap_frozen_objects`: what startup froze (0 until the bot is up)."""
    Gauge(
        "loopkeeper_heap_frozen_objects",
        "Objects alive at startup, frozen out of the garbage collector's full passes",
        registry=registry,
    ).set_function(gc.get_freeze_count)
