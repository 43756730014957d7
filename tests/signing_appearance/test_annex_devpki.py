"""The development PKI: labelled, private, stable across restarts, and able to sign."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from docmgmt.domain.errors import InvalidInputError
from signing.appearance import field_spec, leader_stamp, sample_signature_png
from signing.devpki import (
    DEV_MARKER,
    DevPki,
    dev_timestamper,
    init_dev_pki,
    issue_user_cert,
    load_dev_pki,
)
from signing.formfill import add_text_fields
from tests.signing_appearance.pdftools import (
    AGENCY_CODE,
    AGENCY_NAME,
    LEADER_BOX,
    sign,
    signature_statuses,
    throwaway_signer,
)


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def public_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_creates_labelled_certificates_and_private_key_files(dev_pki: DevPki) -> None:
    d = dev_pki.directory
    user_p12 = issue_user_cert(d, "nvan", "Nguyễn Văn An")
    for name in ["root-ca", "tsa", "seal", "users/nvan"]:
        assert (d / f"{name}.p12").exists()
        assert (d / f"{name}.pem").exists()
        subject = cert(d / f"{name}.pem").subject
        assert DEV_MARKER in [a.value for a in subject]
        assert DEV_MARKER == "DEVELOPMENT — NOT FOR PRODUCTION"
        assert stat.S_IMODE((d / f"{name}.p12").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "secrets.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert cert(d / "users/nvan.pem").subject.get_attributes_for_oid(NameOID.COMMON_NAME)[
        0
    ].value == "Nguyễn Văn An"
    # The key files open only with their password from the secrets file.
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's message varies
        pkcs12.load_key_and_certificates(user_p12.read_bytes(), b"wrong")
    key, _, _ = pkcs12.load_key_and_certificates(
        user_p12.read_bytes(), dev_pki.password_for(user_p12)
    )
    assert key is not None


def test_certificate_profiles(dev_pki: DevPki) -> None:
    d = dev_pki.directory
    root, tsa, seal = cert(d / "root-ca.pem"), cert(d / "tsa.pem"), cert(d / "seal.pem")
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ten_years = root.not_valid_after_utc - root.not_valid_before_utc
    assert timedelta(days=3650) <= ten_years <= timedelta(days=3654)
    for leaf in (tsa, seal):
        assert leaf.issuer == root.subject
        two_years = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        assert timedelta(days=729) <= two_years <= timedelta(days=732)
    usage = seal.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.content_commitment
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_crl_is_published_and_signed_by_the_root(dev_pki: DevPki) -> None:
    der = x509.load_der_x509_crl(dev_pki.crl_der_path.read_bytes())
    pem = x509.load_pem_x509_crl(dev_pki.crl_pem_path.read_bytes())
    root = cert(dev_pki.root_cert_path)
    assert der == pem
    assert der.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert der.issuer == root.subject
    assert der.next_update_utc is not None
    assert der.next_update_utc > datetime.now(UTC)
    assert dev_pki.crl.dump() == dev_pki.crl_der_path.read_bytes()


def test_rerunning_keeps_every_key(tmp_path: Path) -> None:
    first = init_dev_pki(tmp_path, AGENCY_CODE, AGENCY_NAME)
    user = issue_user_cert(tmp_path, "nvan", "Nguyễn Văn An")
    before = {p.name: p.read_bytes() for p in [*tmp_path.glob("*.p12"), user]}
    certs = [tmp_path / f"{n}.pem" for n in ("root-ca", "tsa", "seal", "users/nvan")]
    keys = {p.name: public_der(cert(p)) for p in certs}
    passwords = dict(first.passwords)

    second = init_dev_pki(tmp_path, AGENCY_CODE, AGENCY_NAME)
    again = issue_user_cert(tmp_path, "nvan", "Nguyễn Văn An")

    assert again == user
    assert {p.name: p.read_bytes() for p in [*tmp_path.glob("*.p12"), user]} == before
    assert {p.name: public_der(cert(p)) for p in certs} == keys
    assert dict(second.passwords) == passwords
    assert second.root_cert.dump() == first.root_cert.dump()
    assert load_dev_pki(tmp_path).root_cert.dump() == first.root_cert.dump()


def test_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        load_dev_pki(tmp_path)
    init_dev_pki(tmp_path, AGENCY_CODE, AGENCY_NAME)
    with pytest.raises(InvalidInputError):
        init_dev_pki(tmp_path, "OTHER", "Cơ quan khác")
    with pytest.raises(InvalidInputError):
        issue_user_cert(tmp_path, "../escape", "Kẻ Gian")


def test_user_signature_with_dev_timestamp_validates_against_dev_root(
    dev_pki: DevPki, draft: Path
) -> None:
    user_p12 = issue_user_cert(dev_pki.directory, "tthb", "Trần Thị Hồng Bích")
    prepared = draft.with_name("prepared.pdf")
    add_text_fields(draft, prepared, [], signature_fields=[field_spec("lanh_dao", 0, LEADER_BOX)])
    stamp = leader_stamp(sample_signature_png(), "Trần Thị Hồng Bích", "", "GIÁM ĐỐC")
    signed = sign(prepared, draft.with_name("signed.pdf"), dev_pki.signer(user_p12), "lanh_dao",
                  stamp, certify=True, timestamper=dev_timestamper(dev_pki))

    status = signature_statuses(
        signed, trust_roots=[dev_pki.root_cert], crls=[dev_pki.crl], revocation_mode="require"
    )["lanh_dao"]
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact
    assert status.timestamp_validity.trusted
    assert DEV_MARKER in status.signing_cert.subject.human_friendly

    # The same signature is not trusted by anyone who does not trust the dev root.
    stranger = throwaway_signer("Someone else")
    untrusted = signature_statuses(signed, trust_roots=[stranger.cert])["lanh_dao"]
    assert untrusted.intact
    assert not untrusted.trusted
