"""How writes queued in one group commit (storage/group_commit.py) share one statement.

A group of acks is a group of one-row INSERTs into the inbox, a group of deliveries marked is a
group of `UPDATE outbox .. WHERE id IN (..)`: the same prebuilt statement with different
parameters. Sending each on its own costs a statement (a round trip on PostgreSQL) per write;
merged, the group costs one per statement. A rule says which writes of a statement can merge,
what the merged write's parameters are, and which of the merged statement's rows answer whom.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Parameters = Mapping[str, Any]


class Merge(Protocol):
    def together(self, parameters: Parameters) -> Hashable:
        """Writes of one statement with equal keys here can merge."""
        ...

    def merged(self, writes: Sequence[Parameters]) -> Parameters | list[Parameters]:
        """The parameters of one statement doing all of `writes` (a list: one row each)."""
        ...

    def answers(self, rows: Sequence[Any], writes: Sequence[Parameters]) -> list[list[Any]]:
        """For each of `writes`, the rows it would have returned on its own."""
        ...


@dataclass(frozen=True)
class SameValuesAnyIds:
    """`UPDATE .. WHERE id IN :ids` (returning nothing): writes whose other parameters are
    equal run once, over the union of their ids."""

    ids: str = "ids"

    def together(self, parameters: Parameters) -> Hashable:
        others = tuple(sorted((k, v) for k, v in parameters.items() if k != self.ids))
        try:
            hash(others)
        except TypeError:
            return object()  # a value that cannot be compared: this write goes alone
        return others

    def merged(self, writes: Sequence[Parameters]) -> Parameters:
        ids = dict.fromkeys(i for write in writes for i in write[self.ids])
        return {**writes[0], self.ids: list(ids)}

    def answers(self, rows: Sequence[Any], writes: Sequence[Parameters]) -> list[list[Any]]:
        return [[] for _ in writes]


@dataclass(frozen=True)
class OneRowEach:
    """A one-row INSERT with ON CONFLICT: one multi-row INSERT for the group. Rows with equal
    `key` columns go in once: the first (ON CONFLICT DO NOTHING: later ones are duplicates, as
    they would be one after the other) or the last (DO UPDATE: the last one is what would be
    left; PostgreSQL refuses to update one row twice in one statement). A RETURNING row answers
    the write whose key it has, and only the write that went in."""

    key: tuple[str, ...]
    keep: Literal["first", "last"] = "first"

    def together(self, parameters: Parameters) -> Hashable:
        return ()

    def merged(self, writes: Sequence[Parameters]) -> list[Parameters]:
        kept: dict[tuple[Any, ...], Parameters] = {}
        for write in writes:
            key = self._key_of(write)
            if self.keep == "last":
                kept.pop(key, None)
            kept.setdefault(key, write)
        return list(kept.values())

    def answers(self, rows: Sequence[Any], writes: Sequence[Parameters]) -> list[list[Any]]:
        by_key = {tuple(getattr(row, name) for name in self.key): row for row in rows}
        answered: list[list[Any]] = [[] for _ in writes]
        order = range(len(writes)) if self.keep == "first" else reversed(range(len(writes)))
        for index in order:
            row = by_key.pop(self._key_of(writes[index]), None)
            if row is not None:
                answered[index] = [row]
        return answered

    def _key_of(self, write: Parameters) -> tuple[Any, ...]:
        return tuple(write[name] for name in self.key)


ANY_IDS = SameValuesAnyIds()
ONE_INBOX_ROW = OneRowEach(("key",))
"""Acks: the first of one key goes in; the others were duplicates (the statement returns the
key for that)."""
ONE_CARD_EACH = OneRowEach(("case_id", "platform"), keep="last")
"""Card locations: the last recorded of a case on a platform is its card."""
