"""Canonical leaf bytes: the exact encoding of one stored event that the ledger hashes.

Layout, version 1 (all integers big-endian, every variable field length-prefixed, so the
encoding is injective: two different events can never share leaf bytes)::

    b"DMLEAF"                   6 bytes  domain tag
    0x01                        1 byte   layout version
    notification_id             8 bytes  signed 64-bit (the event's position in the log)
    originator_id               16 bytes the aggregate's UUID, RFC 4122 byte order
    originator_version          8 bytes  signed 64-bit
    len(topic)                  4 bytes  unsigned, then the topic as UTF-8
    len(state)                  8 bytes  unsigned, then the stored state bytes as recorded

The state is hashed exactly as stored (after any compression or encryption the
application applies), so an auditor needs the database rows only, never the keys.
"""

from __future__ import annotations

import struct
from uuid import UUID

from docmgmt.ledger.merkle import leaf_hash

LEAF_TAG = b"DMLEAF"
LEAF_VERSION = 1
_HEAD = struct.Struct(">6sBq16sq")


def canonical_leaf(
    notification_id: int, originator_id: UUID, originator_version: int, topic: str,
    state: bytes,
) -> bytes:
    """The version-1 canonical bytes of one stored event (see the module docstring)."""
    t = topic.encode("utf-8")
    return b"".join((
        _HEAD.pack(LEAF_TAG, LEAF_VERSION, notification_id, originator_id.bytes,
                   originator_version),
        struct.pack(">I", len(t)), t,
        struct.pack(">Q", len(state)), bytes(state),
    ))


def event_leaf_hash(
    notification_id: int, originator_id: UUID, originator_version: int, topic: str,
    state: bytes,
) -> bytes:
    """The RFC 9162 leaf hash of one stored event."""
    return leaf_hash(canonical_leaf(notification_id, originator_id, originator_version,
                                    topic, state))
