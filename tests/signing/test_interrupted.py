"""A leader's signature computed elsewhere: prepare, sign the digest outside, finish."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from signing import pades
from signing.errors import (
    KeyBackendError,
    SignatureMismatchError,
    SignerCertificateExpiredError,
    SignerCertificateRevokedError,
    SignerCertificateUntrustedError,
    SigningError,
)
from signing.keys import (
    Pkcs11KeyBackend,
    Pkcs12KeyBackend,
    RemoteKeyBackend,
    sign_digest,
)
from signing.pades import PadesLevel
from signing.port import AgencyIdentity, PreparedSignature, SignerIdentity
from signing.service import LEADER_FIELD, PadesService
from tests.signing.conftest import PkiFixture, PkiKeys, SoftHsmToken
from tests.support.pdfs import make_pdf

AGENCY = AgencyIdentity(uuid.uuid4(), "TEST", "UBND Thành phố Thử nghiệm")
LEADER = SignerIdentity(uuid.uuid4(), "leader", "Nguyễn Văn An", "Giám đốc")


def _service(pki: PkiFixture, level: PadesLevel = PadesLevel.B_B) -> PadesService:
    return PadesService(PkiKeys(pki, level), level)


def _csc_sign(private_key: Any, digest: bytes) -> bytes:
    """What a CSC signHash answers for ``digest`` (the key never sees the document)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    return private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def _prepare(pki: PkiFixture, src: Path, dst: Path,
             level: PadesLevel = PadesLevel.B_B) -> PreparedSignature:
    leader = pki.leader
    return _service(pki, level).prepare_leader(
        src, dst, signer=LEADER, agency=AGENCY, capacity_line="KT. GIÁM ĐỐC",
        certificate=leader.certificate.dump(), chain=[c.dump() for c in leader.chain])


@pytest.mark.parametrize("level", list(PadesLevel), ids=str)
def test_prepared_then_finished_after_a_restart_validates(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path, level: PadesLevel
) -> None:
    # The server prepares the approved PDF for the leader's certificate.
    prepared = tmp_path / "prepared.pdf"
    request = _prepare(test_pki, draft_pdf, prepared, level)
    assert request.mechanism == "sha256_rsa"
    assert request.certificate["fingerprint_sha256"] == test_pki.cert("leader").sha256.hex()
    # The prepared document's signature has no value yet: it does not validate.
    assert _service(test_pki).validate(prepared)["bottom_line"] != "valid"

    # The leader's key signs the digest elsewhere; a restarted server finishes from the state.
    value = _csc_sign(test_pki.private_key("leader"), request.digest)
    out = tmp_path / "signed.pdf"
    outcome = _service(test_pki, PadesLevel.B_B).finish_leader(
        prepared, out, agency=AGENCY, state=request.state, signature=value)

    # The signature is the leader's certification, intact and trusted, at the prepared level.
    assert outcome.level == level.value
    assert outcome.certificate == request.certificate
    report = outcome.report
    assert report["bottom_line"] == "valid", report
    (signature,) = report["signatures"]
    assert signature["field_name"] == LEADER_FIELD
    assert (signature["intact"], signature["valid"], signature["trusted"]) == (True, True, True)
    assert signature["signer_fingerprint"] == test_pki.cert("leader").sha256.hex()
    assert signature["pades_level"] == level.value
    assert signature["reason"] == "KT. GIÁM ĐỐC"
    assert signature["signing_time"] == "2025-06-16T10:00:00+07:00"
    assert signature["docmdp"] is not None
    assert (signature["timestamp"] is not None) is level.timestamped
    assert (report["dss_ocsp_responses"] + report["dss_crls"] > 0) is level.long_term
    assert len(report["document_timestamps"]) == (1 if level is PadesLevel.B_LTA else 0)


@pytest.mark.parametrize("other", ["seal", "revoked"])
def test_a_signature_by_another_key_is_refused_and_nothing_written(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path, other: str
) -> None:
    prepared = tmp_path / "prepared.pdf"
    request = _prepare(test_pki, draft_pdf, prepared)
    # Another key (the agency seal's EC key, another RSA key) signs the right digest.
    value = _csc_sign(test_pki.private_key(other), request.digest)
    out = tmp_path / "signed.pdf"
    with pytest.raises(SignatureMismatchError, match="not made by the registered"):
        _service(test_pki).finish_leader(prepared, out, agency=AGENCY, state=request.state,
                                         signature=value)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft.pdf", "prepared.pdf"]


