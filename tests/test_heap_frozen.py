"""A full garbage collection does not stall every ack: what `serve` starts with is frozen.

The collector's full pass walks every tracked object while the one event loop waits; on the
bot's heap that was ~100 ms every few seconds under load (most of ack p99 in bench.honest).
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

from bot.app.heap import freeze_startup_heap
from tests.harness import INGEST_TOKEN, ROUTING_FILE
from tests.support.serve_process import serve_process

FROZEN = re.compile(r"^loopkeeper_heap_frozen_objects (\S+)$", re.MULTILINE)


async def test_serve_freezes_what_it_started_with_and_says_so_in_metrics(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        "LOOPKEEPER_DATABASE_URL": database_url,
        "LOOPKEEPER_CONFIG": str(ROUTING_FILE),
        "LOOPKEEPER_INGEST_TOKEN": INGEST_TOKEN,
        "LOOPKEEPER_TEAMS": "off",
    }
    async with serve_process(env, tmp_path) as served:
        response = await served.http.get(f"{served.url}/metrics")
        assert response.status == 200
        exposition = await response.text()
    found = FROZEN.search(exposition)
    assert found is not None, "no loopkeeper_heap_frozen_objects in /metrics"
    # The libraries, modules and wiring: far more than anything a request leaves behind.
    assert float(found.group(1)) > 50_000


def test_what_is_alive_at_startup_leaves_the_collector_s_generations() -> None:
    wiring = [[n] for n in range(1_000)]  # lists: always tracked by the collector
    assert all(gc.is_tracked(part) for part in wiring)
    try:
        frozen = freeze_startup_heap()
        tracked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert frozen >= len(wiring)
        assert not any(id(part) in tracked for part in wiring)
        made_later = [[n] for n in range(10)]
        assert any(o is made_later[0] for o in gc.get_objects(0))  # still collected as before
    finally:
        gc.unfreeze()
