"""Refusals in the signing chain, with the production key registry over the test PKI:
an unusable key, or a step out of order, is refused precisely and records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from docmgmt.domain.common import SigningCapacity
from docmgmt.domain.errors import DomainError, InvalidStateError, PermissionDeniedError
from docmgmt.outgoing import approval, numbering, sealing
from docmgmt.outgoing.signing import sign
from signing.errors import (
    SignerCertificateExpiredError,
    SignerCertificateRevokedError,
    SignerCertificateUntrustedError,
)
from tests.api.conftest import PASSWORD, Api, make_city, served_api
from tests.api.support import stored
from tests.signing.conftest import PkiFixture
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster
from tests.workflow.conftest import Desk, KeysFile


def snapshot(desk: Desk, doc: UUID) -> dict[str, Any]:
    """Everything a refused command must leave as it was."""
    document = desk.document(doc)
    spool = desk.write.settings.spool_dir
    return {
        "version": document.version,
        "status": document.status.value,
        "events": desk.event_types(doc),
        "event_rows": desk.event_rows(),
        "blobs": desk.blob_keys(),
        "spool": sorted(str(p) for p in spool.rglob("*")) if spool.exists() else [],
    }


@contextmanager
def refused(desk: Desk, doc: UUID, error: type[DomainError], code: str) -> Iterator[None]:
    """The block raises ``error`` with ``code``, and nothing about the document changes."""
    before = snapshot(desk, doc)
    with pytest.raises(error) as caught:
        yield
    assert caught.value.code == code, caught.value
    assert snapshot(desk, doc) == before


UNUSABLE_KEYS = [
    ("leader_revoked", SignerCertificateRevokedError, "signer_certificate_revoked",
     "revoked on 2025-01-01"),
    ("leader_expired", SignerCertificateExpiredError, "signer_certificate_expired",
     "expired on 2024-01-01"),
    ("leader_untrusted", SignerCertificateUntrustedError, "signer_certificate_untrusted",
     "does not chain to a configured trust root"),
]


@pytest.mark.parametrize(("leader", "error", "code", "why"), UNUSABLE_KEYS,
                         ids=["revoked", "expired", "untrusted"])
def test_leader_with_an_unusable_key_cannot_sign(
    test_pki_desk: Desk, leader: str, error: type[DomainError], code: str, why: str
) -> None:
    desk = test_pki_desk
    # The official drafts a letter and the leader whose key is unusable approves it.
    doc = desk.draft("Công văn về việc ký thử")
    approval.submit(desk.outgoing, desk["official"], doc, "Kính trình", None)
    approval.approve(desk.outgoing, desk[leader], doc, "Đồng ý", None)
    # Signing is refused with the precise reason, and nothing is recorded or stored.
    before = snapshot(desk, doc)
    with pytest.raises(error, match=why) as caught:
        sign(desk.outgoing, desk[leader], doc, SigningCapacity.OWN, "", None)
    assert caught.value.code == code
    assert snapshot(desk, doc) == before
    assert desk.document(doc).status.value == "approved"
    assert "Signed" not in desk.event_types(doc)


def test_good_leader_signs_numbers_and_seals_at_b_lt(
    test_pki_desk: Desk, test_pki: PkiFixture
) -> None:
    desk = test_pki_desk
    # The leader approves and signs KT. with a key from the keys file.
    doc = desk.approved("Công văn về việc triển khai")
    sign(desk.outgoing, desk["leader"], doc, SigningCapacity.KT, "Giám đốc", None)
    # The clerk numbers the letter and applies the agency's seal key.
    numbering.number(desk.outgoing, desk["clerk"], doc, None)
    sealing.seal(desk.outgoing, desk["clerk"], doc, None)
    assert desk.document(doc).status.value == "sealed"
    assert desk.event_types(doc)[-3:] == ["Signed", "Numbered", "Sealed"]

    # Both signatures are valid and trusted, and the PDF carries revocation information,
    # so they can be checked without the network (PAdES B-LT).
    report = desk.validate(doc)
    assert report["bottom_line"] == "valid"
    assert report["dss_ocsp_responses"] + report["dss_crls"] > 0
    leader, seal = report["signatures"]
    assert (leader["field_name"], seal["field_name"]) == ("lanh_dao", "con_dau")
    assert leader["signer_fingerprint"] == test_pki.cert("leader").sha256.hex()
    assert seal["signer_fingerprint"] == test_pki.cert("seal").sha256.hex()
    for signature in (leader, seal):
        assert signature["bottom_line"] == "valid", signature
        assert signature["revocation"] == "good"
        assert signature["pades_level"] == "B-LT"
    assert leader["reason"] == "KT. GIÁM ĐỐC"
    # The signing and sealing events say which certificate signed, at which level.
    history = desk.write.app.history(doc)
    signed, sealed = history[-3].payload, history[-1].payload
    assert signed["signature"]["level"] == "B-LT"
    assert signed["signature"]["certificate"]["fingerprint_sha256"] == \
        test_pki.cert("leader").sha256.hex()
    assert sealed["signature"]["certificate"]["fingerprint_sha256"] == \
        test_pki.cert("seal").sha256.hex()


def test_steps_out_of_order_are_refused_and_record_nothing(test_pki_desk: Desk) -> None:
    desk = test_pki_desk
    out, official, leader, clerk = (desk.outgoing, desk["official"], desk["leader"],
                                    desk["clerk"])
    doc = desk.draft("Công văn về việc thử thứ tự")
    # Nothing can be sealed, numbered or signed while it is a draft.
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        sealing.seal(out, clerk, doc, None)
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        numbering.number(out, clerk, doc, None)
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        sign(out, leader, doc, SigningCapacity.OWN, "", None)
    # Submitted but not yet approved: still nothing to sign, and an official cannot approve.
    approval.submit(out, official, doc, "Kính trình", None)
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        sign(out, leader, doc, SigningCapacity.OWN, "", None)
    with refused(desk, doc, PermissionDeniedError, "permission_denied"):
        approval.approve(out, official, doc, "Tự duyệt", None)
    # Approved: a clerk cannot sign as the leader, and there is still nothing to seal.
    approval.approve(out, leader, doc, "Đồng ý", None)
    with refused(desk, doc, PermissionDeniedError, "permission_denied"):
        sign(out, clerk, doc, SigningCapacity.OWN, "", None)
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        sealing.seal(out, clerk, doc, None)
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        numbering.number(out, clerk, doc, None)
    # Signed: the seal still waits for the number.
    sign(out, leader, doc, SigningCapacity.OWN, "", None)
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        sealing.seal(out, clerk, doc, None)
    # And a leader cannot number or seal (the clerk's duties).
    with refused(desk, doc, PermissionDeniedError, "permission_denied"):
        numbering.number(out, leader, doc, None)
    assert desk.event_types(doc) == ["Drafted", "SubmittedForApproval", "Approved",
                                     "SignatureRequested", "SignatureProvided", "Signed"]


def test_numbering_a_numbered_document_again_is_refused_and_stores_nothing(
    test_pki_desk: Desk
) -> None:
    desk = test_pki_desk
    doc = desk.approved("Công văn đã có số")
    sign(desk.outgoing, desk["leader"], doc, SigningCapacity.OWN, "", None)
    numbering.number(desk.outgoing, desk["clerk"], doc, None)
    # The clerk (or a double click) asks for a number again.
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        numbering.number(desk.outgoing, desk["clerk"], doc, None)
    assert desk.register(desk.document(doc).registration.year).last_number == 1  # type: ignore[union-attr]


def test_sealing_a_sealed_document_again_is_refused_and_stores_nothing(
    test_pki_desk: Desk
) -> None:
    desk = test_pki_desk
    doc = desk.approved("Công văn đã đóng dấu")
    sign(desk.outgoing, desk["leader"], doc, SigningCapacity.OWN, "", None)
    numbering.number(desk.outgoing, desk["clerk"], doc, None)
    sealing.seal(desk.outgoing, desk["clerk"], doc, None)
    # The clerk asks for the seal again.
    with refused(desk, doc, InvalidStateError, "invalid_state"):
        sealing.seal(desk.outgoing, desk["clerk"], doc, None)


# --- over HTTP ---------------------------------------------------------------------------


def _approved_over_http(official: httpx.Client, leader: httpx.Client, summary: str) -> str:
    r = official.post("/documents", data={"summary": summary, "doc_type": "CV"},
                      files={"file": ("cv.pdf", make_pdf(1, text=summary), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = str(r.json()["id"])
    assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
    assert leader.post(f"/documents/{doc}/approve", json={}).status_code == 200
    return doc


def test_api_answers_422_with_the_reason_and_stores_nothing(
    pg_cluster: Cluster, tmp_path: Path, keys_file: KeysFile
) -> None:
    with served_api(pg_cluster, tmp_path / "data", keys_file=keys_file.path) as api:
        city = make_city(api)
        admin = api.client("root")
        for username, *_ in UNUSABLE_KEYS:
            r = admin.post("/users", json={
                "username": username, "full_name": username, "password": PASSWORD,
                "roles": ["leader"], "agency_id": city["SOA"]})
            assert r.status_code == 201, r.text
        _refusals_over_http(api)


def _refusals_over_http(api: Api) -> None:
    official = api.client("official_a")
    for username, _error, code, why in UNUSABLE_KEYS:
        leader = api.client(username)
        doc = _approved_over_http(official, leader, f"Công văn ký thử ({username})")
        before = stored(api)
        # The leader with an unusable key tries to sign.
        r = leader.post(f"/documents/{doc}/sign", json={})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == code
        assert why in r.json()["detail"]
        # Nothing was recorded or stored, and the document still awaits a signature.
        assert stored(api) == before
        assert official.get(f"/documents/{doc}").json()["status"] == "approved"
