"""What the signing path keeps between signatures never masks a change or a refusal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import as_signing_certificate_v2

from signing import pades
from signing.appearance import leader_stamp, sample_signature_png
from signing.errors import SignerCertificateRevokedError
from signing.keys import KeyBackend
from signing.pades import PadesLevel, sign_pdf
from signing.validate import validate_pdf
from tests.signing.conftest import PkiFixture

BOX = (330, 90, 560, 230)


def _sign(pki: PkiFixture, key: KeyBackend, src: Path, dst: Path,
          level: PadesLevel = PadesLevel.B_B) -> Path:
    stamp = leader_stamp(sample_signature_png(), "Nguyễn Văn An", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC")
    sign_pdf(src, dst, key=key, level=level, ctx=pki.ctx, field_name="LanhDao",
             new_field_box=BOX, stamp=stamp.style, appearance_text_params=stamp.text_params)
    return dst


def _signer_info(path: Path) -> tuple[cms.SignerInfo, bytes]:
    with path.open("rb") as fh:
        sig = PdfFileReader(fh).embedded_regular_signatures[0]
        return sig.signer_info, bytes(sig.pkcs7_content)


def _signing_certificate_v2(info: cms.SignerInfo) -> bytes:
    [attr] = [a for a in info["signed_attrs"] if a["type"].native == "signing_certificate_v2"]
    return bytes(attr["values"][0].dump())


def test_signing_certificate_attribute_names_each_signer(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    # The leader signs twice, the seal key once, with the encoded attribute kept in between.
    for n, key in enumerate((test_pki.leader, test_pki.leader, test_pki.seal)):
        out = _sign(test_pki, key, draft_pdf, tmp_path / f"signed-{n}.pdf")
        info, _ = _signer_info(out)
        # Exactly what pyHanko itself would put there, for this very certificate.
        attr = _signing_certificate_v2(info)
        assert attr == as_signing_certificate_v2(key.certificate).dump()
        cert_hash = tsp.SigningCertificateV2.load(attr).native["certs"][0]["cert_hash"]
        assert cert_hash == hashlib.sha256(key.certificate.dump()).digest()
        report = validate_pdf(out, test_pki.ctx)
        assert report.bottom_line == "valid"
        assert report.signatures[0].signer_fingerprint == key.info().fingerprint_sha256


def test_a_revoked_certificate_is_refused_after_good_signatures(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    # Keys, the drawn block, the encoded attribute and the learned size are all warm ...
    for n in range(2):
        out = _sign(test_pki, test_pki.leader, draft_pdf, tmp_path / f"ok-{n}.pdf")
        assert validate_pdf(out, test_pki.ctx).bottom_line == "valid"
    # ... and a revoked signer with the same block is still refused at signing time.
    with pytest.raises(SignerCertificateRevokedError):
        _sign(test_pki, test_pki.revoked, draft_pdf, tmp_path / "revoked.pdf")
    assert not (tmp_path / "revoked.pdf").exists()


def test_reserved_space_stays_close_to_the_signature(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    sizing = (test_pki.leader.info().fingerprint_sha256, PadesLevel.B_B.value)
    pades._RESERVED.pop(sizing, None)
    _sign(test_pki, test_pki.leader, draft_pdf, tmp_path / "first.pdf")  # pyHanko's estimate
    # pyHanko reads /Contents one hex digit at a time when validating: little padding.
    out = _sign(test_pki, test_pki.leader, draft_pdf, tmp_path / "second.pdf")
    _, contents = _signer_info(out)
    der = len(cms.ContentInfo.load(contents.rstrip(b"\0")).dump())
    reserved = pades._RESERVED[sizing] // 2
    assert der <= reserved <= der + der // 16 + 256
    assert len(contents) == reserved
