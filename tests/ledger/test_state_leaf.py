"""State-tree entries: exact layout, strict parsing, and proofs that pin last versions."""

from __future__ import annotations

from uuid import UUID

import pytest

from docmgmt.ledger.merkle import verify_inclusion
from docmgmt.ledger.state_leaf import (
    ENTRY_SIZE,
    StateEntry,
    decode_entry,
    state_proof,
    state_root,
)

DOC = UUID("00000000-0000-0000-0000-0000000000d0")
LOG = UUID("00000000-0000-0000-0000-0000000000a0")
COPY = UUID("00000000-0000-0000-0000-0000000000c0")


def test_entry_is_forty_bytes_in_the_documented_layout() -> None:
    """The encoding is the tag, format byte, id, last version and position, big-endian."""
    entry = StateEntry(DOC, 7, 4242)
    data = entry.encode()
    assert ENTRY_SIZE == 40
    assert len(data) == 40
    assert data[:8] == b"DMSTATE\x01"
    assert data[8:24] == DOC.bytes
    assert data[24:32] == (7).to_bytes(8, "big")
    assert data[32:] == (4242).to_bytes(8, "big")
    assert decode_entry(data) == entry


def test_decoding_rejects_other_sizes_tags_and_formats() -> None:
    """A truncated entry, a foreign tag or an unknown format is refused, not misread."""
    data = StateEntry(DOC, 1, 1).encode()
    with pytest.raises(ValueError, match="40 bytes, not 39"):
        decode_entry(data[:-1])
    with pytest.raises(ValueError, match="not a version-1 state entry"):
        decode_entry(b"DMLEAF!" + data[7:])
    with pytest.raises(ValueError, match="not a version-1 state entry"):
        decode_entry(data[:7] + b"\x02" + data[8:])


def test_proof_binds_the_last_version_so_dropping_latest_events_shows() -> None:
    """A bundle claiming an older last version cannot match the signed state root."""
    # The ledger holds a document, its access log and an incoming copy.
    entries = [StateEntry(DOC, 5, 50), StateEntry(LOG, 3, 48), StateEntry(COPY, 2, 30)]
    size, root = state_root(entries)
    assert size == 3
    # The order given does not matter: the tree is sorted by aggregate id.
    assert state_root(reversed(entries)) == (3, root)
    index, path = state_proof(entries, DOC)
    assert verify_inclusion(StateEntry(DOC, 5, 50).leaf_hash(), index, size, path, root)
    # Someone who removed the document's latest event would claim version 4.
    assert not verify_inclusion(StateEntry(DOC, 4, 45).leaf_hash(), index, size, path, root)


def test_two_entries_for_one_aggregate_are_refused() -> None:
    """Each aggregate has exactly one entry; a duplicate is an error, not a second leaf."""
    with pytest.raises(ValueError, match="has two state entries"):
        state_root([StateEntry(DOC, 1, 1), StateEntry(DOC, 2, 2)])
