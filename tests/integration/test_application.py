"""Use cases end to end on the write side, on in-memory persistence and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid

import pytest

from docmgmt.domain.common import DocumentType, Role
from docmgmt.domain.errors import (
    AlreadyExistsError,
    DocumentNotFoundError,
    EncryptedPdfError,
    FileTooLargeError,
    NotAPdfError,
    PermissionDeniedError,
    StaleVersionError,
)
from docmgmt.identity import agencies, users
from docmgmt.identity.login import InvalidCredentialsError, authenticate
from docmgmt.identity.users import NewUser
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import ConcurrentWriteError
from docmgmt.outgoing import approval, drafting
from docmgmt.outgoing.context import load_document
from docmgmt.outgoing.drafting import DraftRequest
from tests.integration.conftest import System
from tests.support import outgoing as outgoing_store
from tests.support.pdfs import make_pdf

PASSWORD = "mật-khẩu-đủ-dài"


def principal(system: System, username: str) -> Principal:
    user = system.app.find_user(username)
    return Principal(user.id, user.username, user.agency_id, user.unit_id,
                     frozenset(map(Role, user.roles)), "127.0.0.1", "pytest", "r")


@pytest.fixture
def city(system: System) -> dict[str, Principal]:
    """Agency A (official, leader, clerk) and agency B (official), made by an admin."""
    users.bootstrap_admin(system.identity, "root", PASSWORD, "Root", "ADMIN", "Quản trị")
    admin = principal(system, "root")
    a = agencies.register_agency(system.app, admin, "SOA", "Sở A", None).id
    b = agencies.register_agency(system.app, admin, "SOB", "Sở B", None).id
    for name, agency, role in [("official_a", a, Role.OFFICIAL), ("leader_a", a, Role.LEADER),
                               ("clerk_a", a, Role.CLERK), ("official_b", b, Role.OFFICIAL)]:
        users.create_user(system.identity, admin, NewUser(name, name, PASSWORD, [role], agency))
    return {n: principal(system, n) for n in
            ["root", "official_a", "leader_a", "clerk_a", "official_b"]}


def draft(system: System, who: Principal, pdf: bytes | None = None) -> uuid.UUID:
    meta = DraftRequest(summary="Về việc thử nghiệm", doc_type=DocumentType.TO_TRINH)
    stream = io.BytesIO(pdf or make_pdf(1))
    return drafting.create_draft(system.outgoing, who, meta, stream, "a.pdf").id


def test_draft_revise_comment_download_and_history(
    system: System, city: dict[str, Principal]
) -> None:
    official, leader = city["official_a"], city["leader_a"]
    # The official drafts with a two-page PDF.
    v1 = make_pdf(2, text="v1")
    doc_id = draft(system, official, v1)
    # She uploads a corrected revision, expecting version 1.
    v2 = make_pdf(3, text="v2")
    result = drafting.upload_revision(system.outgoing, official, doc_id, io.BytesIO(v2),
                                      "b.pdf", "sửa lỗi chính tả", 1)
    assert result.version == 2
    # The leader comments and downloads revision 1.
    drafting.comment(system.outgoing, leader, doc_id, "Đồng ý về nội dung", 2)
    with drafting.download(system.outgoing, leader, doc_id, 1) as (number, file, fh):
        assert fh.read() == v1
        assert (number, file.sha256) == (1, hashlib.sha256(v1).hexdigest())
    # The history says who did what, in order.
    history = drafting.history(system.outgoing, official, doc_id)
    assert [h.type for h in history] == [
        "OutgoingDocument.Drafted", "OutgoingDocument.RevisionUploaded",
        "OutgoingDocument.Commented", "AccessLog.Viewed",
    ]
    assert [h.actor["username"] for h in history] == ["official_a", "official_a",
                                                      "leader_a", "leader_a"]
    assert history[1].payload["file"]["page_count"] == 3
    assert history[3].payload == {"document_id": doc_id, "revision": 1, "purpose": "download",
                                  "sha256": hashlib.sha256(v1).hexdigest()}
    doc = system.app.get_document(doc_id)
    assert [r.file.sha256 for r in doc.revisions] == [
        hashlib.sha256(v1).hexdigest(), hashlib.sha256(v2).hexdigest()]


def test_other_agency_and_wrong_roles_are_refused(
    system: System, city: dict[str, Principal]
) -> None:
    doc_id = draft(system, city["official_a"])
    version = system.app.get_document(doc_id).version
    with pytest.raises(DocumentNotFoundError):
        load_document(system.outgoing, city["official_b"], doc_id)
    with pytest.raises(DocumentNotFoundError):
        drafting.comment(system.outgoing, city["official_b"], doc_id, "xin chào", None)
    with pytest.raises(PermissionDeniedError):
        draft(system, city["clerk_a"])
    with pytest.raises(PermissionDeniedError):
        load_document(system.outgoing, city["root"], doc_id)
    assert system.app.get_document(doc_id).version == version


def test_stale_version_is_refused_and_stores_nothing(
    system: System, city: dict[str, Principal]
) -> None:
    doc_id = draft(system, city["official_a"])
    drafting.comment(system.outgoing, city["leader_a"], doc_id, "góp ý 1", 1)
    blobs_before = sorted(b.key for b in system.blobs.iter_blobs())
    with pytest.raises(StaleVersionError):
        drafting.upload_revision(system.outgoing, city["official_a"], doc_id,
                                 io.BytesIO(make_pdf(1, text="late")), "c.pdf", "", 1)
    with pytest.raises(StaleVersionError):
        drafting.comment(system.outgoing, city["leader_a"], doc_id, "góp ý 2", 1)
    assert sorted(b.key for b in system.blobs.iter_blobs()) == blobs_before
    assert system.app.get_document(doc_id).version == 2


@pytest.mark.parametrize(("payload", "error"), [
    (b"just text", NotAPdfError),
    (make_pdf(1, password="pw"), EncryptedPdfError),
    (b"%PDF-1.7\n" + b"\0" * (3 * 1024 * 1024), FileTooLargeError),
])
def test_rejected_uploads_store_nothing(
    system: System, city: dict[str, Principal], payload: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        draft(system, city["official_a"], payload)
    assert list(system.blobs.iter_blobs()) == []


def test_concurrent_writers_one_wins(system: System, city: dict[str, Principal]) -> None:
    doc_id = draft(system, city["official_a"])
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def write(n: int) -> None:
        barrier.wait()
        try:
            drafting.comment(system.outgoing, city["leader_a"], doc_id, f"góp ý {n}", 1)
            outcomes.append("ok")
        except (StaleVersionError, ConcurrentWriteError):
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["ok"]
    assert system.app.get_document(doc_id).comment_count == 1


def test_login_and_duplicates(system: System, city: dict[str, Principal]) -> None:
    assert authenticate(system.identity, "Official_A", PASSWORD).username == "official_a"
    with pytest.raises(InvalidCredentialsError):
        authenticate(system.identity, "official_a", "wrong password!")
    with pytest.raises(InvalidCredentialsError):
        authenticate(system.identity, "nobody", PASSWORD)
    with pytest.raises(AlreadyExistsError):
        agencies.register_agency(system.app, city["root"], "soa", "Again", None)
    with pytest.raises(AlreadyExistsError):
        users.create_user(system.identity, city["root"], NewUser(
            "official_a", "x", PASSWORD, [Role.OFFICIAL], city["official_a"].agency_id))
    # A deactivated account can no longer log in.
    users.deactivate(system.identity, city["root"], city["official_a"].user_id, "chuyển công tác")
    with pytest.raises(InvalidCredentialsError):
        authenticate(system.identity, "official_a", PASSWORD)


def test_snapshots_rebuild_the_same_document(
    system: System, city: dict[str, Principal]
) -> None:
    official, leader = city["official_a"], city["leader_a"]
    doc_id = draft(system, official)
    drafting.attach_appendix(system.outgoing, official, doc_id,
                             io.BytesIO(make_pdf(1, text="pl")), "pl.pdf", "Phụ lục I", None)
    for n in range(230):
        outgoing_store.comment(system.app, doc_id, f"góp ý {n}", leader.actor)
    approval.submit(system.outgoing, official, doc_id, "", None)
    # Loaded from the snapshot at version 200 plus the events after it...
    snapshot = system.app.snapshots.get(doc_id, desc=True, limit=1)  # type: ignore[union-attr]
    assert [s.originator_version for s in snapshot] == [200]
    from_snapshot = system.app.get_document(doc_id)
    # ...it is the same document as a replay of every event.
    replayed = None
    for event in system.app.events.get(doc_id):
        replayed = event.mutate(replayed)
    assert isinstance(replayed, type(from_snapshot))
    for name in ("status", "doc_type", "urgency", "revisions", "appendices", "comment_count",
                 "registration", "signed_file", "version", "agency_id"):
        assert getattr(from_snapshot, name) == getattr(replayed, name), name
    assert from_snapshot.status is replayed.status
