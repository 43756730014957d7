"""PKCS#12, PKCS#11 (SoftHSM2) and remote key backends sign documents that validate."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from signing.errors import KeyBackendError
from signing.keys import KeyBackend, Pkcs11KeyBackend, Pkcs12KeyBackend, RemoteKeyBackend
from signing.pades import PadesLevel, sign_pdf
from signing.validate import validate_pdf
from tests.signing.conftest import P12_PASSWORD, PkiFixture, SoftHsmToken


def _sign_and_validate(pki: PkiFixture, key: KeyBackend, src: Path, out: Path,
                       level: PadesLevel = PadesLevel.B_T) -> None:
    sign_pdf(src, out, key=key, level=level, ctx=pki.ctx, field_name="Ky")
    report = validate_pdf(out, pki.ctx)
    assert report.bottom_line == "valid", report.signatures[0].explanation_en
    assert report.signatures[0].signer_fingerprint == key.info().fingerprint_sha256


def test_pkcs12_key_is_loaded_once(test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path) -> None:
    p12 = shutil.copy(test_pki.p12("leader"), tmp_path / "leader.p12")
    key = Pkcs12KeyBackend(Path(p12), P12_PASSWORD)
    signer = key.signer()
    assert key.signer() is signer
    _sign_and_validate(test_pki, key, draft_pdf, tmp_path / "first.pdf")
    # The file is gone; the key already in memory keeps signing.
    Path(p12).unlink()
    _sign_and_validate(test_pki, key, draft_pdf, tmp_path / "second.pdf")
    assert key.signer() is signer


def test_pkcs12_backend_describes_its_certificate_without_secrets(test_pki: PkiFixture) -> None:
    key = test_pki.leader
    assert [c.subject for c in key.chain] == [test_pki.cert("interm").subject]
    info = key.info()
    assert info.subject == (
        "CN=Nguyễn Văn An,OU=Văn phòng,O=UBND Thành phố Thử nghiệm (TEST ONLY),C=VN"
    )
    assert info.issuer.startswith("CN=docmgmt TEST Issuing CA,")
    assert info.not_before.utcoffset() is not None
    assert info.not_after.year == 2027
    payload = info.as_payload()
    assert json.loads(json.dumps(payload)) == payload
    assert all(isinstance(v, str) for v in payload.values())
    d = format(test_pki.private_key("leader").private_numbers().d, "x")
    for text in (repr(key), repr(key.signer()), str(vars(key))):
        assert d[:32] not in text
        assert "PRIVATE KEY" not in text
        assert P12_PASSWORD.decode() not in text


def _rsa_callback(private_key: Any, calls: list[str]) -> Any:
    def sign_digest(digest: bytes, algorithm: str) -> bytes:
        calls.append(algorithm)
        return bytes(private_key.sign(digest, padding.PKCS1v15(),
                                      Prehashed(getattr(hashes, algorithm.upper())())))
    return sign_digest


def _ecdsa_callback(private_key: Any, calls: list[str], raw: bool) -> Any:
    def sign_digest(digest: bytes, algorithm: str) -> bytes:
        calls.append(algorithm)
        der = private_key.sign(digest, ec.ECDSA(Prehashed(getattr(hashes, algorithm.upper())())))
        if not raw:
            return bytes(der)
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return sign_digest


@pytest.mark.parametrize(("label", "flavour"), [
    ("leader", "rsa"), ("seal", "ecdsa-der"), ("seal", "ecdsa-raw")
])
def test_remote_backend_signs_a_digest_only(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path, label: str, flavour: str
) -> None:
    calls: list[str] = []
    private_key = test_pki.private_key(label)
    callback = (_rsa_callback(private_key, calls) if flavour == "rsa"
                else _ecdsa_callback(private_key, calls, raw=flavour == "ecdsa-raw"))
    key = RemoteKeyBackend(test_pki.cert(label), [test_pki.cert("interm")], callback)
    assert key.signer() is key.signer()
    _sign_and_validate(test_pki, key, draft_pdf, tmp_path / "remote.pdf", PadesLevel.B_LT)
    assert calls == ["sha256"]  # size estimation never reaches the service


def test_remote_signature_that_does_not_verify_is_refused(
    test_pki: PkiFixture, draft_pdf: Path, tmp_path: Path
) -> None:
    key = RemoteKeyBackend(test_pki.cert("leader"), [test_pki.cert("interm")],
                           lambda digest, algorithm: bytes(256))
    out = tmp_path / "remote.pdf"
    with pytest.raises(KeyBackendError, match="does not verify"):
        sign_pdf(draft_pdf, out, key=key, level=PadesLevel.B_B, ctx=test_pki.ctx,
                 field_name="Ky")
    assert not out.exists()


def test_pkcs11_softhsm_token_signs(
    test_pki: PkiFixture, softhsm_token: SoftHsmToken, draft_pdf: Path, tmp_path: Path
) -> None:
    key = Pkcs11KeyBackend(softhsm_token.module, softhsm_token.label, softhsm_token.key_label,
                           softhsm_token.pin)
    try:
        assert key.certificate.dump() == test_pki.cert("leader").dump()
        assert [c.subject for c in key.chain] == [test_pki.cert("interm").subject]
        assert softhsm_token.pin not in repr(key)
        _sign_and_validate(test_pki, key, draft_pdf, tmp_path / "hsm.pdf", PadesLevel.B_LT)

        # Two signing threads share the one session; the backend serialises them.
        outs = [tmp_path / f"parallel-{i}.pdf" for i in range(4)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda out: sign_pdf(draft_pdf, out, key=key, level=PadesLevel.B_B,
                                               ctx=test_pki.ctx, field_name="Ky"), outs))
        for out in outs:
            assert validate_pdf(out, test_pki.ctx).bottom_line == "valid"
    finally:
        key.close()
    with pytest.raises(KeyBackendError, match="closed"):
        key.signer()


def test_pkcs11_wrong_pin_is_key_unavailable(softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(KeyBackendError) as caught:
        Pkcs11KeyBackend(softhsm_token.module, softhsm_token.label, softhsm_token.key_label,
                         "999999")
    assert caught.value.code == "key_unavailable"
    assert "999999" not in str(caught.value)
    assert "PinIncorrect" in str(caught.value)
