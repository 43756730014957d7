"""Many SHA-256 digests per call: the ledger's leaf and interior-node hashing.

The pure-Python functions below are the definitions; the compiled module
``docmgmt.ledger._bulkhash`` (OpenSSL's EVP SHA-256, built when the package is installed)
runs the same loops in C and is used when it was built (:data:`ACCELERATED`; the figures
are in bench/README.md).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

# RFC 9162's digest size and node prefix (merkle.py takes them from here).
HASH_SIZE = 32
NODE_PREFIX = b"\x01"

__all__ = ["ACCELERATED", "NOT_ACCELERATED_BECAUSE", "leaf_hashes", "node_level",
           "py_leaf_hashes", "py_node_level"]


_FIXED = 8 + 16 + 8  # position, aggregate id, version
_TOPIC = struct.Struct(">I")
_STATE = struct.Struct(">Q")


def py_leaf_hashes(prefix: bytes, stream: bytes) -> bytes:
    """SHA-256(prefix || leaf) of each leaf in ``stream``, concatenated.

    ``stream`` holds version-1 canonical leaves (:mod:`docmgmt.ledger.leaf`) without their
    tag and version, one after another: position, aggregate id, version, then the topic
    and the state, each after its size. ``ValueError`` if it does not split into whole
    leaves.
    """
    view = memoryview(stream)
    out: list[bytes] = []
    offset, total = 0, len(stream)
    while offset < total:
        end = offset + _FIXED + 4
        if end <= total:
            end += _TOPIC.unpack_from(stream, end - 4)[0] + 8
        if end <= total:
            end += _STATE.unpack_from(stream, end - 8)[0]
        if end > total:
            raise ValueError(f"leaf {len(out)} (at byte {offset}) is cut short")
        out.append(hashlib.sha256(prefix + view[offset:end]).digest())
        offset = end
    return b"".join(out)


def py_node_level(level: bytes) -> bytes:
    """SHA-256(0x01 || left || right) of each consecutive pair of 32-byte hashes.

    An odd last hash has no pair, so no node at the next level.
    """
    if len(level) % HASH_SIZE:
        raise ValueError("hashes must be 32 bytes each")
    node = hashlib.sha256(NODE_PREFIX)
    view = memoryview(level)
    out = []
    for j in range(0, len(level) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE):
        h = node.copy()
        h.update(view[j:j + 2 * HASH_SIZE])
        out.append(h.digest())
    return b"".join(out)


leaf_hashes: Callable[[bytes, bytes], bytes]
node_level: Callable[[bytes], bytes]
try:
    from docmgmt.ledger import _bulkhash

    leaf_hashes, node_level = _bulkhash.leaf_hashes, _bulkhash.node_level
except (ImportError, AttributeError) as exc:  # not built, or built from an older source
    ACCELERATED = False
    NOT_ACCELERATED_BECAUSE = f"{type(exc).__name__}: {exc}"
    leaf_hashes, node_level = py_leaf_hashes, py_node_level
else:
    ACCELERATED = True
    NOT_ACCELERATED_BECAUSE = ""
