"""The state tree kept between checkpoints, and the state as of any tree size.

:class:`StateTree` holds the sorted entries, their leaf hashes and every level of the
tree. Applying the entries changed since the last checkpoint rehashes only what they
touch: an aggregate that moved on rehashes its leaf and the nodes above it; a new
aggregate shifts the leaves to its right, so the nodes over them are rehashed from the
cached leaf hashes (one pass of :func:`~docmgmt.ledger.bulkhash.node_level` per level, no
leaf is rehashed). Figures: bench/README.md.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import psycopg

from docmgmt.ledger.bulkhash import HASH_SIZE, node_level
from docmgmt.ledger.merkle import EMPTY_ROOT, TreeLevels, inclusion_proof, node_hash
from docmgmt.ledger.state_leaf import StateEntry

H = HASH_SIZE


class StateTree:
    """The state tree over every aggregate's entry, updated in place as the log grows.

    ``position``: the log position up to which entries were applied (a checkpointer
    applies the ``ledger_state`` rows changed after it, see :meth:`advance`).
    """

    def __init__(self) -> None:
        self.position = -(1 << 63)
        self._ids: list[bytes] = []
        self._entries: dict[bytes, StateEntry] = {}
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        """How many aggregates (leaves)."""
        return len(self._ids)

    def apply(self, entries: Iterable[StateEntry]) -> None:
        """Set these aggregates' entries (new ones are inserted in id order)."""
        leaves = self._levels[0]
        changed: set[int] = set()
        new: list[StateEntry] = []
        # The last entry given for an aggregate wins (a batch may move one several times).
        for key, entry in {e.aggregate_id.bytes: e for e in entries}.items():
            if key in self._entries:
                i = bisect.bisect_left(self._ids, key)
                leaves[H * i:H * i + H] = entry.leaf_hash()
                changed.add(i)
            else:
                new.append(entry)
            self._entries[key] = entry
        shift: int | None = None
        for entry in sorted(new, key=lambda e: e.aggregate_id.bytes, reverse=True):
            key = entry.aggregate_id.bytes
            i = bisect.bisect_left(self._ids, key)
            self._ids.insert(i, key)
            leaves[H * i:H * i] = entry.leaf_hash()
            shift = i if shift is None else min(shift, i)
        self._rehash(changed, shift)

    def _rehash(self, changed: set[int], shift: int | None) -> None:
        """Recompute the nodes over ``changed`` leaves and over every leaf from ``shift``."""
        if shift is not None:
            changed = {i for i in changed if i < shift}
        height = 0
        while len(self._levels[height]) >= 2 * H:
            below = self._levels[height]
            pairs = len(below) // (2 * H)
            if height + 1 == len(self._levels):
                self._levels.append(bytearray())
                shift = 0
            above = self._levels[height + 1]
            if shift is not None:
                shift //= 2
                above[H * shift:] = node_level(bytes(below[2 * H * shift:2 * H * pairs]))
            parents = {i // 2 for i in changed if i // 2 < pairs}
            for p in parents:
                above[H * p:H * p + H] = node_hash(bytes(below[2 * H * p:2 * H * p + H]),
                                                  bytes(below[2 * H * p + H:2 * H * p + 2 * H]))
            changed = parents
            height += 1

    def tree(self) -> TreeLevels:
        """The current tree (a view over the cached levels: use before the next apply)."""
        return TreeLevels.from_levels([bytes(level) for level in self._levels])

    def root(self) -> bytes:
        """The RFC 9162 root (SHA-256 of nothing while there is no entry)."""
        return EMPTY_ROOT if not self._ids else self.tree().root()

    def entry(self, aggregate_id: UUID) -> StateEntry | None:
        """The entry of an aggregate, None if it has none."""
        return self._entries.get(aggregate_id.bytes)

    def proof(self, aggregate_id: UUID, tree: TreeLevels | None = None) -> dict[str, Any]:
        """JSON-ready proof of an aggregate's entry, or of its absence (its neighbours)."""
        tree = tree or self.tree()
        key = aggregate_id.bytes
        i = bisect.bisect_left(self._ids, key)
        if i < len(self._ids) and self._ids[i] == key:
            return {"aggregate_id": str(aggregate_id), "present": True,
                    **self._leaf_proof(tree, i)}
        # Absent: the entries on both sides of where it would be sorted, adjacent leaves.
        return {"aggregate_id": str(aggregate_id), "present": False,
                "neighbours": [self._leaf_proof(tree, j) for j in (i - 1, i)
                               if 0 <= j < len(self._ids)],
                "state_size": self.size}

    def _leaf_proof(self, tree: TreeLevels, i: int) -> dict[str, Any]:
        entry = self._entries[self._ids[i]]
        return {"entry_hex": entry.encode().hex(), "leaf_index": i, "state_size": self.size,
                "last_version": entry.last_version, "last_position": entry.last_position,
                "inclusion_path": [p.hex() for p in inclusion_proof(tree, i)]}

    def advance(self, conn: psycopg.Connection[Any], up_to: int) -> None:
        """Apply the ``ledger_state`` rows changed after :attr:`position`, in ``conn``'s
        snapshot, which holds the leaves up to position ``up_to``."""
        if up_to <= self.position:
            return
        self.apply(_entries(conn.execute(
            "SELECT originator_id, last_version, last_position FROM docmgmt.ledger_state"
            " WHERE last_position > %s", (self.position,))))
        self.position = up_to


def _entries(rows: Iterable[tuple[Any, ...]]) -> Iterator[StateEntry]:
    for originator_id, version, position in rows:
        yield StateEntry(UUID(str(originator_id)), int(version), int(position))


def state_as_of(conn: psycopg.Connection[Any], last_position: int) -> StateTree:
    """The state tree of the leaves up to ``last_position``, read from the leaves."""
    tree = StateTree()
    tree.apply(_entries(conn.execute(
        "SELECT DISTINCT ON (originator_id) originator_id, originator_version, position"
        " FROM docmgmt.ledger_leaves WHERE position <= %s"
        " ORDER BY originator_id, originator_version DESC", (last_position,))))
    tree.position = last_position
    return tree


def state_root_problem(conn: psycopg.Connection[Any],
                       signed: list[tuple[int, tuple[int, bytes]]]) -> tuple[int, str] | None:
    """The first (tree size, explanation) whose signed state (entries, root) is not that
    of the first tree-size *events* in the store, or None; one pass over the events."""
    if not signed:
        return None
    tree, batch, count = StateTree(), dict[UUID, StateEntry](), 0
    wanted = iter(sorted(signed))
    size, (entries, root) = next(wanted)
    with conn.cursor(name="verify_state") as cur:
        cur.itersize = 5000
        cur.execute("SELECT notification_id, originator_id, originator_version"
                    " FROM docmgmt.docmgmt_events ORDER BY notification_id")
        rows = iter(cur)
        while True:
            if count == size:
                tree.apply(batch.values())
                batch.clear()
                if (tree.size, tree.root()) != (entries, root):
                    return size, (
                        f"the state tree of the first {size} events has {tree.size} entries "
                        f"and root {tree.root().hex()}; the checkpoint signed {entries} and "
                        f"{root.hex()}: an aggregate's last version was misstated")
                nxt = next(wanted, None)
                if nxt is None:
                    return None
                size, (entries, root) = nxt
                continue
            row = next(rows, None)
            if row is None:
                return size, f"the checkpoint covers {size} events but only {count} exist"
            position, originator_id, version = row
            aggregate = UUID(str(originator_id))
            batch[aggregate] = StateEntry(aggregate, int(version), int(position))
            count += 1
