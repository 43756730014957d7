"""Every PAdES baseline level is produced, embedded correctly and validates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.pades import PadesLevel, SignResult, sign_pdf
from signing.validate import validate_pdf
from tests.signing.conftest import PkiFixture


def _sign(pki: PkiFixture, src: Path, dst: Path, level: PadesLevel) -> SignResult:
    return sign_pdf(src, dst, key=pki.leader, level=level, ctx=pki.ctx, field_name="LanhDao",
                    reason="KT. GIÁM ĐỐC", location="Hà Nội")


@pytest.mark.parametrize("level", list(PadesLevel), ids=str)
def test_each_level_is_signed_and_judged_valid(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path, level: PadesLevel
) -> None:
    # The leader signs at the requested level.
    out = tmp_path / "signed.pdf"
    result = _sign(test_pki, draft_pdf, out, level)

    # The result describes exactly the file written.
    data = out.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert result.level is level
    assert result.certificate.subject.startswith("CN=Nguyễn Văn An,")
    assert result.signing_time.isoformat() == "2025-06-16T10:00:00+07:00"

    # An auditor validates it.
    report = validate_pdf(out, test_pki.ctx)
    assert report.bottom_line == "valid"
    assert report.signature_count == 1
    sig = report.signatures[0]
    assert (sig.field_name, sig.bottom_line, sig.pades_level) == ("LanhDao", "valid", str(level))
    assert sig.intact
    assert sig.valid
    assert sig.trusted
    assert sig.revocation == "good"
    assert sig.reason == "KT. GIÁM ĐỐC"
    assert sig.location == "Hà Nội"
    assert sig.signing_time == "2025-06-16T10:00:00+07:00"
    assert sig.signer_fingerprint == test_pki.leader.info().fingerprint_sha256
    if level is PadesLevel.B_B:
        assert sig.timestamp is None
    else:
        assert sig.timestamp == "2025-06-16T10:00:00+07:00"
        assert sig.timestamp_trusted is True


def test_signature_is_cades_detached_sha256_with_signing_certificate_v2(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signed.pdf"
    _sign(test_pki, draft_pdf, out, PadesLevel.B_T)
    with out.open("rb") as fh:
        sig = PdfFileReader(fh).embedded_regular_signatures[0]
        assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        assert sig.md_algorithm == "sha256"
        signed_attrs = {a["type"].native for a in sig.signer_info["signed_attrs"]}
        assert {"signing_certificate_v2", "message_digest", "content_type"} <= signed_attrs
        unsigned_attrs = {a["type"].native for a in sig.signer_info["unsigned_attrs"]}
        assert "signature_time_stamp_token" in unsigned_attrs
        # PAdES forbids the CMS signing-time attribute; the claimed time is /M, here in
        # Vietnam time.
        assert "signing_time" not in signed_attrs
        assert str(sig.sig_object["/M"]).startswith("D:20250616100000+07")


def test_signing_is_an_incremental_update(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    original = draft_pdf.read_bytes()
    out = tmp_path / "signed.pdf"
    _sign(test_pki, draft_pdf, out, PadesLevel.B_LTA)
    assert out.read_bytes().startswith(original)
    assert draft_pdf.read_bytes() == original


def test_b_lt_embeds_ocsp_responses_and_crls_in_the_dss(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signed.pdf"
    _sign(test_pki, draft_pdf, out, PadesLevel.B_LT)
    with out.open("rb") as fh:
        dss = PdfFileReader(fh).root["/DSS"]
        assert len(dss["/OCSPs"]) >= 1  # the leader's certificate, from the OCSP responder
        assert len(dss["/CRLs"]) >= 1  # the issuing CA and the TSA, from the root's CRL
        assert len(dss["/Certs"]) >= 2
    report = validate_pdf(out, test_pki.ctx)
    assert report.dss_ocsp_responses >= 1
    assert report.dss_crls >= 1
    assert report.document_timestamps == ()


def test_b_lta_adds_a_valid_document_timestamp(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signed.pdf"
    _sign(test_pki, draft_pdf, out, PadesLevel.B_LTA)
    report = validate_pdf(out, test_pki.ctx)
    assert len(report.document_timestamps) == 1
    doc_ts = report.document_timestamps[0]
    assert doc_ts.bottom_line == "valid"
    assert doc_ts.trusted
    assert doc_ts.time == "2025-06-16T10:00:00+07:00"
    assert "Time Stamping Authority" in (doc_ts.tsa_subject or "")
    assert report.signatures[0].document_timestamp is True
    assert report.signatures[0].modification_level == "LTA_UPDATES"


def test_long_term_signature_outlives_its_certificate(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    # Signed in 2025 at B-T and at B-LT; the leader's certificate expires in 2027.
    b_t, b_lt = tmp_path / "b_t.pdf", tmp_path / "b_lt.pdf"
    _sign(test_pki, draft_pdf, b_t, PadesLevel.B_T)
    _sign(test_pki, draft_pdf, b_lt, PadesLevel.B_LT)

    # Audited in 2028, offline.
    later = test_pki.context(clock=datetime(2028, 3, 1, tzinfo=UTC), fetch_revocation=False)
    lt_report = validate_pdf(b_lt, later)
    assert lt_report.bottom_line == "valid"
    assert lt_report.signatures[0].revocation == "good"

    # Without embedded validation data nothing can be established any more.
    t_report = validate_pdf(b_t, later)
    assert t_report.bottom_line == "indeterminate"
    assert t_report.signatures[0].trusted is False
    assert t_report.signatures[0].intact is True


def test_learned_signature_size_is_reused_and_a_shortfall_falls_back(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    from signing import pades

    sizing = (test_pki.leader.info().fingerprint_sha256, PadesLevel.B_T.value)
    pades._RESERVED.pop(sizing, None)
    # The first signature is sized by pyHanko's estimate; its real size is remembered.
    _sign(test_pki, draft_pdf, tmp_path / "one.pdf", PadesLevel.B_T)
    learned = pades._RESERVED[sizing]
    assert learned % 2 == 0
    assert learned > 2 * 1024
    # The next ones reserve the learned size, are valid, and the size does not creep up
    # (the padding of the reserved space is not mistaken for signature).
    for n in range(3):
        _sign(test_pki, draft_pdf, tmp_path / f"two-{n}.pdf", PadesLevel.B_T)
        assert validate_pdf(tmp_path / f"two-{n}.pdf", test_pki.ctx).bottom_line == "valid"
        assert abs(pades._RESERVED[sizing] - learned) <= 64  # timestamp tokens vary a little
    # A reservation that is too small is not fatal: the estimate is used instead.
    pades._RESERVED[sizing] = 64
    _sign(test_pki, draft_pdf, tmp_path / "three.pdf", PadesLevel.B_T)
    assert validate_pdf(tmp_path / "three.pdf", test_pki.ctx).bottom_line == "valid"
    assert abs(pades._RESERVED[sizing] - learned) <= 64
