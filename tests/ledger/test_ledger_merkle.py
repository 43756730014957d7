"""RFC 9162 Merkle tree: known answers, proof round trips checked by an independent verifier."""

from __future__ import annotations

import hashlib

import pytest

from docmgmt.ledger.merkle import (
    CompactRange,
    TreeLevels,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.rfc9162_verifier import (
    rfc_leaf_hash,
    rfc_mth,
    rfc_verify_consistency,
    rfc_verify_inclusion,
)


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaves(n: int) -> list[bytes]:
    return [rfc_leaf_hash(f"leaf {i}".encode()) for i in range(n)]


# The test vectors of the Certificate Transparency reference implementations (RFC 6962
# and RFC 9162 share the tree): leaf inputs and MTH of the first n of them.
CT_INPUTS = [bytes.fromhex(x) for x in [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_hashes_have_the_rfc_domain_separation() -> None:
    assert leaf_hash(b"abc") == h(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == h(b"\x01" + b"L" * 32 + b"R" * 32)


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert root_of([]) == h(b"")


def test_hand_computed_small_trees() -> None:
    a, b, c, d, e = (leaf_hash(x) for x in (b"a", b"b", b"c", b"d", b"e"))
    ab, cd = h(b"\x01" + a + b), h(b"\x01" + c + d)
    assert root_of([a]) == a
    assert root_of([a, b]) == ab
    # n = 3 splits at k = 2: MTH = H(1 || MTH(a, b) || c).
    assert root_of([a, b, c]) == h(b"\x01" + ab + c)
    assert root_of([a, b, c, d]) == h(b"\x01" + ab + cd)
    # n = 5 splits at k = 4.
    assert root_of([a, b, c, d, e]) == h(b"\x01" + h(b"\x01" + ab + cd) + e)
    # The audit path of c in a tree of 5 is [d, MTH(a, b), e].
    assert inclusion_proof([a, b, c, d, e], 2) == [d, ab, e]
    # PROOF(3, D[5]) = [c, d, MTH(a, b), e] (RFC 9162 §2.1.4.1, SUBPROOF recursion).
    assert consistency_proof([a, b, c, d, e], 3) == [c, d, ab, e]


@pytest.mark.parametrize("n", range(1, 9))
def test_certificate_transparency_reference_roots(n: int) -> None:
    assert root_of([leaf_hash(x) for x in CT_INPUTS[:n]]).hex() == CT_ROOTS[n - 1]


def test_compact_range_matches_recursive_definition_for_every_prefix() -> None:
    hashes = leaves(130)
    tree = CompactRange()
    for n, leaf in enumerate(hashes, start=1):
        tree.append(leaf)
        assert tree.size == n
        assert tree.root() == rfc_mth(hashes[:n])


def test_aligned_subtrees_fold_like_their_leaves() -> None:
    hashes = leaves(100)
    tree = CompactRange()
    # 64 + 32 + 4 leaves, each block given as its root only.
    for start, height in ((0, 6), (64, 5), (96, 2)):
        probe = tree.copy()
        tree.append_subtree(rfc_mth(hashes[start:start + (1 << height)]), height)
        assert probe.size == start  # the copy did not move
        assert tree.size == start + (1 << height)
        assert tree.root() == rfc_mth(hashes[:tree.size])
    with pytest.raises(ValueError, match="not aligned"):
        tree.append_subtree(hashes[0], 3)  # 100 is not a multiple of 8


def test_tree_levels_give_every_prefix_root_and_refuse_unaligned_ranges() -> None:
    hashes = leaves(70)
    tree = TreeLevels(hashes)
    assert tree.size == 70
    assert tree.root(0) == hashlib.sha256(b"").digest()
    for n in range(1, 71):
        assert tree.root(n) == rfc_mth(hashes[:n])
    assert tree.mth(64, 70) == rfc_mth(hashes[64:70])
    assert tree.leaf(5) == hashes[5]
    with pytest.raises(ValueError, match="not aligned"):
        tree.mth(3, 7)  # a block of 4 starting at 3
    with pytest.raises(ValueError, match="32 bytes"):
        TreeLevels(b"x" * 33)


def test_every_inclusion_proof_in_every_tree_up_to_64() -> None:
    hashes = leaves(64)
    for n in range(1, 65):
        root = root_of(hashes[:n])
        for m in range(n):
            path = inclusion_proof(hashes[:n], m)
            assert rfc_verify_inclusion(m, n, hashes[m], path, root), (m, n)
            assert verify_inclusion(hashes[m], m, n, path, root), (m, n)


def test_every_consistency_proof_between_trees_up_to_64() -> None:
    hashes = leaves(64)
    roots = [root_of(hashes[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(1, n + 1):
            proof = consistency_proof(hashes[:n], m)
            if m == n:
                assert proof == []
            else:
                assert rfc_verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)


def _tamperings(proof: list[bytes]) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    for i in range(len(proof)):
        flipped = bytearray(proof[i])
        flipped[0] ^= 1
        out.append([*proof[:i], bytes(flipped), *proof[i + 1:]])
    if proof:
        out.append(proof[:-1])
    out.append([*proof, b"\x00" * 32])
    if len(proof) > 1:
        out.append(proof[::-1])
    return out


def test_tampered_inclusion_proofs_are_rejected() -> None:
    hashes = leaves(21)
    root = root_of(hashes)
    for m in range(21):
        path = inclusion_proof(hashes, m)
        for bad in _tamperings(path):
            if bad == path:
                continue
            assert not verify_inclusion(hashes[m], m, 21, bad, root)
            assert not rfc_verify_inclusion(m, 21, hashes[m], bad, root)
        # The right path for another leaf, index, size or root proves nothing.
        other = hashes[(m + 1) % 21]
        assert not verify_inclusion(other, m, 21, path, root)
        assert not verify_inclusion(hashes[m], (m + 1) % 21, 21, path, root)
        assert not verify_inclusion(hashes[m], m, 42, path, root)
        assert not verify_inclusion(hashes[m], m, 21, path, hashes[0])
    assert not verify_inclusion(hashes[0], 21, 21, [], root)
    assert not verify_inclusion(hashes[0], -1, 21, [], root)


def test_tampered_consistency_proofs_are_rejected() -> None:
    hashes = leaves(37)
    roots = [root_of(hashes[:n]) for n in range(38)]
    for m in range(1, 37):
        proof = consistency_proof(hashes, m)
        for bad in _tamperings(proof):
            if bad == proof:
                continue
            assert not verify_consistency(m, 37, roots[m], roots[37], bad), m
            assert not rfc_verify_consistency(m, 37, roots[m], roots[37], bad), m
        assert not verify_consistency(m, 37, roots[m + 1], roots[37], proof)
        assert not verify_consistency(m, 37, roots[m], roots[36], proof)
    assert not verify_consistency(5, 5, roots[5], roots[4], [])
    assert not verify_consistency(0, 5, roots[0], roots[5], [])
    assert not verify_consistency(6, 5, roots[6], roots[5], [])


def test_proof_generation_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(leaves(3), 3)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(leaves(3), 0)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(leaves(3), 4)
