"""The Decree 30 signing chain over HTTP on the embedded defaults (development PKI)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from typing import Any

import httpx
from pypdf import PdfReader

from docmgmt.ledger.bundle_verify import verify_bundle
from tests.api.conftest import Api
from tests.support.pdfs import make_pdf


def _draft(official: httpx.Client) -> str:
    r = official.post("/documents", data={"summary": "Quyết định ban hành quy chế",
                                          "doc_type": "QĐ"},
                      files={"file": ("qd.pdf", make_pdf(1, text="qd"), "application/pdf")})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_official_drafts_leader_signs_clerk_numbers_and_seals(
    api: Api, city: dict[str, Any]
) -> None:
    official, leader, clerk = (api.client(u) for u in ("official_a", "leader_a", "clerk_a"))
    doc = _draft(official)
    # A separate appendix goes with it.
    r = official.post(f"/documents/{doc}/appendices", data={"title": "Phụ lục I: Quy chế"},
                      files={"file": ("pl1.pdf", make_pdf(2, text="pl1"), "application/pdf")})
    assert r.status_code == 201, r.text
    # Out of order: nothing to seal or number yet, and a clerk cannot sign as leader.
    assert clerk.post(f"/documents/{doc}/seal", json={}).json()["error"] == "invalid_state"
    assert clerk.post(f"/documents/{doc}/sign", json={}).status_code == 403
    # Signing an unapproved draft is refused.
    r = leader.post(f"/documents/{doc}/sign", json={})
    assert (r.status_code, r.json()["error"]) == (409, "invalid_state")
    # The official submits; the leader approves and signs KT. (on behalf of the director).
    assert official.post(f"/documents/{doc}/submit", json={"text": "Kính trình"}).status_code \
        == 200
    assert leader.post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}).status_code == 200
    r = leader.post(f"/documents/{doc}/sign",
                    json={"capacity": "KT", "principal_title": "Giám đốc"})
    assert r.status_code == 200, r.text
    # The clerk numbers it, then seals it.
    r = clerk.post(f"/documents/{doc}/number", json={})
    assert r.status_code == 200, r.text
    r = clerk.post(f"/documents/{doc}/seal", json={})
    assert r.status_code == 200, r.text

    document = official.get(f"/documents/{doc}").json()
    assert document["status"] == "sealed"
    assert document["number"] == 1
    assert document["number_label"] == "01/QĐ-SOA"
    # The final PDF carries two signatures, both intact and trusted; the leader's shows only
    # form filling after it.
    pdf = official.get(f"/documents/{doc}/file")
    assert pdf.status_code == 200
    assert hashlib.sha256(pdf.content).hexdigest() == document["latest_sha256"]
    report = official.post("/validate", files={"file": ("final.pdf", pdf.content)}).json()
    assert report["signature_count"] == 2
    # What the system produces (fields, signatures, appearances) is not active content, and
    # a sealed PDF passes intake again (an agency may re-upload one it received).
    assert report["active_content"] == [], report["active_content"]
    r = official.post("/documents", data={"summary": "Bản sao", "doc_type": "QĐ"},
                      files={"file": ("sealed.pdf", pdf.content, "application/pdf")})
    assert r.status_code == 201, r.text
    leader_sig, seal_sig = report["signatures"]
    assert (leader_sig["field_name"], seal_sig["field_name"]) == ("lanh_dao", "con_dau")
    for sig in (leader_sig, seal_sig):
        assert (sig["intact"], sig["valid"], sig["trusted"]) == (True, True, True), sig
        assert sig["bottom_line"] == "valid", sig
    assert leader_sig["modification_level"] == "FORM_FILLING"
    assert leader_sig["reason"] == "KT. GIÁM ĐỐC"
    assert "DEVELOPMENT" in leader_sig["signer_subject"]
    # The number and date are written into the page's form fields.
    fields = PdfReader(io.BytesIO(pdf.content)).get_fields() or {}
    assert fields["so_van_ban"]["/V"] == "Số: 01/QĐ-SOA"
    assert str(fields["ngay_ban_hanh"]["/V"]).startswith("ngày ")
    # Every step is in the history, naming its input and output digests.
    history = official.get(f"/documents/{doc}/history").json()
    history = [h for h in history if h["type"] != "OutgoingDocument.AppendixAttached"]
    types = [h["type"].split(".")[-1] for h in history]
    assert types[:8] == ["Drafted", "SubmittedForApproval", "Approved", "SignatureRequested",
                         "SignatureProvided", "Signed", "Numbered", "Sealed"]
    signed = history[5]["payload"]
    assert signed["input_sha256"] == history[0]["payload"]["file"]["sha256"]
    assert signed["signature"]["level"] == "B-LT"
    assert len(signed["signature"]["certificate"]["fingerprint_sha256"]) == 64
    sealed = history[7]["payload"]
    assert sealed["input_sha256"] == history[6]["payload"]["file"]["sha256"]
    assert sealed["file"]["sha256"] == document["latest_sha256"]
    # The appendix carries the agency signature, text only, top right of its first page.
    (appendix,) = document["appendices"]
    assert appendix["title"] == "Phụ lục I: Quy chế"
    sealed_appendix = official.get(f"/documents/{doc}/appendices/1/file")
    assert hashlib.sha256(sealed_appendix.content).hexdigest() == appendix["sealed_sha256"]
    report = official.post("/validate", files={"file": ("pl.pdf", sealed_appendix.content)})
    assert report.json()["active_content"] == []
    (appendix_sig,) = report.json()["signatures"]
    assert (appendix_sig["field_name"], appendix_sig["bottom_line"]) == (
        "con_dau_phu_luc", "valid")
    assert history[7]["payload"]["appendices"][0]["sha256"] == appendix["sealed_sha256"]
    # The evidence bundle holds every step's file and report and verifies offline.
    evidence = official.get(f"/documents/{doc}/evidence")
    assert evidence.status_code == 200, evidence.text
    bundle = api.settings.data_dir / "evidence.zip"
    bundle.write_bytes(evidence.content)
    checked = verify_bundle(bundle)
    assert checked.ok, [c for c in checked.checks if not c.ok]
    names = zipfile.ZipFile(bundle).namelist()
    assert f"files/{document['latest_sha256']}.pdf" in names
    assert f"reports/{document['latest_sha256']}.json" in names
    # The HTML report is readable, in Vietnamese and English.
    html = official.get(f"/documents/{doc}/validation", params={"format": "html"})
    assert html.status_code == 200
    # The verdict itself, not a substring that "Không hợp lệ" also contains.
    assert "<p class=valid><strong>Hợp lệ <span class=en>/ Valid</span></strong>" in html.text
    assert re.search(r"Cả \d+ chữ ký đều hợp lệ\.", html.text), html.text
    assert "Không hợp lệ" not in html.text


def test_returned_draft_goes_back_to_the_drafter(api: Api, city: dict[str, Any]) -> None:
    official, leader = api.client("official_a"), api.client("leader_a")
    doc = _draft(official)
    official.post(f"/documents/{doc}/submit", json={})
    r = leader.post(f"/documents/{doc}/return", json={"text": "Sửa lại căn cứ"})
    assert r.status_code == 200
    assert official.get(f"/documents/{doc}").json()["status"] == "returned"
    # A returned draft takes a new revision and can be submitted again.
    r = official.post(f"/documents/{doc}/revisions",
                      files={"file": ("v2.pdf", make_pdf(1, text="v2"), "application/pdf")})
    assert r.status_code == 201
    assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
    # A return needs a reason.
    r = leader.post(f"/documents/{doc}/return", json={"text": " "})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")


def test_validate_any_pdf_without_storing_it(api: Api, city: dict[str, Any]) -> None:
    official = api.client("official_a")
    r = official.post("/validate", files={"file": ("x.pdf", make_pdf(1), "application/pdf")})
    assert r.status_code == 200
    assert r.json()["bottom_line"] == "unsigned"
    r = official.post("/validate", files={"file": ("x.txt", b"hello", "text/plain")})
    assert (r.status_code, r.json()["error"]) == (415, "not_a_pdf")
    assert not (api.settings.blob_dir / "sha256").exists()
