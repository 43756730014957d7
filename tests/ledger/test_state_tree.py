"""The state tree kept between checkpoints: always the root a fresh computation gives."""

from __future__ import annotations

import random
from uuid import UUID

from docmgmt.ledger.bundle_verify import verify_inclusion
from docmgmt.ledger.state_leaf import StateEntry, state_root
from docmgmt.ledger.state_tree import StateTree


def test_incremental_updates_match_a_fresh_tree() -> None:
    """New aggregates anywhere in id order and moved ones, in batches, like checkpoints."""
    rng = random.Random(16)  # noqa: S311 - reproducible test data, not secrets
    tree, truth, position = StateTree(), dict[UUID, StateEntry](), 0
    for _ in range(40):
        batch = []
        for _ in range(rng.randint(0, 30)):
            position += 1
            if truth and rng.random() < 0.6:
                # An existing aggregate records another event (maybe twice in a batch).
                aggregate = rng.choice(sorted(truth))
                entry = StateEntry(aggregate, truth[aggregate].last_version + 1, position)
            else:
                entry = StateEntry(UUID(int=rng.getrandbits(128)), 1, position)
            truth[entry.aggregate_id] = entry
            batch.append(entry)
        tree.apply(batch)
        assert (tree.size, tree.root()) == state_root(truth.values())
    # Each entry's proof leads to the root.
    root = tree.root()
    for aggregate, entry in truth.items():
        proof = tree.proof(aggregate)
        assert proof["present"] is True
        assert bytes.fromhex(proof["entry_hex"]) == entry.encode()
        assert verify_inclusion(entry.leaf_hash(), proof["leaf_index"], tree.size,
                                [bytes.fromhex(p) for p in proof["inclusion_path"]], root)


def test_absent_aggregate_is_shown_by_its_two_neighbours() -> None:
    """An id between two entries gets their adjacent proofs; one past the end, one."""
    tree = StateTree()
    tree.apply(StateEntry(UUID(int=n * 10), 1, n) for n in range(1, 6))
    between = tree.proof(UUID(int=25))
    assert between["present"] is False
    assert [n["leaf_index"] for n in between["neighbours"]] == [1, 2]
    assert [n["leaf_index"] for n in tree.proof(UUID(int=99))["neighbours"]] == [4]
    assert [n["leaf_index"] for n in tree.proof(UUID(int=1))["neighbours"]] == [0]
