"""Canonical leaf bytes: a fixed layout, deterministic, and sensitive to every field."""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

import pytest

from docmgmt.ledger.leaf import canonical_leaf, event_leaf_hash

AID = UUID("12345678-1234-5678-1234-567812345678")


def test_layout_is_the_documented_one() -> None:
    got = canonical_leaf(7, AID, 3, "a.b:C", b"\x00{}")
    assert got == (b"DMLEAF\x01" + struct.pack(">q", 7) + AID.bytes + struct.pack(">q", 3)
                   + b"\x00\x00\x00\x05a.b:C" + b"\x00" * 7 + b"\x03" + b"\x00{}")


def test_leaf_hash_is_sha256_of_zero_and_leaf() -> None:
    leaf = canonical_leaf(1, AID, 1, "t", b"s")
    assert event_leaf_hash(1, AID, 1, "t", b"s") == hashlib.sha256(b"\x00" + leaf).digest()


def test_topic_is_utf8() -> None:
    assert canonical_leaf(1, AID, 1, "văn bản", b"").count("văn bản".encode()) == 1


@pytest.mark.parametrize("changed", [
    (2, AID, 1, "t", b"s"),
    (1, UUID(int=AID.int + 1), 1, "t", b"s"),
    (1, AID, 2, "t", b"s"),
    (1, AID, 1, "u", b"s"),
    (1, AID, 1, "t", b"S"),
    # Moving a byte between topic and state changes the leaf (length prefixes).
    (1, AID, 1, "ts", b""),
    (1, AID, 1, "", b"ts"),
])
def test_every_field_changes_the_leaf(changed: tuple[int, UUID, int, str, bytes]) -> None:
    assert canonical_leaf(*changed) != canonical_leaf(1, AID, 1, "t", b"s")
