"""Ledger tiles: stored roots of blocks of 256 leaves, and proofs read from them."""

from __future__ import annotations

import hashlib
import uuid
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.checkpoint import (
    StoredCheckpoint,
    check_checkpoint,
    newest_checkpoint,
    store_checkpoint,
    write_checkpoint,
)
from docmgmt.ledger.devkeys import Pkcs12NoteSigner, PyHankoNoteTimestamper, dev_system_keys
from docmgmt.ledger.merkle import TreeLevels, consistency_proof, inclusion_proof
from docmgmt.ledger.proofs import ProofRequestError, prove_consistency, prove_inclusion
from docmgmt.ledger.stored_tree import (
    TILE,
    Frontier,
    StoredTree,
    TiledTree,
    extend_tiles,
    read_leaves,
    read_proving,
    read_tiled,
    read_tree,
)
from tests.ledger.ledger_support import catch_up, fill, tamper

pytestmark = pytest.mark.postgres

LEAVES = 5 * TILE + 37
# Positions with holes, as rolled-back inserts leave them.
POSITIONS = [1 + i + i // 7 * 3 for i in range(LEAVES)]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory,
         ) -> tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]:
    """The development system key and TSA."""
    signer, stamper, _ = dev_system_keys(Path(tmp_path_factory.mktemp("pki")))
    return signer, stamper


def _hash(position: int) -> bytes:
    return hashlib.sha256(b"\x00leaf %d" % position).digest()


def _append_leaves(db: Database, positions: list[int]) -> None:
    """Leaves as the worker appends them (their hashes made up: only the tree matters)."""
    with psycopg.connect(db.app.conninfo()) as conn, conn.cursor().copy(
            "COPY docmgmt.ledger_leaves (position, originator_id, originator_version,"
            " leaf_hash) FROM STDIN") as copy:
        for p in positions:
            copy.write_row((p, uuid.uuid5(uuid.NAMESPACE_OID, str(p % 11)), p, _hash(p)))


@pytest.fixture
def leaves(database: Database) -> Iterator[Database]:
    """A ledger of LEAVES leaves, and no tile yet."""
    _append_leaves(database, POSITIONS)
    return database


def _tiles(db: Database) -> list[tuple[int, int, int, bytes]]:
    with psycopg.connect(db.app.conninfo()) as conn:
        return [(t, f, last, bytes(r)) for t, f, last, r in conn.execute(
            "SELECT tile, first_position, last_position, root FROM docmgmt.ledger_tiles"
            " ORDER BY tile")]


def _expected_tiles(count: int) -> list[tuple[int, int, int, bytes]]:
    return [(k, POSITIONS[k * TILE], POSITIONS[k * TILE + TILE - 1],
             TreeLevels([_hash(p) for p in POSITIONS[k * TILE:(k + 1) * TILE]]).root())
            for k in range(count)]


