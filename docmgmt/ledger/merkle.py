"""RFC 9162 (Certificate Transparency v2) §2.1 Merkle trees: hashes, proofs, verification.

Standard library, and :mod:`docmgmt.ledger.bulkhash` for a whole level of nodes per
call. Proof *generation* works on a :class:`TreeLevels` built once from the leaf hashes
(the ledger reads them from the database), so each proof after that is a few lookups;
streaming root computation uses a compact range (one perfect-subtree root per set bit of
the size), so appending is O(log n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import cast

from docmgmt.ledger.bulkhash import HASH_SIZE, NODE_PREFIX, node_level

LEAF_PREFIX = b"\x00"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes (streaming, via the compact range)."""
    tree = CompactRange()
    tree.extend(leaves)
    return tree.root()


def levels_of(leaves: bytes) -> list[bytes]:
    """Every level of the tree over the concatenated 32-byte ``leaves``, leaves first.

    Level h holds the roots of the complete aligned blocks of 2**h leaves, concatenated
    (a trailing incomplete block has no node at that level). One hash per interior node,
    a level per call (:func:`docmgmt.ledger.bulkhash.node_level`).
    """
    levels = [leaves]
    while len(levels[-1]) >= 2 * HASH_SIZE:
        levels.append(node_level(levels[-1]))
    return levels


class TreeLevels:
    """A tree of leaf hashes with every complete aligned subtree's root precomputed.

    Built in one pass (one hash per interior node); afterwards the root of any prefix
    and every subtree an RFC 9162 proof needs are a handful of lookups and hashes, so
    many proofs from one tree cost one pass in all.
    """

    def __init__(self, leaves: bytes | Sequence[bytes]) -> None:
        joined = leaves if isinstance(leaves, bytes) else b"".join(leaves)
        if len(joined) % HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes each")
        self.size = len(joined) // HASH_SIZE
        self._levels = levels_of(joined)

    @classmethod
    def from_levels(cls, levels: Sequence[bytes | bytearray]) -> TreeLevels:
        """A tree over levels already computed (as :func:`levels_of` lays them out).

        Bytearrays are used as they are, not copied (only sliced and concatenated here,
        as bytes would be); they must not change while the tree is in use.
        """
        tree = cls.__new__(cls)
        tree.size = len(levels[0]) // HASH_SIZE
        tree._levels = cast(list[bytes], list(levels))
        return tree

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        return self.node(0, index)

    def blocks(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """The perfect subtrees covering leaves lo..hi-1 from the left, largest first.

        ``lo`` must be a multiple of the largest of them (as it is for every subtree an
        RFC 9162 proof names, and for prefixes), so each is a stored node.
        """
        out = []
        pos = lo
        for height in range((hi - lo).bit_length() - 1, -1, -1):
            if (hi - lo) >> height & 1:
                if pos & ((1 << height) - 1):
                    raise ValueError(f"leaves {lo}..{hi - 1} are not aligned subtrees")
                out.append((height, self.node(height, pos >> height)))
                pos += 1 << height
        return out

    def node(self, height: int, k: int) -> bytes:
        """The root of the ``k``-th complete aligned subtree of 2**height leaves."""
        return self._levels[height][HASH_SIZE * k:HASH_SIZE * (k + 1)]

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH of leaves lo..hi-1 (see :meth:`blocks` for the alignment it needs)."""
        if not 0 <= lo < hi <= self.size:
            raise ValueError(f"no leaves {lo}..{hi - 1} in a tree of size {self.size}")
        nodes = self.blocks(lo, hi)
        root = nodes[-1][1]
        for _, node in reversed(nodes[:-1]):
            root = node_hash(node, root)
        return root

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all by default)."""
        size = self.size if size is None else size
        return EMPTY_ROOT if size == 0 else self.mth(0, size)


def _tree(leaves: Sequence[bytes] | TreeLevels) -> TreeLevels:
    return leaves if isinstance(leaves, TreeLevels) else TreeLevels(leaves)


def inclusion_proof(leaves: Sequence[bytes] | TreeLevels, index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1: the audit path of leaf ``index``."""
    tree = _tree(leaves)
    n = tree.size
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of size {n}")
    path: list[bytes] = []
    lo, hi = 0, n
    # Walk down from the root; siblings are collected top-down, the proof lists them
    # bottom-up.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(tree.mth(lo + k, hi))
            hi = lo + k
        else:
            path.append(tree.mth(lo, lo + k))
            lo = lo + k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes] | TreeLevels, first: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1, for 0 < m <= n (empty when m == n)."""
    tree = _tree(leaves)
    n = tree.size
    if not 0 < first <= n:
        raise ValueError(f"no consistency proof from size {first} to size {n}")
    return _subproof(tree, first, 0, n, True)


def _subproof(tree: TreeLevels, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [tree.mth(lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(tree, m, lo, lo + k, whole), tree.mth(lo + k, hi)]
    return [*_subproof(tree, m - k, lo + k, hi, False), tree.mth(lo, lo + k)]


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` under ``root``?"""
    if index < 0 or index >= tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree of size ``first`` is a prefix?

    Sizes equal: the proof must be empty and the roots equal (RFC 9162 §2.1.4.1 defines
    that proof as empty; the verification algorithm covers first < second only).
    """
    if first <= 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class CompactRange:
    """An append-only Merkle tree kept as the roots of its perfect subtrees.

    ``size`` leaves are held as one root per set bit of ``size``, largest (leftmost)
    first: appending merges equal-sized subtrees like a binary counter (O(log n)), and
    the root folds them right to left, which is exactly RFC 9162's MTH split.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash on the right."""
        node = leaf
        size = self.size
        while size & 1:
            node = node_hash(self._stack.pop(), node)
            size >>= 1
        self._stack.append(node)
        self.size += 1

    def append_subtree(self, root: bytes, height: int) -> None:
        """Add the root of a perfect subtree of 2**height leaves on the right.

        The tree's size must be a multiple of 2**height (the subtree is aligned), as it is
        when leaves are added in aligned blocks.
        """
        if self.size & ((1 << height) - 1):
            raise ValueError(f"a subtree of 2**{height} leaves is not aligned at size "
                             f"{self.size}")
        node = root
        size = self.size >> height
        while size & 1:
            node = node_hash(self._stack.pop(), node)
            size >>= 1
        self._stack.append(node)
        self.size += 1 << height

    def copy(self) -> CompactRange:
        """An independent copy (to fold a root without changing this range)."""
        other = CompactRange()
        other.size, other._stack = self.size, list(self._stack)
        return other

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the leaves so far (SHA-256 of the empty string for no leaves)."""
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1]
        for node in reversed(self._stack[:-1]):
            root = node_hash(node, root)
        return root
