"""Inclusion and consistency proofs from the stored ledger, as JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from docmgmt.ledger.bulkhash import HASH_SIZE
from docmgmt.ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from docmgmt.ledger.stored_tree import (
    TILE,
    StoredTree,
    TiledTree,
    not_adding_up,
    read_leaves,
    read_tiles,
    read_tree,
)


class ProofRequestError(ValueError):
    """The requested proof does not exist for this ledger."""


_NEAREST_CHECKPOINTS = (
    "(SELECT tree_size, root_hash FROM docmgmt.ledger_checkpoints WHERE tree_size >= %(n)s"
    " ORDER BY tree_size LIMIT 1) UNION ALL (SELECT tree_size, root_hash"
    " FROM docmgmt.ledger_checkpoints WHERE tree_size < %(n)s ORDER BY tree_size DESC LIMIT 1)")


def _tree(conninfo: str, tree_size: int, positions: Sequence[int] = (),
          blocks: Sequence[int] = ()) -> StoredTree | TiledTree:
    """The first ``tree_size`` leaves, enough for proofs about the events at
    ``positions`` and the leaf blocks ``blocks`` (see :func:`_tiled`)."""
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            stored = _tiled(conn, tree_size, positions, blocks) or read_tree(conn, tree_size)
    if stored.size < tree_size:
        raise ProofRequestError(f"the ledger holds {stored.size} leaves, not {tree_size}")
    return stored


def _tiled(conn: psycopg.Connection[Any], size: int, positions: Sequence[int],
           blocks: Sequence[int]) -> TiledTree | None:
    """The first ``size`` leaves from the tiles, vouched for by a signed checkpoint: the
    nearest at or above ``size`` (else the newest below) must get its root from the same
    tiles and the leaves after them; None when there is no such checkpoint, or the tiles
    or a block read do not add up (then every leaf is read instead, and a warning says
    why). A size past the last leaf is refused here, without reading every leaf."""
    nearest = conn.execute(_NEAREST_CHECKPOINTS, {"n": size}).fetchall()
    if not nearest:
        return None
    signed, root = int(nearest[0][0]), bytes(nearest[0][1])
    tiles = read_tiles(conn, min(size, signed) // TILE)
    if tiles is None:
        not_adding_up(signed, "a tile is missing")
        return None
    firsts, lasts, roots = tiles
    done = len(firsts) * TILE
    after = lasts[-1] if lasts else -(1 << 63)
    found, hashes = read_leaves(conn, max(size, signed) - done, after=after)
    if len(found) < signed - done:
        not_adding_up(signed, "fewer leaves than the checkpoint covers")
        return None
    checked = TiledTree(signed, firsts, lasts, roots,
                        (found[:signed - done], hashes[:(signed - done) * HASH_SIZE]))
    if checked.root() != root:
        not_adding_up(signed, "the tiles do not give its root")
        return None
    if len(found) < size - done:
        raise ProofRequestError(f"the ledger holds {done + len(found)} leaves, not {size}")
    tree = TiledTree(size, firsts, lasts, roots,
                     (found[:size - done], hashes[:(size - done) * HASH_SIZE]))
    if not (tree.load(conn, positions) and tree.load_blocks(conn, blocks)):
        not_adding_up(signed, "a block of leaves does not give its tile's root")
        return None
    return tree


def prove_inclusion(conninfo: str, position: int, tree_size: int) -> dict[str, Any]:
    """The audit path of the event at ``position`` in the tree of ``tree_size`` leaves."""
    stored = _tree(conninfo, tree_size, positions=[position])
    index = stored.index_of(position)
    if index is None:
        raise ProofRequestError(f"no leaf at position {position} in the first {tree_size}")
    tree = stored.tree
    path = inclusion_proof(tree, index)
    root = tree.root()
    leaf = tree.leaf(index)
    if not verify_inclusion(leaf, index, tree_size, path, root):  # pragma: no cover
        raise AssertionError("the generated inclusion proof does not verify")
    return {"position": position, "leaf_index": index, "tree_size": tree_size,
            "leaf_hash": leaf.hex(), "root_hash": root.hex(),
            "inclusion_path": [p.hex() for p in path]}


def prove_consistency(conninfo: str, first: int, second: int) -> dict[str, Any]:
    """The proof that the tree of ``first`` leaves is a prefix of the one of ``second``."""
    if not 0 < first <= second:
        raise ProofRequestError(f"no consistency proof from {first} to {second}")
    # The block where the first tree ends holds the smaller subtrees the proof names.
    tree = _tree(conninfo, second, blocks=[first // TILE]).tree
    proof = consistency_proof(tree, first)
    first_root, second_root = tree.root(first), tree.root()
    if not verify_consistency(first, second, first_root, second_root,
                              proof):  # pragma: no cover
        raise AssertionError("the generated consistency proof does not verify")
    return {"first": first, "second": second, "first_root": first_root.hex(),
            "second_root": second_root.hex(), "consistency_path": [p.hex() for p in proof]}


MAX_CHECKPOINTS_PAGE = 1000
_CHECKPOINTS_PAGE = (
    "SELECT tree_size, root_hash, created_at, signature IS NOT NULL,"
    " timestamp_token IS NOT NULL, state_entries, state_root FROM docmgmt.ledger_checkpoints"
    " WHERE tree_size > %s ORDER BY tree_size LIMIT %s")


def state_fields(entries: int | None, root: bytes | None) -> dict[str, Any]:
    """Note format, and for format 2 the signed state tree's size and root (hex)."""
    if entries is None or root is None:
        return {"format": 1, "state_entries": None, "state_root": None}
    return {"format": 2, "state_entries": int(entries), "state_root": bytes(root).hex()}


def list_checkpoints(conninfo: str, after: int = 0, limit: int = 100) -> dict[str, Any]:
    """One page of every stored checkpoint, oldest first: those whose tree size is above
    ``after``; ``next_after`` asks for the following page (None after the last)."""
    if after < 0:
        raise ProofRequestError("after must be a tree size (0 or more)")
    if not 1 <= limit <= MAX_CHECKPOINTS_PAGE:
        raise ProofRequestError(f"limit must be between 1 and {MAX_CHECKPOINTS_PAGE}")
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(_CHECKPOINTS_PAGE, (after, limit + 1)).fetchall()
    page = [{"tree_size": int(size), "root_hash": bytes(root).hex(),
             "created_at": created.isoformat(), "signed": bool(signed),
             "timestamped": bool(stamped), **state_fields(entries, state)}
            for size, root, created, signed, stamped, entries, state in rows[:limit]]
    more = len(rows) > limit
    return {"checkpoints": page, "next_after": page[-1]["tree_size"] if more else None}