def test_a_signature_over_another_digest_is_refused(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    prepared = tmp_path / "prepared.pdf"
    request = _prepare(test_pki, draft_pdf, prepared)
    # The leader's own key, but over some other document's digest.
    other = hashlib.sha256(b"another document").digest()
    value = _csc_sign(test_pki.private_key("leader"), other)
    out = tmp_path / "signed.pdf"
    with pytest.raises(SignatureMismatchError):
        _service(test_pki).finish_leader(prepared, out, agency=AGENCY, state=request.state,
                                         signature=value)
    assert not out.exists()


def test_a_swapped_prepared_file_is_refused(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    # Two documents are prepared; the first one's signature comes back ...
    first = _prepare(test_pki, draft_pdf, tmp_path / "first.pdf")
    other_src = tmp_path / "other.pdf"
    other_src.write_bytes(make_pdf(2, text="Cong van so 02/UBND-VP"))
    _prepare(test_pki, other_src, tmp_path / "second.pdf")
    value = _csc_sign(test_pki.private_key("leader"), first.digest)
    # ... but is to be embedded into the second prepared file.
    out = tmp_path / "signed.pdf"
    with pytest.raises(SigningError, match="not the one this signature was prepared for"):
        _service(test_pki).finish_leader(tmp_path / "second.pdf", out, agency=AGENCY,
                                         state=first.state, signature=value)
    assert not out.exists()


def test_a_key_on_a_pkcs11_token_signs_the_digest(
    test_pki: PkiFixture, softhsm_token: SoftHsmToken, draft_pdf: Path, tmp_path: Path
) -> None:
    prepared = tmp_path / "prepared.pdf"
    request = _prepare(test_pki, draft_pdf, prepared, PadesLevel.B_T)
    key = Pkcs11KeyBackend(softhsm_token.module, softhsm_token.label, softhsm_token.key_label,
                           softhsm_token.pin)
    try:
        # The token signs the digest (RSA_PKCS over the DigestInfo), as CSC would.
        value = sign_digest(key, request.digest, request.mechanism)
    finally:
        key.close()
    assert value == _csc_sign(test_pki.private_key("leader"), request.digest)
    outcome = _service(test_pki).finish_leader(prepared, tmp_path / "signed.pdf",
                                               agency=AGENCY, state=request.state,
                                               signature=value)
    assert outcome.report["bottom_line"] == "valid"


def test_an_ec_key_file_signs_a_digest_in_der_form(test_pki: PkiFixture) -> None:
    digest = hashlib.sha256(b"challenge").digest()
    value = sign_digest(test_pki.seal, digest, "sha256_ecdsa")
    assert value[0] == 0x30  # a DER ECDSA-Sig-Value, not r||s
    _service(test_pki).verify_possession(test_pki.cert("seal").dump(), b"challenge", value)


def test_a_usable_certificate_is_described(test_pki: PkiFixture) -> None:
    leader = test_pki.leader
    described = _service(test_pki).check_certificate(leader.certificate.dump(),
                                                      [c.dump() for c in leader.chain])
    assert described == leader.info().as_payload()


@pytest.mark.parametrize(("label", "error", "why"), [
    ("revoked", SignerCertificateRevokedError, "revoked on 2025-01-01"),
    ("expired", SignerCertificateExpiredError, "expired on 2024-01-01"),
    ("untrusted", SignerCertificateUntrustedError, "does not chain to a configured trust root"),
])
def test_an_unusable_certificate_is_refused(
    test_pki: PkiFixture, label: str, error: type[Exception], why: str
) -> None:
    key: Pkcs12KeyBackend = getattr(test_pki, label)
    with pytest.raises(error, match=why):
        _service(test_pki).check_certificate(key.certificate.dump(),
                                             [c.dump() for c in key.chain])


def test_an_unusable_certificate_cannot_be_prepared_for(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    revoked = test_pki.revoked
    dst = tmp_path / "prepared.pdf"
    with pytest.raises(SignerCertificateRevokedError):
        _service(test_pki).prepare_leader(
            draft_pdf, dst, signer=LEADER, agency=AGENCY, capacity_line="GIÁM ĐỐC",
            certificate=revoked.certificate.dump(), chain=[c.dump() for c in revoked.chain])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft.pdf"]


def test_possession_is_proved_only_by_the_certificates_key(test_pki: PkiFixture) -> None:
    service = _service(test_pki)
    certificate = test_pki.cert("leader").dump()
    challenge = b"docmgmt certificate challenge 7f3a"
    digest = hashlib.sha256(challenge).digest()
    # The leader's key signs the challenge: accepted.
    service.verify_possession(certificate, challenge, _csc_sign(
        test_pki.private_key("leader"), digest))
    # Another key, or another message: refused.
    with pytest.raises(SignatureMismatchError):
        service.verify_possession(certificate, challenge, _csc_sign(
            test_pki.private_key("revoked"), digest))
    with pytest.raises(SignatureMismatchError):
        service.verify_possession(certificate, b"another challenge", _csc_sign(
            test_pki.private_key("leader"), digest))


def test_a_remote_service_signs_a_digest_and_its_answer_is_checked(test_pki: PkiFixture) -> None:
    seal_key = test_pki.private_key("seal")

    def raw_ecdsa(digest: bytes, algorithm: str) -> bytes:
        # Many services answer ECDSA as r||s; the backend hands back the DER form.
        r, s = decode_dss_signature(_csc_sign(seal_key, digest))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    key = RemoteKeyBackend(test_pki.cert("seal"), [test_pki.cert("interm")], raw_ecdsa)
    value = sign_digest(key, hashlib.sha256(b"challenge").digest(), "sha256_ecdsa")
    _service(test_pki).verify_possession(test_pki.cert("seal").dump(), b"challenge", value)
    wrong = RemoteKeyBackend(test_pki.cert("seal"), [], lambda digest, algorithm: bytes(64))
    with pytest.raises(KeyBackendError, match="does not verify"):
        sign_digest(wrong, hashlib.sha256(b"challenge").digest(), "sha256_ecdsa")


def test_a_learned_reservation_that_falls_short_is_prepared_again(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    fingerprint = test_pki.leader.info().fingerprint_sha256
    # A size learned earlier is far too small for this signature and its timestamp token.
    pades.learn_reservation(fingerprint, PadesLevel.B_T, 1)
    out = tmp_path / "signed.pdf"
    outcome = _service(test_pki, PadesLevel.B_T).sign_as_leader(
        draft_pdf, out, signer=LEADER, agency=AGENCY, capacity_line="GIÁM ĐỐC")
    assert outcome.report["bottom_line"] == "valid"
    assert outcome.report["signatures"][0]["pades_level"] == "B-T"
    # What it really took is learned, and nothing but the signed PDF is left behind.
    learned = pades.learned_reservation(fingerprint, PadesLevel.B_T)
    assert learned is not None
    assert learned > 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft.pdf", "signed.pdf"]
