"""The timed part, run in a fresh process so its peak RSS is the digest's alone.

For one week it alternates `build_digest` (the API the bot calls) with the bare SQL it needs:
the very statements `DigestQueries` builds, compiled with their values inlined and sent
through the raw driver (asyncpg, or Python's sqlite3), rows fetched, nothing else.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sqlite3
import statistics
import sys
import time
from typing import Any

from sqlalchemy.engine import make_url

from bench.digest.data import NOW, WEEK, bench_routing
from bench.digest.load import asyncpg_dsn, sqlite_path
from digests.aggregate import build_digest
from digests.window import Window
from storage.database import create_engine
from storage.digest_queries import DigestQueries
from storage.digest_reads import SqlDigestReads


def bare_statements(dialect: Any, dialect_name: str) -> dict[str, str]:
    routing = bench_routing()
    digest = routing.digests[0]
    window = Window.of(WEEK, digest.schedule.timezone, NOW)
    queries = DigestQueries(dialect_name, window, None)
    return {
        name: str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for name, statement in queries.statements().items()
    }


async def measure(url: str, repeat: int) -> dict[str, Any]:
    routing = bench_routing()
    digest = routing.digests[0]
    engine = create_engine(url)
    dialect_name = engine.dialect.name
    statements = bare_statements(engine.dialect, dialect_name)
    bare = _PostgresBare(url) if dialect_name == "postgresql" else _SqliteBare(url)
    await bare.open()
    builds: list[float] = []
    bares: list[float] = []
    per_query: dict[str, list[float]] = {name: [] for name in statements}
    try:
        started = time.perf_counter()
        result = await build_digest(SqlDigestReads(engine), routing, digest, WEEK, NOW)
        cold = time.perf_counter() - started
        await bare.run(statements, per_query)  # warm the raw connection too
        for values in per_query.values():
            values.clear()
        for _ in range(repeat):
            started = time.perf_counter()
            await bare.run(statements, per_query)
            bares.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await build_digest(SqlDigestReads(engine), routing, digest, WEEK, NOW)
            builds.append(time.perf_counter() - started)
    finally:
        await bare.close()
        await engine.dispose()
    return {
        "dialect": dialect_name,
        "week": str(WEEK),
        "cold_build_s": cold,
        "build_s": builds,
        "bare_s": bares,
        "bare_query_median_s": {k: statistics.median(v) for k, v in per_query.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mb": _vm_hwm_mb(),
        "week_reports": result.totals.reports.current,
        "week_cases": result.totals.cases.current,
        "top_case": result.top_cases[0].case_id if result.top_cases else None,
        "priorities": [p.reason for p in result.priorities[:2]],
    }


def _vm_hwm_mb() -> float:
    """This process's own peak RSS (Linux VmHWM), which unlike ru_maxrss does not carry over
    the parent's high-water mark through fork and exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class _PostgresBare:
    def __init__(self, url: str) -> None:
        self.dsn = asyncpg_dsn(url)
        self.connection: Any = None

    async def open(self) -> None:
        import asyncpg

        self.connection = await asyncpg.connect(self.dsn)

    async def run(self, statements: dict[str, str], times: dict[str, list[float]]) -> None:
        async with self.connection.transaction(isolation="repeatable_read", readonly=True):
            for name, sql in statements.items():
                started = time.perf_counter()
                await self.connection.fetch(sql)
                times[name].append(time.perf_counter() - started)

    async def close(self) -> None:
        await self.connection.close()


class _SqliteBare:
    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self.connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        self.connection = sqlite3.connect(self.path, isolation_level=None)

    async def run(self, statements: dict[str, str], times: dict[str, list[float]]) -> None:
        assert self.connection is not None
        self.connection.execute("BEGIN")
        try:
            for name, sql in statements.items():
                started = time.perf_counter()
                self.connection.execute(sql).fetchall()
                times[name].append(time.perf_counter() - started)
        finally:
            self.connection.execute("COMMIT")

    async def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def main(argv: list[str]) -> None:
    url, repeat = argv[0], int(argv[1])
    make_url(url)  # fail early on a bad URL
    print(json.dumps(asyncio.run(measure(url, repeat))))


if __name__ == "__main__":
    main(sys.argv[1:])
