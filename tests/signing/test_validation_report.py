"""validate_pdf judges any PDF; failures are verdicts in the report, never exceptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from certomancer.registry import CertLabel
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from docmgmt.domain.errors import MalformedPdfError
from signing.pades import PadesLevel, sign_pdf
from signing.validate import report_html, validate_pdf
from tests.signing.conftest import PkiFixture


def _signed(pki: PkiFixture, src: Path, level: PadesLevel = PadesLevel.B_T,
            reason: str = "KT. GIÁM ĐỐC") -> Path:
    out = src.with_name("signed.pdf")
    sign_pdf(src, out, key=pki.leader, level=level, ctx=pki.ctx, field_name="LanhDao",
             reason=reason)
    return out


def test_one_flipped_byte_in_the_signed_range_makes_it_invalid(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    signed = _signed(test_pki, draft_pdf)
    data = bytearray(signed.read_bytes())
    # A character of the document title: inside the first signed byte range, and the
    # file still parses.
    at = data.index(b"Cong van so 01")
    data[at] ^= 0x20
    signed.write_bytes(bytes(data))

    report = validate_pdf(signed, test_pki.ctx)
    sig = report.signatures[0]
    assert sig.intact is False
    assert sig.bottom_line == "invalid"
    assert "changed after signing" in sig.explanation_en
    assert report.bottom_line == "invalid"
    assert "Không hợp lệ" in report_html(report)


def test_unsigned_pdf_gives_an_unsigned_report(test_pki: PkiFixture, draft_pdf: Path) -> None:
    report = validate_pdf(draft_pdf, test_pki.ctx)
    assert report.signature_count == 0
    assert report.bottom_line == "unsigned"
    assert report.to_dict()["signatures"] == []


def test_unparseable_file_is_malformed(test_pki: PkiFixture, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog\n")
    with pytest.raises(MalformedPdfError):
        validate_pdf(junk, test_pki.ctx)


def test_signer_outside_the_trust_roots_is_indeterminate(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    signed = _signed(test_pki, draft_pdf)
    # Another agency trusts only the rogue root.
    elsewhere = test_pki.context(trust_roots=[test_pki.rogue.get_cert(CertLabel("root"))])
    sig = validate_pdf(signed, elsewhere).signatures[0]
    assert (sig.intact, sig.valid, sig.trusted) == (True, True, False)
    assert sig.bottom_line == "indeterminate"
    assert "trusted root" in sig.explanation_en
    assert sig.revocation == "not checked"


def test_signature_by_a_revoked_certificate_is_invalid(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    # A signature made elsewhere, by software that did not check revocation.
    out = draft_pdf.with_name("foreign.pdf")
    with draft_pdf.open("rb") as inf, out.open("wb") as outf:
        signers.sign_pdf(
            IncrementalPdfFileWriter(inf),
            signers.PdfSignatureMetadata(field_name="Foreign", subfilter=None),
            signer=test_pki.revoked.signer(),
            output=outf,
        )
    report = validate_pdf(out, test_pki.ctx)
    sig = report.signatures[0]
    assert sig.revocation == "revoked"
    assert sig.bottom_line == "invalid"
    assert sig.pades_level is None  # adbe.pkcs7.detached, not PAdES
    assert report.bottom_line == "invalid"


def test_report_is_json_and_bilingual_escaped_html(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    signed = _signed(test_pki, draft_pdf, PadesLevel.B_LTA,
                     reason='TM. UBND <script>alert("x")</script>')
    report = validate_pdf(signed, test_pki.ctx)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["signature_count"] == 1
    assert data["signatures"][0]["reason"] == 'TM. UBND <script>alert("x")</script>'
    assert data["signatures"][0]["pades_level"] == "B-LTA"
    assert len(data["document_timestamps"]) == 1

    page = report_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "TM. UBND &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Báo cáo kiểm tra chữ ký số" in page
    assert "Signature validation report" in page
    assert "Hợp lệ" in page
    assert "Nguyễn Văn An" in page
    assert "2025-06-16T10:00:00+07:00" in page