def test_checkpoints_store_the_tiles_of_the_blocks_they_complete(
        leaves: Database, keys: tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]) -> None:
    """From scratch and from the previous checkpoint's frontier, whatever the sizes."""
    conninfo = leaves.app.conninfo()
    cp = write_checkpoint(conninfo, *keys)  # every leaf: 5 blocks complete
    assert cp is not None
    assert cp.tree_size == LEAVES
    assert _tiles(leaves) == _expected_tiles(5)
    more = [POSITIONS[-1] + 2 + i for i in range(2 * TILE)]
    _append_leaves(leaves, more[:100])
    assert write_checkpoint(conninfo, *keys, frontier=cp.frontier) is not None
    assert len(_tiles(leaves)) == 5  # 137 leaves after the fifth block: none complete
    POSITIONS.extend(more[:100])
    try:
        _append_leaves(leaves, more[100:])
        POSITIONS.extend(more[100:])
        assert write_checkpoint(conninfo, *keys) is not None
        assert _tiles(leaves) == _expected_tiles(LEAVES // TILE + 2)
        # Asked again, nothing is added; the application cannot change a tile.
        with psycopg.connect(conninfo) as conn:
            assert extend_tiles(conn, len(POSITIONS)) == 0
            for statement in ("UPDATE docmgmt.ledger_tiles SET root = root",
                              "DELETE FROM docmgmt.ledger_tiles"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(statement)
    finally:
        del POSITIONS[LEAVES:]


def test_proofs_from_the_tiles_are_those_from_every_leaf(leaves: Database) -> None:
    """Every inclusion proof, and the consistency proofs between sizes, at sizes on and
    around block boundaries."""
    with psycopg.connect(leaves.app.conninfo()) as conn:
        assert extend_tiles(conn, LEAVES) == 5
        for size in (1, TILE - 1, TILE, TILE + 1, 3 * TILE, 4 * TILE + 200, LEAVES):
            full = read_tree(conn, size)
            tiled = read_tiled(conn, size)
            assert tiled is not None
            assert tiled.root() == full.tree.root()
            assert tiled.last_position == full.last_position == POSITIONS[size - 1]
            assert tiled.load(conn, POSITIONS[:size])
            for i, p in enumerate(POSITIONS[:size]):
                assert tiled.index_of(p) == i
                assert tiled.leaf(i) == full.tree.leaf(i)
                assert inclusion_proof(tiled, i) == inclusion_proof(full.tree, i), (size, i)
            assert tiled.index_of(POSITIONS[size - 1] + 1) is None
            for first in (1, TILE, TILE + 5, size):
                if first <= size:
                    assert consistency_proof(tiled, first) == consistency_proof(full.tree, first)


def test_a_tiled_tree_reads_only_the_blocks_asked_for(leaves: Database) -> None:
    with psycopg.connect(leaves.app.conninfo()) as conn:
        extend_tiles(conn, LEAVES)
        tiled = read_tiled(conn, LEAVES)
        assert tiled is not None
        wanted = POSITIONS[2 * TILE + 17]
        assert tiled.load(conn, [wanted])
        assert tiled.index_of(wanted) == 2 * TILE + 17
        assert inclusion_proof(tiled, 2 * TILE + 17) == inclusion_proof(
            read_tree(conn, LEAVES).tree, 2 * TILE + 17)
        with pytest.raises(LookupError):
            tiled.index_of(POSITIONS[TILE])  # block 1 was not read
        with pytest.raises(LookupError):
            inclusion_proof(tiled, TILE)


def test_a_missing_or_wrong_tile_or_leaf_costs_time_not_a_wrong_proof(
        leaves: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Tiles that do not add up to the signed root, or a block that does not give its
    tile, are not used: every leaf is read, and the caller's root check names damage."""
    conninfo = leaves.app.conninfo()
    with psycopg.connect(conninfo) as conn:
        extend_tiles(conn, LEAVES)
        root = read_tree(conn, LEAVES).tree.root()
        every = lambda last: POSITIONS  # noqa: E731
        assert isinstance(read_proving(conn, LEAVES, root, every), TiledTree)
        assert isinstance(read_proving(conn, LEAVES, bytes(32), every), StoredTree)
    # A wrong tile root: the tiles no longer give the signed root.
    tamper(leaves, "UPDATE docmgmt.ledger_tiles SET root = sha256(root) WHERE tile = 3")
    with psycopg.connect(conninfo) as conn:
        assert isinstance(read_proving(conn, LEAVES, root, every), StoredTree)
    assert caplog.messages[-1].startswith(
        f"ledger tiles not used for the checkpoint at tree size {LEAVES}: the tiles do not"
        " give its root; every leaf is read instead")
    # A missing tile (and the later ones kept): not a run of tiles from 0.
    tamper(leaves, "DELETE FROM docmgmt.ledger_tiles WHERE tile = 3")
    with psycopg.connect(conninfo) as conn:
        assert read_tiled(conn, LEAVES) is None
        assert isinstance(read_proving(conn, LEAVES, root, every), StoredTree)
        # The next checkpoint's pass adds none behind a hole; the tiles are read again
        # only once the hole is filled.
        assert extend_tiles(conn, LEAVES) == 0
    tamper(leaves, "DELETE FROM docmgmt.ledger_tiles WHERE tile >= 3")
    with psycopg.connect(conninfo) as conn:
        assert extend_tiles(conn, LEAVES) == 2
        assert isinstance(read_proving(conn, LEAVES, root, every), TiledTree)
    # An altered leaf in a block: that block no longer gives its tile's root.
    tamper(leaves, f"UPDATE docmgmt.ledger_leaves SET leaf_hash = sha256(leaf_hash)"
                   f" WHERE position = {POSITIONS[TILE + 3]}")
    with psycopg.connect(conninfo) as conn:
        tiled = read_tiled(conn, LEAVES)
        assert tiled is not None
        assert tiled.root() == root
        assert not tiled.load(conn, [POSITIONS[TILE + 3]])
        assert tiled.load(conn, [POSITIONS[3 * TILE]])  # another block is intact
        stored = read_proving(conn, LEAVES, root, every)
        assert "a block of leaves does not give its tile's root" in caplog.messages[-1]
        assert isinstance(stored, StoredTree)
        assert stored.tree.root() != root


def _checkpoint(db: Database, size: int, root: bytes) -> None:
    """A checkpoint row (only its size and root matter here)."""
    with psycopg.connect(db.app.conninfo()) as conn:
        conn.execute("INSERT INTO docmgmt.ledger_checkpoints (tree_size, root_hash,"
                     " created_at) VALUES (%s, %s, now())", (size, root))


def test_api_proofs_come_from_tiles_a_checkpoint_vouches_for(
        leaves: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inclusion and consistency proofs at any size read the tiles once the nearest signed
    checkpoint (at or above the size, else below) gets its root from them; the same
    answers as from every leaf, which is read only when no checkpoint vouches."""
    conninfo = leaves.app.conninfo()
    with psycopg.connect(conninfo) as conn:
        full = read_tree(conn).tree
        extend_tiles(conn, 4 * TILE + 10)  # tiles 0..3: the last checkpoint's
    expected = {}
    sizes = (1, 300, 2 * TILE, 4 * TILE + 10, LEAVES)
    for size in sizes:
        for i in sorted({0, size // 2, size - 1}):
            expected[i, size] = inclusion_proof(TreeLevels([full.leaf(j) for j in range(size)]), i)
    _checkpoint(leaves, 300, full.root(300))
    _checkpoint(leaves, 4 * TILE + 10, full.root(4 * TILE + 10))

    def answers() -> dict[tuple[int, int], list[bytes]]:
        return {(i, size): [bytes.fromhex(h) for h in prove_inclusion(
            conninfo, POSITIONS[i], size)["inclusion_path"]] for i, size in expected}

    with monkeypatch.context() as patched:
        patched.setattr("docmgmt.ledger.proofs.read_tree", _every_leaf)
        assert answers() == expected
        # A size past the last leaf is refused without reading every leaf.
        with pytest.raises(ProofRequestError, match=f"holds {LEAVES} leaves, not {LEAVES + 5}"):
            prove_inclusion(conninfo, POSITIONS[0], LEAVES + 5)
        pairs = [(1, 300), (TILE + 5, 2 * TILE), (300, LEAVES), (7, 4 * TILE + 10),
                 *((first, second) for second in (3 * TILE - 1, LEAVES)
                   for first in range(1, second + 1, 61))]
        for first, second in pairs:
            proof = prove_consistency(conninfo, first, second)
            assert proof["consistency_path"] == [
                p.hex() for p in consistency_proof(
                    TreeLevels([full.leaf(j) for j in range(second)]), first)]
        # A tile past the newest checkpoint is not vouched for: it is never read.
        with psycopg.connect(conninfo) as conn:
            assert extend_tiles(conn, LEAVES) == 1
        tamper(leaves, "UPDATE docmgmt.ledger_tiles SET root = sha256(root) WHERE tile = 4")
        assert answers() == expected
    # A checkpoint that the tiles do not give: every leaf is read, the answers the same.
    tamper(leaves, "UPDATE docmgmt.ledger_tiles SET root = sha256(root) WHERE tile = 1")
    with monkeypatch.context() as patched:
        patched.setattr("docmgmt.ledger.proofs.read_tree", _every_leaf)
        with pytest.raises(AssertionError, match="every leaf"):
            prove_inclusion(conninfo, POSITIONS[5], 2 * TILE)  # tiles 0 and 1 used
        prove_inclusion(conninfo, POSITIONS[5], 300)  # tile 0 only: still from tiles
    assert answers() == expected


def _every_leaf(*_: object) -> None:
    raise AssertionError("every leaf was read")


def test_tiles_over_a_long_ledger_are_computed_a_chunk_at_a_time(
        leaves: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first checkpoint after the upgrade reads the leaves a chunk at a time (here
    two blocks), and stores the same tiles."""
    monkeypatch.setattr("docmgmt.ledger.stored_tree.CHUNK", 2 * TILE)
    asked: list[int | None] = []

    def read(conn: psycopg.Connection[Any], size: int | None = None,
             after: int = -(1 << 63)) -> tuple[array[int], bytes]:
        asked.append(size)
        return read_leaves(conn, size, after)

    monkeypatch.setattr("docmgmt.ledger.stored_tree.read_leaves", read)
    with psycopg.connect(leaves.app.conninfo()) as conn:
        assert extend_tiles(conn, 3 * TILE + 1) == 3
        assert extend_tiles(conn, LEAVES) == 2
    assert _tiles(leaves) == _expected_tiles(5)
    assert asked == [2 * TILE, TILE, 2 * TILE]


def _newest(conninfo: str) -> StoredCheckpoint:
    with psycopg.connect(conninfo) as conn:
        row = newest_checkpoint(conn)
    assert row is not None
    return StoredCheckpoint(*row)


def test_a_checkpoint_without_a_frontier_resumes_from_its_own_last_one(
        database: Database, keys: tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A checkpoint made without the previous one's frontier (the command, a bundle that
    needs one now, a restarted scheduler) reads the tiles and the state rows as of the
    newest checkpoint, once that checkpoint is this key's, holds up and gets its roots
    from them; the roots it signs are those of every leaf. Otherwise every leaf is read."""
    conninfo = database.app.conninfo()
    other_signer, other_stamper, _ = dev_system_keys(tmp_path / "other")
    other_keys = (other_signer, other_stamper)
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        fill(app, "RSA", documents=25, comments=10)
        catch_up(database, app)
        assert write_checkpoint(conninfo, *keys) is not None  # from every leaf: no tile yet

        def more(code: str) -> None:
            fill(app, code, documents=3, comments=2)
            catch_up(database, app)

        def truth() -> tuple[int, bytes, tuple[int, bytes]]:
            with psycopg.connect(conninfo) as conn, conn.transaction():
                tree = Frontier.empty().advanced(conn)
            return tree.tree.size, tree.tree.root(), (tree.states.size, tree.states.root())

        def from_scratch() -> Frontier:
            raise AssertionError("every leaf was read")

        def every_leaf_is_read() -> None:
            with monkeypatch.context() as patched:
                patched.setattr(Frontier, "empty", from_scratch)
                with pytest.raises(AssertionError, match="every leaf"):
                    write_checkpoint(conninfo, *keys)
            cp = write_checkpoint(conninfo, *keys)
            assert cp is not None
            assert (cp.tree_size, cp.root_hash, cp.state) == truth()

        more("RSB")
        with monkeypatch.context() as patched:
            patched.setattr(Frontier, "empty", from_scratch)
            cp = write_checkpoint(conninfo, *keys)
        assert cp is not None
        assert (cp.tree_size, cp.root_hash, cp.state) == truth()
        # A forged newest checkpoint, unsigned, whose root a forged tile gives (and its
        # state the true one): it is not this key's signature, so every leaf is read.
        more("RSC")
        tamper(database, "UPDATE docmgmt.ledger_tiles SET root = sha256(root) WHERE tile = 0")
        size, _, state = truth()
        with psycopg.connect(conninfo) as conn:
            forged = read_tiled(conn, size)
            assert forged is not None
            conn.execute("INSERT INTO docmgmt.ledger_checkpoints (tree_size, root_hash,"
                         " created_at, state_entries, state_root) VALUES (%s, %s, now(),"
                         " %s, %s)", (size, forged.root(), *state))
        more("RSD")
        every_leaf_is_read()
        # The same forgery signed and timestamped, but by another key: every leaf is read.
        more("RSF")
        size, _, state = truth()
        with psycopg.connect(conninfo) as conn:
            forged = read_tiled(conn, size)
            assert forged is not None
            store_checkpoint(conn, *other_keys, size, forged.root(), datetime.now(UTC),
                             state=state)
        assert check_checkpoint(_newest(conninfo)).problem is None  # it holds up
        more("RSG")
        every_leaf_is_read()
        # Its own checkpoint now, but the wrong tile is under it: every leaf is read.
        more("RSE")
        every_leaf_is_read()
    finally:
        app.close()
