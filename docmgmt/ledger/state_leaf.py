"""State-tree entries: the fixed 40-byte leaf committing to an aggregate's last event.

Layout, version 1 (integers big-endian)::

    b"DMSTATE"            7 bytes  domain tag
    0x01                  1 byte   layout version
    aggregate id          16 bytes the aggregate's UUID, RFC 4122 byte order
    last version          8 bytes  unsigned 64-bit
    last position         8 bytes  unsigned 64-bit (notification id of its last event)

The state tree is an RFC 9162 tree over these leaves, sorted by aggregate id, so a
signed root fixes each aggregate's last version: a bundle that drops its latest events
cannot match the entry.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from docmgmt.ledger.merkle import TreeLevels, inclusion_proof, leaf_hash, root_of

STATE_TAG = b"DMSTATE"
STATE_VERSION = 1
_ENTRY = struct.Struct(">7sB16sQQ")
ENTRY_SIZE = _ENTRY.size


@dataclass(frozen=True)
class StateEntry:
    """One aggregate's last version and the log position of its last event."""

    aggregate_id: UUID
    last_version: int
    last_position: int

    def encode(self) -> bytes:
        """The version-1 canonical 40 bytes of this entry."""
        return _ENTRY.pack(STATE_TAG, STATE_VERSION, self.aggregate_id.bytes,
                           self.last_version, self.last_position)

    def leaf_hash(self) -> bytes:
        """The RFC 9162 leaf hash of this entry."""
        return leaf_hash(self.encode())


def decode_entry(data: bytes) -> StateEntry:
    """Parse 40 canonical bytes, rejecting a wrong size, tag or layout version."""
    if len(data) != ENTRY_SIZE:
        raise ValueError(f"a state entry is {ENTRY_SIZE} bytes, not {len(data)}")
    tag, version, raw_id, last_version, last_position = _ENTRY.unpack(data)
    if tag != STATE_TAG or version != STATE_VERSION:
        raise ValueError("not a version-1 state entry")
    return StateEntry(UUID(bytes=raw_id), last_version, last_position)


def _sorted(entries: Iterable[StateEntry]) -> list[StateEntry]:
    ordered = sorted(entries, key=lambda e: e.aggregate_id.bytes)
    for a, b in itertools.pairwise(ordered):
        if a.aggregate_id == b.aggregate_id:
            raise ValueError(f"aggregate {a.aggregate_id} has two state entries")
    return ordered


def state_root(entries: Iterable[StateEntry]) -> tuple[int, bytes]:
    """(number of entries, RFC 9162 root) of the state tree over ``entries``."""
    ordered = _sorted(entries)
    return len(ordered), root_of([e.leaf_hash() for e in ordered])


def state_proof(entries: Iterable[StateEntry], aggregate_id: UUID) -> tuple[int, list[bytes]]:
    """(leaf index, audit path) of ``aggregate_id``'s entry in the state tree."""
    ordered = _sorted(entries)
    ids = [e.aggregate_id for e in ordered]
    index = ids.index(aggregate_id)
    tree = TreeLevels(b"".join(e.leaf_hash() for e in ordered))
    return index, inclusion_proof(tree, index)
