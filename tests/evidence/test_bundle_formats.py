"""Bundles of old (format 1) and new checkpoints; a dispatched, viewed, recalled document."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import psycopg
import pytest

from docmgmt.domain.access import access_log_id
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.bundle import build_bundle
from docmgmt.ledger.bundle_verify import verify_bundle
from docmgmt.ledger.checkpoint import store_checkpoint, write_checkpoint
from docmgmt.ledger.stored_tree import TILE, read_tree
from docmgmt.ledger.systemkeys import system_note_keys
from tests.api.conftest import Api, Logins, make_city
from tests.api.support import drafted, sha256
from tests.evidence.test_evidence_bundle import members, rewrite
from tests.ledger.ledger_support import fill, tamper
from tests.ledger_api.test_ledger_routes import ledger_caught_up
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres


class Blobs:
    """The stored files of the test, by digest."""

    def __init__(self, *pdfs: bytes) -> None:
        self.files = {sha256(p): p for p in pdfs}

    @contextmanager
    def open_verified(self, key: str, digest: str) -> Iterator[BinaryIO]:
        """The file whose SHA-256 is ``digest``."""
        yield io.BytesIO(self.files[digest])


@pytest.fixture(scope="module")
def login(evidence_api: Api) -> Iterator[Logins]:
    """Logged-in clients of the city of ``make_city``."""
    make_city(evidence_api)
    logins = Logins(evidence_api)
    yield logins
    logins.close()


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def test_old_format_bundle_still_verifies_and_new_one_is_proven_complete(
    evidence_api: Api, login: Logins, tmp_path: Path,
) -> None:
    official = login("official_a")
    pdf = make_pdf(3, text="mốc định dạng cũ")
    doc = drafted(official, pdf)
    conninfo = evidence_api.db.app.conninfo()
    keys = system_note_keys(evidence_api.settings)
    assert keys is not None
    # A checkpoint made the way it was before the state tree existed (format 1).
    size = ledger_caught_up(evidence_api)
    with psycopg.connect(conninfo) as conn:
        old = store_checkpoint(conn, *keys, size, read_tree(conn).tree.root(),
                               datetime.now(UTC))
    assert old.state is None
    path = build_bundle(conninfo, uuid.UUID(doc), Blobs(pdf), tmp_path / "old")
    files = members(path)
    assert not [n for n in files if n.startswith("state/")]
    # It verifies as before, and still says plainly what it cannot prove.
    report = verify_bundle(path)
    assert report.ok, report.explain()
    assert "[NOT PROVEN] latest events" in report.explain()
    assert "PROVEN COMPLETE" not in report.explain()
    # A state proof slipped into it is refused: nothing signed could check it.
    forged = rewrite(path, tmp_path / "slipped.zip", lambda f: f.update(
        {f"state/{doc}.json": b'{"present": true}'}))
    assert [c.name for c in verify_bundle(forged).failures] == [f"state state/{doc}.json"]

    # The official comments; the next checkpoint is format 2 and proves the bundle
    # complete. The access log has no event: its absence is proven by its neighbours.
    _ok(official.post(f"/documents/{doc}/comments", json={"text": "Đã rà soát"}), 201)
    ledger_caught_up(evidence_api)
    assert write_checkpoint(conninfo, *keys) is not None
    path = build_bundle(conninfo, uuid.UUID(doc), Blobs(pdf), tmp_path / "new")
    files = members(path)
    log = access_log_id(uuid.UUID(doc))
    assert json.loads(files[f"state/{log}.json"])["present"] is False
    assert json.loads(files[f"state/{doc}.json"])["last_version"] == 2
    report = verify_bundle(path)
    assert report.ok, report.explain()
    assert "PROVEN COMPLETE up to the checkpoint" in report.explain()
    assert f"the signed state tree has no entry for aggregate {log}" in report.explain()


def test_dispatched_viewed_recalled_document_is_proven_complete(
    evidence_api: Api, login: Logins, tmp_path: Path,
) -> None:
    official, leader, clerk = login("official_a"), login("leader_a"), login("clerk_a")
    # Agency A drafts, approves, signs, numbers, seals and sends a plan to agency B.
    doc = drafted(official, make_pdf(1, text="Kế hoạch gửi Sở B"))
    _ok(official.post(f"/documents/{doc}/submit", json={"text": "Kính trình"}))
    _ok(leader.post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}))
    _ok(leader.post(f"/documents/{doc}/sign", json={"principal_title": "Giám đốc"}))
    _ok(clerk.post(f"/documents/{doc}/number", json={}))
    _ok(clerk.post(f"/documents/{doc}/seal", json={}))
    _ok(clerk.post(f"/documents/{doc}/dispatch", json={"recipients": ["SOB"]}))
    # Agency B's copy arrives; the leader opens the signed file; the clerk recalls it.
    wait_until(lambda: {r["code"]: r for r in _ok(clerk.get(
        f"/documents/{doc}/recipients"))["recipients"]}["SOB"]["incoming_id"],
        what="the copy for SOB")
    assert leader.get(f"/documents/{doc}/file").status_code == 200
    _ok(clerk.post(f"/documents/{doc}/recall", json={"reason": "Sai số liệu"}))
    # The leader exports the evidence; the checker passes it offline, complete.
    r = leader.get(f"/documents/{doc}/evidence")
    assert r.status_code == 200, r.text
    path = tmp_path / "recalled.zip"
    path.write_bytes(r.content)
    files = members(path)
    topics = [json.loads(files[n])["topic"].rsplit(".", 1)[-1]
              for n in sorted(files) if n.startswith("events/")]
    assert {"Dispatched", "Recalled"} <= set(topics), topics
    report = verify_bundle(path)
    assert report.ok, report.explain()
    assert "PROVEN COMPLETE up to the checkpoint" in report.explain()
    for aggregate in (doc, str(access_log_id(uuid.UUID(doc)))):
        entry = json.loads(files[f"state/{aggregate}.json"])
        assert entry["present"] is True
        assert f"[PASS] state {aggregate}" in report.explain()
    # Leaving out the recall (the document's newest event) is caught.
    newest = max(n for n in files if n.startswith("events/")
                 and json.loads(files[n])["originator_id"] == doc)

    def drop(f: dict[str, bytes]) -> None:
        f.pop(newest)
        f.pop(newest.replace("events/", "proofs/"))
    report = verify_bundle(rewrite(path, tmp_path / "norecall.zip", drop))
    assert f"state {doc}" in [c.name for c in report.failures]


def test_a_bundle_reads_its_proofs_from_the_tiles_and_survives_a_wrong_tile(
    evidence_api: Api, login: Logins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With more than a block of leaves, the bundle's inclusion proofs come from the
    checkpoint's tiles and the blocks holding the document's events (reading every leaf
    is made to fail); a wrong tile sends it back to every leaf, and it still verifies."""
    official = login("official_a")
    pdf = make_pdf(4, text="văn bản có nhiều sự kiện")
    doc = drafted(official, pdf)
    app = DocMgmt(env=evidence_api.db.app.eventsourcing_env("docmgmt", 2))
    try:  # other agencies' work before and between the document's events
        fill(app, "TILEA", documents=20, comments=12)
        _ok(official.post(f"/documents/{doc}/comments", json={"text": "Ý kiến 1"}), 201)
        fill(app, "TILEB", documents=20, comments=12)
        _ok(official.post(f"/documents/{doc}/comments", json={"text": "Ý kiến 2"}), 201)
    finally:
        app.close()
    size = ledger_caught_up(evidence_api)
    assert size > 2 * TILE
    conninfo = evidence_api.db.app.conninfo()
    keys = system_note_keys(evidence_api.settings)
    assert keys is not None
    assert write_checkpoint(conninfo, *keys) is not None
    with psycopg.connect(conninfo) as conn:
        tiles = conn.execute("SELECT count(*) FROM docmgmt.ledger_tiles").fetchone()
    assert tiles is not None
    assert tiles[0] == size // TILE

    def every_leaf(*_: object) -> None:
        raise AssertionError("every leaf was read")

    with monkeypatch.context() as patched:
        patched.setattr("docmgmt.ledger.bundle.read_tree", every_leaf)
        patched.setattr("docmgmt.ledger.stored_tree.read_tree", every_leaf)
        path = build_bundle(conninfo, uuid.UUID(doc), Blobs(pdf), tmp_path / "tiled")
    report = verify_bundle(path)
    assert report.ok, report.explain()
    assert "PROVEN COMPLETE up to the checkpoint" in report.explain()
    proofs = [json.loads(v) for n, v in members(path).items() if n.startswith("proofs/")]
    assert len({p["leaf_index"] // TILE for p in proofs}) >= 2  # events in several blocks
    tamper(evidence_api.db, "UPDATE docmgmt.ledger_tiles SET root = sha256(root)"
                            " WHERE tile = 0")
    again = build_bundle(conninfo, uuid.UUID(doc), Blobs(pdf), tmp_path / "fallback")
    assert verify_bundle(again).ok
    assert {n: v for n, v in members(again).items() if n.startswith("proofs/")} == {
        n: v for n, v in members(path).items() if n.startswith("proofs/")}
