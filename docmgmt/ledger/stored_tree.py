"""The ledger's stored leaves as one tree: read in bulk, proofs from it by lookup.

Leaves are read in position order, 65,536 per query, as two binary byte strings
(positions, hashes): a row per chunk instead of a row per leaf. The tree's levels are then
built once (:class:`~docmgmt.ledger.merkle.TreeLevels`), so a checkpoint from scratch, or
a proof at any tree size, costs one pass over the ledger and not one per proof. An evidence
bundle reads less: the tiles (the roots of complete blocks of 256 leaves, stored with each
checkpoint), the leaves after them and the blocks holding its events (:class:`TiledTree`).
"""

from __future__ import annotations

import bisect
import logging
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from docmgmt.ledger.bulkhash import HASH_SIZE
from docmgmt.ledger.merkle import CompactRange, TreeLevels, levels_of
from docmgmt.ledger.state_tree import StateTree, int64s

log = logging.getLogger("docmgmt.ledger")
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
        positions.extend(int64s(bytes(row[2])))
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


# --- tiles: the roots of complete aligned blocks of leaves --------------------------------

TILE_HEIGHT = 8
TILE = 1 << TILE_HEIGHT
_LAST_TILE = ("SELECT tile, last_position FROM docmgmt.ledger_tiles"
              " ORDER BY tile DESC LIMIT 1")
_READ_TILES = ("SELECT count(*), max(tile),"
               " pg_catalog.string_agg(pg_catalog.int8send(first_position), ''::bytea"
               "  ORDER BY tile),"
               " pg_catalog.string_agg(pg_catalog.int8send(last_position), ''::bytea"
               "  ORDER BY tile),"
               " pg_catalog.string_agg(root, ''::bytea ORDER BY tile)"
               " FROM docmgmt.ledger_tiles WHERE tile < %s")


