"""The ledger's stored leaves as one tree: read in bulk, proofs from it by lookup.

Leaves are read in position order, 65,536 per query, as two binary byte strings
(positions, hashes): a row per chunk instead of a row per leaf. The tree's levels are then
built once (:class:`~docmgmt.ledger.merkle.TreeLevels`), so an evidence bundle with many
events, or a checkpoint, costs one pass over the ledger and not one per proof.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any

import psycopg

from docmgmt.ledger.merkle import CompactRange, TreeLevels
from docmgmt.ledger.state_tree import StateTree

CHUNK = 1 << 16
_READ = ("SELECT count(*), max(position),"
         " pg_catalog.string_agg(pg_catalog.int8send(position), ''::bytea ORDER BY position),"
         " pg_catalog.string_agg(leaf_hash, ''::bytea ORDER BY position)"
         " FROM (SELECT position, leaf_hash FROM docmgmt.ledger_leaves WHERE position > %s"
         "  ORDER BY position LIMIT %s) AS chunk")


@dataclass(frozen=True)
class StoredTree:
    """The first ``tree.size`` ledger leaves: their positions and their tree."""

    positions: array[int]
    tree: TreeLevels

    @property
    def size(self) -> int:
        """How many leaves."""
        return self.tree.size

    def index_of(self, position: int) -> int | None:
        """The leaf index of the event at ``position``, or None if it is not a leaf here."""
        i = bisect.bisect_left(self.positions, position)
        return i if i < len(self.positions) and self.positions[i] == position else None

    @property
    def last_position(self) -> int | None:
        """The position of the last leaf (None for an empty tree)."""
        return self.positions[-1] if len(self.positions) else None


def read_leaves(conn: psycopg.Connection[Any], size: int | None = None,
                after: int = -(1 << 63)) -> tuple[array[int], bytes]:
    """Positions and concatenated hashes of the first ``size`` leaves (all with None)
    after position ``after``, as seen by ``conn``'s transaction (maybe fewer)."""
    positions = array("q")
    hashes: list[bytes] = []
    remaining = size
    while remaining is None or remaining > 0:
        limit = CHUNK if remaining is None else min(CHUNK, remaining)
        row = conn.execute(_READ, (after, limit), binary=True).fetchone()
        if row is None or not row[0]:
            break
        count, after = int(row[0]), int(row[1])
        chunk = array("q", bytes(row[2]))
        if sys.byteorder == "little":
            chunk.byteswap()
        positions.extend(chunk)
        hashes.append(bytes(row[3]))
        if remaining is not None:
            remaining -= count
        if count < limit:
            break
    return positions, b"".join(hashes)


def read_tree(conn: psycopg.Connection[Any], size: int | None = None) -> StoredTree:
    """The first ``size`` leaves (all with None) as a tree; fewer if fewer are stored
    (the caller checks ``size``)."""
    positions, hashes = read_leaves(conn, size)
    return StoredTree(positions, TreeLevels(hashes))


@dataclass(frozen=True)
class Frontier:
    """The tree of every leaf up to ``last_position``, kept as a compact range.

    A checkpointer that keeps it between checkpoints reads only the leaves added since
    (the ledger worker appends leaves in position order, in one transaction with its
    tracking), so a checkpoint costs the new leaves, not the whole ledger.
    """

    tree: CompactRange
    last_position: int = -(1 << 63)
    # Every aggregate's entry as of ``last_position``: a cache of committed rows, updated
    # in place by :meth:`advanced` (never ahead of the leaves it has read).
    states: StateTree = field(default_factory=StateTree, compare=False, repr=False)

    @classmethod
    def empty(cls) -> Frontier:
        """Before the first leaf."""
        return cls(CompactRange())

    def advanced(self, conn: psycopg.Connection[Any]) -> Frontier:
        """A new frontier with every leaf after this one's (this one's tree is not changed;
        its state tree moves on with the new one)."""
        positions, hashes = read_leaves(conn, after=self.last_position)
        if not positions:
            self.states.advance(conn, self.last_position)
            return self
        if self.tree.size == 0:  # from the start: whole aligned subtrees
            tree = CompactRange()
            for height, root in TreeLevels(hashes).blocks(0, len(positions)):
                tree.append_subtree(root, height)
        else:
            tree = self.tree.copy()
            for i in range(0, len(hashes), 32):
                tree.append(hashes[i:i + 32])
        self.states.advance(conn, positions[-1])
        return Frontier(tree, positions[-1], self.states)
