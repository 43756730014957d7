"""The compiled bulk hashing gives exactly the definitions' digests, and refuses the same input.

Expected values come from hashlib over :func:`docmgmt.ledger.leaf.canonical_leaf` (the
leaf definition) and over 0x01 || left || right (RFC 9162's node), never from the module
under test.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable

import pytest

from docmgmt.ledger import bulkhash
from docmgmt.ledger.leaf import LEAF_TAG, LEAF_VERSION, canonical_leaf, event_leaf_hash
from docmgmt.ledger.merkle import TreeLevels
from tests.ledger.rfc9162_verifier import rfc_mth

Hasher = Callable[[bytes, bytes], bytes]
Leveller = Callable[[bytes], bytes]
HEAD = b"\x00" + LEAF_TAG + bytes([LEAF_VERSION])
# The compiled functions and the pure-Python definitions, both checked against hashlib.
IMPLEMENTATIONS = pytest.mark.parametrize(
    ("leaf_hashes", "node_level"),
    [(bulkhash.leaf_hashes, bulkhash.node_level),
     (bulkhash.py_leaf_hashes, bulkhash.py_node_level)], ids=["in use", "python"])


def test_the_compiled_module_is_in_use() -> None:
    assert bulkhash.ACCELERATED, (
        "docmgmt.ledger._bulkhash was not built (a C compiler, Python's and OpenSSL's"
        " headers are needed when the package is installed):"
        f" {bulkhash.NOT_ACCELERATED_BECAUSE}")
    assert bulkhash.leaf_hashes is not bulkhash.py_leaf_hashes


def sample_events(count: int, seed: int) -> list[tuple[int, uuid.UUID, int, str, bytes]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    topics = ["docmgmt.domain.outgoing:OutgoingDocument.Commented", "", "é" * 70,
              "docmgmt.domain.incoming:IncomingDocument.Arrived", "x"]
    sizes = [0, 1, 31, 32, 55, 56, 63, 64, 300, 70_000]
    return [(rng.randrange(-(1 << 63), 1 << 63), uuid.UUID(int=rng.getrandbits(128)),
             rng.randrange(1 << 40), rng.choice(topics), rng.randbytes(rng.choice(sizes)))
            for _ in range(count)]


def stream_of(events: list[tuple[int, uuid.UUID, int, str, bytes]]) -> bytes:
    """The events' canonical leaves without tag and version, one after another."""
    return b"".join(canonical_leaf(*event)[len(HEAD) - 1:] for event in events)


@IMPLEMENTATIONS
def test_leaf_hashes_are_the_definitions(leaf_hashes: Hasher, node_level: Leveller) -> None:
    events = sample_events(200, seed=1)
    digests = leaf_hashes(HEAD, stream_of(events))
    assert digests == b"".join(event_leaf_hash(*event) for event in events)
    assert leaf_hashes(HEAD, b"") == b""
    # Any buffer; any prefix.
    assert leaf_hashes(HEAD, memoryview(bytearray(stream_of(events[:3])))) == digests[:96]
    assert leaf_hashes(b"", stream_of(events[:1])) == hashlib.sha256(
        canonical_leaf(*events[0])[len(HEAD) - 1:]).digest()


@IMPLEMENTATIONS
def test_a_stream_that_does_not_split_into_leaves_is_refused(leaf_hashes: Hasher,
                                                             node_level: Leveller) -> None:
    events = sample_events(3, seed=2)
    stream = stream_of(events)
    whole = [len(stream_of(events[:k])) for k in range(4)]
    for cut in range(len(stream)):
        if cut in whole:
            assert leaf_hashes(HEAD, stream[:cut]) == b"".join(
                event_leaf_hash(*event) for event in events[:whole.index(cut)])
            continue
        leaf = max(k for k in range(3) if whole[k] < cut)
        message = f"leaf {leaf} \\(at byte {whole[leaf]}\\) is cut short"
        with pytest.raises(ValueError, match=message):
            leaf_hashes(HEAD, stream[:cut])
    # A size field that claims more than there is (not a short read past the end).
    forged = bytearray(stream_of(events[:1]))
    forged[32:36] = (0xFFFFFFFF).to_bytes(4, "big")
    with pytest.raises(ValueError, match=r"leaf 0 \(at byte 0\) is cut short"):
        leaf_hashes(HEAD, bytes(forged))
    forged = bytearray(stream_of(events[:1]))
    state_size_at = 36 + len(events[0][3].encode())
    forged[state_size_at:state_size_at + 8] = ((1 << 64) - 1).to_bytes(8, "big")
    with pytest.raises(ValueError, match=r"leaf 0 \(at byte 0\) is cut short"):
        leaf_hashes(HEAD, bytes(forged))


@IMPLEMENTATIONS
def test_node_levels_are_rfc9162_nodes(leaf_hashes: Hasher, node_level: Leveller) -> None:
    rng = random.Random(3)  # noqa: S311 - reproducible test data
    for count in range(10):
        level = rng.randbytes(32 * count)
        expected = b"".join(hashlib.sha256(b"\x01" + level[i:i + 64]).digest()
                            for i in range(0, 64 * (count // 2), 64))
        assert node_level(level) == expected
        assert node_level(memoryview(level)) == expected
    with pytest.raises(ValueError, match="32 bytes each"):
        node_level(b"\x00" * 33)



HASH = 32


def reference_mth(leaves: bytes) -> bytes:
    """RFC 9162's MTH over 32-byte leaf hashes, a level at a time with the reference node
    hashing (an odd last hash is carried up a level)."""
    hashes = [leaves[i:i + HASH] for i in range(0, len(leaves), HASH)]
    if not hashes:
        return hashlib.sha256().digest()
    while len(hashes) > 1:
        even = len(hashes) // 2 * 2
        paired = bulkhash.py_node_level(b"".join(hashes[:even]))
        hashes = [paired[i:i + HASH] for i in range(0, len(paired), HASH)] + hashes[even:]
    return hashes[0]


def test_the_compiled_path_equals_the_reference_over_the_same_rows() -> None:
    """Leaf hashes and tree roots, compiled and reference, over one set of rows: empty and
    non-ASCII topics, empty and large states, extreme positions and versions, and every
    tree size up to 70 (odd levels, perfect trees and one past them)."""
    events = sample_events(150, seed=9)
    events += [(-(1 << 63), uuid.UUID(int=0), 0, "", b""),
               ((1 << 63) - 1, uuid.UUID(int=(1 << 128) - 1), (1 << 63) - 1, "chữ ký 🖋" * 50,
                bytes(range(256)) * 300)]
    stream = stream_of(events)
    leaves = bulkhash.leaf_hashes(HEAD, stream)
    assert leaves == bulkhash.py_leaf_hashes(HEAD, stream)
    for prefix in (b"", HEAD, b"\xff" * 64):
        assert bulkhash.leaf_hashes(prefix, stream) == bulkhash.py_leaf_hashes(prefix, stream)
    tree = TreeLevels(leaves)  # built with the module in use (docmgmt.ledger.merkle)
    for size in range(71):
        level = leaves[:HASH * size]
        assert bulkhash.node_level(level) == bulkhash.py_node_level(level)
        assert tree.root(size) == reference_mth(level) == rfc_mth(
            [level[i:i + HASH] for i in range(0, len(level), HASH)])
    assert tree.root() == reference_mth(leaves)