def extend_tiles(conn: psycopg.Connection[Any], size: int) -> int:
    """Store the tile of every complete block within the first ``size`` leaves that has
    none yet, in ``conn``'s transaction (whose snapshot must hold those leaves); returns
    how many it computed. Tiles are added in order, so they are always 0..n-1; one that
    another writer stored meanwhile is left as it is (its leaves, hence its root, are the
    same). Leaves are read CHUNK at a time, so the first call over a long ledger (after
    the upgrade that brought tiles) holds one chunk in memory, not the ledger."""
    last = conn.execute(_LAST_TILE).fetchone()
    done, after = (0, -(1 << 63)) if last is None else (int(last[0]) + 1, int(last[1]))
    added = 0
    while (wanted := min(size // TILE - done, CHUNK // TILE)) > 0:
        positions, hashes = read_leaves(conn, wanted * TILE, after=after)
        wanted = len(positions) // TILE  # fewer only if the snapshot lacks the leaves
        if not wanted:
            break
        roots = levels_of(hashes[:wanted * TILE * HASH_SIZE])[TILE_HEIGHT]
        conn.execute(
            "INSERT INTO docmgmt.ledger_tiles (tile, first_position, last_position, root)"
            " SELECT * FROM unnest(%s::int8[], %s::int8[], %s::int8[], %s::bytea[])"
            " ON CONFLICT (tile) DO NOTHING",
            (list(range(done, done + wanted)), positions[0:wanted * TILE:TILE].tolist(),
             positions[TILE - 1:wanted * TILE:TILE].tolist(),
             [roots[k * HASH_SIZE:(k + 1) * HASH_SIZE] for k in range(wanted)]))
        done, after, added = done + wanted, positions[wanted * TILE - 1], added + wanted
    return added


class TiledTree(TreeLevels):
    """The first ``size`` leaves as tiles, the leaves after the last tile, and the leaves
    of the blocks :meth:`load` was asked for; enough for the proofs about those.

    A node of height 8 or more is a tile or is computed from tiles (the complete blocks
    among the leaves after the stored tiles count as tiles); a lower one comes from a
    loaded block (asking for one elsewhere raises :class:`LookupError`). Each loaded block
    must give its tile's root, and the caller compares :meth:`root` with a signed root:
    tiles that do not add up are never used.
    """

    def __init__(self, size: int, firsts: array[int], lasts: array[int], roots: bytes,
                 tail: tuple[array[int], bytes]) -> None:
        positions, hashes = tail
        if len(firsts) * TILE + len(positions) != size:
            raise ValueError(f"{len(firsts)} tiles and {len(positions)} leaves are not "
                             f"{size} leaves")
        self.size = size
        self._firsts, self._lasts = array("q", firsts), array("q", lasts)
        self._blocks: dict[int, tuple[array[int], list[bytes]]] = {}
        extra: list[bytes] = []
        for j in range(0, len(positions), TILE):
            block = positions[j:j + TILE]
            levels = levels_of(hashes[j * HASH_SIZE:(j + TILE) * HASH_SIZE])
            self._blocks[len(self._firsts)] = (block, levels)
            if len(block) == TILE:
                self._firsts.append(block[0])
                self._lasts.append(block[-1])
                extra.append(levels[TILE_HEIGHT])
        self._tiles = levels_of(roots + b"".join(extra))

    @property
    def tree(self) -> TiledTree:
        """Itself (as :attr:`StoredTree.tree`)."""
        return self

    @property
    def last_position(self) -> int | None:
        """The position of the last leaf (None for an empty tree)."""
        tail = self._blocks.get(len(self._firsts))
        if tail is not None:  # a partial block after the last tile
            return tail[0][-1]
        return self._lasts[-1] if self._lasts else None

    def compact_range(self) -> CompactRange:
        """The tree as a compact range (the tiles' largest aligned subtrees, then the
        leaves after the last tile), to append to."""
        tree = CompactRange()
        for height, root in self.blocks(0, len(self._firsts) * TILE):
            tree.append_subtree(root, height)
        tail = self._blocks.get(len(self._firsts))
        if tail is not None:
            leaves = tail[1][0]
            for i in range(0, len(leaves), HASH_SIZE):
                tree.append(leaves[i:i + HASH_SIZE])
        return tree

    def _block_of(self, position: int) -> int:
        """The block whose leaves would hold ``position`` (the tail's after the tiles)."""
        b = bisect.bisect_right(self._firsts, position) - 1
        return b if b >= 0 and position <= self._lasts[b] else len(self._firsts)

    def load(self, conn: psycopg.Connection[Any], positions: Iterable[int]) -> bool:
        """Read the blocks of leaves holding ``positions`` (and check each against its
        tile); False if one does not give its tile's root."""
        return self.load_blocks(conn, {self._block_of(p) for p in positions})

    def load_blocks(self, conn: psycopg.Connection[Any], blocks: Iterable[int]) -> bool:
        """Read these blocks of leaves (by number; the tail's is always there) and check
        each against its tile; False if one does not give its tile's root."""
        for b in sorted(set(blocks) - self._blocks.keys()):
            if not 0 <= b < len(self._firsts):
                continue  # past the tiles: the tail's block, or no block at all
            after = self._lasts[b - 1] if b else -(1 << 63)
            found, hashes = read_leaves(conn, TILE, after=after)
            levels = levels_of(hashes)
            if (len(found) != TILE or found[0] != self._firsts[b] or found[-1] != self._lasts[b]
                    or levels[TILE_HEIGHT] != self._tiles[0][b * HASH_SIZE:(b + 1) * HASH_SIZE]):
                return False
            self._blocks[b] = (found, levels)
        return True

    def index_of(self, position: int) -> int | None:
        """The leaf index of the event at ``position`` (its block must be loaded), or
        None if it is not a leaf here."""
        b = self._block_of(position)
        if b not in self._blocks:
            if b == len(self._firsts):
                return None  # after the last leaf, and no tail
            raise LookupError(f"the leaves around position {position} were not loaded")
        found = self._blocks[b][0]
        j = bisect.bisect_left(found, position)
        return b * TILE + j if j < len(found) and found[j] == position else None

    def node(self, height: int, k: int) -> bytes:
        """As :meth:`TreeLevels.node`: from the tiles at height 8 or more, else from the
        loaded block holding it."""
        if height >= TILE_HEIGHT:
            level = self._tiles[height - TILE_HEIGHT]
        else:
            b = (k << height) >> TILE_HEIGHT
            if b not in self._blocks:
                raise LookupError(f"leaf block {b} was not loaded")
            level = self._blocks[b][1][height]
            k -= b << (TILE_HEIGHT - height)
        return level[HASH_SIZE * k:HASH_SIZE * (k + 1)]


def read_tiles(conn: psycopg.Connection[Any], count: int,
               ) -> tuple[array[int], array[int], bytes] | None:
    """First positions, last positions and roots of tiles 0..count-1 (fewer if fewer are
    stored), or None if one is missing below the last."""
    if count <= 0:
        return array("q"), array("q"), b""
    row = conn.execute(_READ_TILES, (count,), binary=True).fetchone()
    if row is None or not row[0]:
        return array("q"), array("q"), b""
    if row[1] != row[0] - 1:  # tile numbers are unique and not negative: 0..n-1 or a hole
        return None
    return int64s(bytes(row[2])), int64s(bytes(row[3])), bytes(row[4])


def read_tiled(conn: psycopg.Connection[Any], size: int) -> TiledTree | None:
    """The first ``size`` leaves as a :class:`TiledTree` (no block loaded but the leaves
    after the last stored tile), or None if a tile is missing below the last."""
    tiles = read_tiles(conn, size // TILE)
    if tiles is None:
        return None
    firsts, lasts, roots = tiles
    rest = size - len(firsts) * TILE
    tail = read_leaves(conn, rest, after=lasts[-1] if lasts else -(1 << 63))
    if len(tail[0]) != rest:
        return None
    return TiledTree(size, firsts, lasts, roots, tail)


def read_proving(conn: psycopg.Connection[Any], size: int, root: bytes,
                 positions: Callable[[int | None], Iterable[int]]) -> StoredTree | TiledTree:
    """The first ``size`` leaves, enough to prove the events at ``positions(last)``
    (``last``: the position of the last of those leaves), whose root must be ``root``.

    From the tiles, the leaves after them and the blocks holding those events when they
    add up to ``root``; otherwise (a tile missing or wrong) from every leaf, so that
    damage costs time and is then named by the caller's own check of the root.
    """
    tiled = checked_tiles(conn, size, root)
    if tiled is not None:
        if tiled.load(conn, positions(tiled.last_position)):
            return tiled
        not_adding_up(size, "a block of leaves does not give its tile's root")
    return read_tree(conn, size)


def checked_tiles(conn: psycopg.Connection[Any], size: int, root: bytes) -> TiledTree | None:
    """The first ``size`` leaves as a :class:`TiledTree` when its tiles and the leaves
    after them give the signed ``root``; None otherwise, with a warning saying why."""
    tiled = read_tiled(conn, size)
    if tiled is None:
        not_adding_up(size, "a tile is missing, or a leaf after the last tile")
    elif tiled.root() != root:
        not_adding_up(size, "the tiles do not give its root")
    else:
        return tiled
    return None


def not_adding_up(size: int, why: str) -> None:
    """Say that the tiles were not used for the checkpoint at tree size ``size``, and
    why (they only save time: every leaf is read instead)."""
    log.warning("ledger tiles not used for the checkpoint at tree size %s: %s; every leaf "
                "is read instead (`docmgmt verify` checks the leaves against the signed "
                "roots)", size, why)
