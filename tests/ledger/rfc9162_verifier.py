"""An independent, minimal RFC 9162 verifier, written from §2.1.1, §2.1.3.2 and §2.1.4.2 only.

It deliberately imports nothing from docmgmt: the tests check the production proofs
with it, so a shared misunderstanding cannot make both sides agree.
"""

from __future__ import annotations

import hashlib


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf_hash(entry: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return _hash(b"\x00" + entry)


def rfc_mth(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) of §2.1.1 over leaf hashes, by its recursive definition (k is the largest
    power of two smaller than n)."""
    if not leaf_hashes:
        return _hash(b"")
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1 << ((len(leaf_hashes) - 1).bit_length() - 1)
    return _hash(b"\x01" + rfc_mth(leaf_hashes[:k]) + rfc_mth(leaf_hashes[k:]))


def rfc_verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, inclusion_path: list[bytes],
    root_hash: bytes,
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    # 1. leaf_index >= tree_size: fail.
    if leaf_index >= tree_size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.
    fn = leaf_index
    sn = tree_size - 1
    # 3. r = hash.
    r = leaf_hash
    # 4. For each value p in the inclusion_path array:
    for p in inclusion_path:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn % 2 == 1 or fn == sn:
            # i. Set r to HASH(0x01 || p || r).
            r = _hash(b"\x01" + p + r)
            # ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            #     either LSB(fn) is set or fn is 0.
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            # Otherwise: Set r to HASH(0x01 || r || p).
            r = _hash(b"\x01" + r + p)
        # c. Finally, right-shift both fn and sn one time.
        fn //= 2
        sn //= 2
    # 5. Compare sn to 0. Compare r against the root_hash.
    return sn == 0 and r == root_hash


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes,
    consistency_path: list[bytes],
) -> bool:
    """RFC 9162 §2.1.4.2, step by step."""
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if len(consistency_path) == 0:
        return False
    path = list(consistency_path)
    # 2. If first is an exact power of 2, then prepend first_hash to the array.
    if first > 0 and (first & (first - 1)) == 0:
        path = [first_hash, *path]
    # 3. Set fn to first - 1 and sn to second - 1.
    fn = first - 1
    sn = second - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is
    #    not set.
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = path[0]
    sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn % 2 == 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
            fr = _hash(b"\x01" + c + fr)
            sr = _hash(b"\x01" + c + sr)
            # ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            #     either LSB(fn) is set or fn is 0.
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            # Otherwise: i. Set sr to HASH(0x01 || sr || c).
            sr = _hash(b"\x01" + sr + c)
        # c. Finally, right-shift both fn and sn one time.
        fn //= 2
        sn //= 2
    # 7. fr == first_hash, sr == second_hash and sn == 0.
    return fr == first_hash and sr == second_hash and sn == 0
