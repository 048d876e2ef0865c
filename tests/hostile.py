"""What the hostile-input tests and fuzz suites share: raw HTTP requests (with header bytes no
client library would send), log checks, and hypothesis strategies that turn a real payload
into a broken one the ways real clients and attackers break them."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

HUGE_DIGITS = "9" * 5000  # more digits than Python converts to an int by default


async def raw_post(base_url: str, path: str, head: bytes, body: bytes) -> int:
    """POST `body` with the header lines `head` exactly as given; the status answered."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n" + head + b"\r\n" + body
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    return int(status_line.split()[1])


def tracebacks(caplog: pytest.LogCaptureFixture, since: int = 0) -> list[str]:
    """Log records (from the `since`-th on) that carry a traceback."""
    return [
        record.getMessage()
        for record in caplog.records[since:]
        if record.exc_info or "Traceback" in record.getMessage()
    ]


async def cut_the_database(
    engine: AsyncEngine, database_url: str, *, warm: Callable[[], Awaitable[None]]
) -> None:
    """A real outage under the running bot: SQLite's file is gone before the bot first opened
    it (a volume not mounted), or PostgreSQL drops every connection the bot holds (a failover
    or restart) after `warm` made the bot open some."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        await engine.dispose()
        _replace_with_a_directory(Path(str(url.database)))
        return
    await warm()
    admin = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
    finally:
        await admin.dispose()


def _replace_with_a_directory(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()  # nothing can open it as a database now


# --- hostile values ----------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),  # control characters
    st.sampled_from(["", " ", "\x00", "U0\x00X", "29:\x00", "x" * 300, "x" * 70_000, "é" * 1000]),
)

hostile_values = st.recursive(
    _json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value: wrong types, huge and negative numbers, NUL and controls, long strings."""

hostile_strings = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.sampled_from(["", "\x00", "a\x00b", "x" * 256, "x" * 700, "é" * 3000, "<!channel> *hi*"]),
)
"""Strings only: the right type, hostile content, so more requests get past type checks."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def mutated(
    draw: st.DrawFn,
    original: dict[str, Any],
    max_changes: int = 4,
    values: st.SearchStrategy[Any] = hostile_values,
) -> dict[str, Any]:
    """`original` with a few fields (at any depth) replaced by hostile values, or deleted,
    and perhaps an unknown field added."""
    value = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        paths = _paths(value)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = value
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    if draw(st.booleans()):
        value[draw(st.text(min_size=1, max_size=10))] = draw(hostile_values)
    return value


@st.composite
def encoded(draw: st.DrawFn, value: dict[str, Any]) -> bytes:
    """`value` as a body, mostly as a client would send it, sometimes broken at the byte level:
    other encodings, cut short, deeply nested, a huge integer, a lone surrogate, noise."""
    text = json.dumps(value)
    how = draw(
        st.sampled_from(
            ["plain"] * 6
            + ["utf16", "latin1", "cut", "deep", "huge-int", "surrogate", "noise", "bom"]
        )
    )
    if how == "utf16":
        return json.dumps(value, ensure_ascii=False).encode("utf-16")
    if how == "latin1":
        return json.dumps(value, ensure_ascii=False).encode("latin-1", errors="replace")
    if how == "cut":
        return text.encode()[: draw(st.integers(min_value=0, max_value=len(text)))]
    if how == "deep":
        depth = draw(st.sampled_from([50, 1_000, 100_000]))
        return text[:-1].encode() + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    if how == "huge-int":
        return text[:-1].encode() + b', "n": ' + HUGE_DIGITS.encode() + b"}"
    if how == "surrogate":
        return text[:-1].encode() + b', "s": "\\udc00"}'
    if how == "noise":
        return draw(st.binary(max_size=200))
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    return text.encode()


@st.composite
def sent(draw: st.DrawFn, body: bytes) -> tuple[bytes, bytes]:
    """(extra header lines, body): mostly as is, sometimes compressed, or claimed compressed
    but not."""
    how = draw(st.sampled_from(["as is"] * 6 + ["gzip", "not gzip", "not deflate"]))
    if how == "gzip":
        return b"Content-Encoding: gzip\r\n", gzip.compress(body)
    if how == "not gzip":
        return b"Content-Encoding: gzip\r\n", body
    if how == "not deflate":
        return b"Content-Encoding: deflate\r\n", body
    return b"", body


header_values = st.one_of(
    st.binary(max_size=60).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"", b"Bearer", b"Bearer ", b"Basic dXNlcjpwYXNz", b"Bearer a.b.c"]),
    st.text(max_size=40).map(lambda text: b"Bearer " + text.encode("utf-8", "replace")),
).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))
"""Authorization header values, from plausible to binary noise."""
