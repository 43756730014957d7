"""Inclusion and consistency proofs from the stored ledger, as JSON-ready dicts."""

from __future__ import annotations

from typing import Any

import psycopg

from docmgmt.ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    root_of,
    verify_consistency,
    verify_inclusion,
)


class ProofRequestError(ValueError):
    """The requested proof does not exist for this ledger."""


def _leaves(conninfo: str, tree_size: int) -> list[tuple[int, bytes]]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT position, leaf_hash FROM docmgmt.ledger_leaves"
                            " ORDER BY position LIMIT %s", (tree_size,)).fetchall()
    if len(rows) < tree_size:
        raise ProofRequestError(f"the ledger holds {len(rows)} leaves, not {tree_size}")
    return [(int(p), bytes(h)) for p, h in rows]


def prove_inclusion(conninfo: str, position: int, tree_size: int) -> dict[str, Any]:
    """The audit path of the event at ``position`` in the tree of ``tree_size`` leaves."""
    rows = _leaves(conninfo, tree_size)
    index = next((i for i, (p, _) in enumerate(rows) if p == position), None)
    if index is None:
        raise ProofRequestError(f"no leaf at position {position} in the first {tree_size}")
    hashes = [h for _, h in rows]
    path = inclusion_proof(hashes, index)
    root = root_of(hashes)
    if not verify_inclusion(hashes[index], index, tree_size, path, root):  # pragma: no cover
        raise AssertionError("the generated inclusion proof does not verify")
    return {"position": position, "leaf_index": index, "tree_size": tree_size,
            "leaf_hash": hashes[index].hex(), "root_hash": root.hex(),
            "inclusion_path": [p.hex() for p in path]}


def prove_consistency(conninfo: str, first: int, second: int) -> dict[str, Any]:
    """The proof that the tree of ``first`` leaves is a prefix of the one of ``second``."""
    if not 0 < first <= second:
        raise ProofRequestError(f"no consistency proof from {first} to {second}")
    hashes = [h for _, h in _leaves(conninfo, second)]
    proof = consistency_proof(hashes, first)
    first_root, second_root = root_of(hashes[:first]), root_of(hashes)
    if not verify_consistency(first, second, first_root, second_root,
                              proof):  # pragma: no cover
        raise AssertionError("the generated consistency proof does not verify")
    return {"first": first, "second": second, "first_root": first_root.hex(),
            "second_root": second_root.hex(), "consistency_path": [p.hex() for p in proof]}
