"""The trust-anchor check on its own: validity at the timestamp's time, purpose, chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from docmgmt.ledger.bundle_verify import check_trust, load_certificate_files, load_certificates
from tests.ledger.trust_support import crl, issue, name, pem_file

NOW = datetime.now(UTC)


def test_a_certificate_is_checked_at_the_timestamps_time() -> None:
    root = issue(name("Root"), ca=True)
    signer = issue(name("Signer"), root, days=1)
    assert check_trust("signer", signer[1], [root[1]], [], NOW).ok
    # Timestamped after the signer's certificate expired.
    verdict = check_trust("signer", signer[1], [root[1]], [], NOW + timedelta(days=2))
    assert not verdict.ok
    assert "it was not valid at" in verdict.en
    assert "không có hiệu lực tại" in verdict.vi
    # ... or before it was issued.
    assert not check_trust("signer", signer[1], [root[1]], [], NOW - timedelta(days=3)).ok


def test_the_purpose_of_each_certificate_is_checked() -> None:
    root = issue(name("Root"), ca=True)
    signer = issue(name("Signer"), root)
    verdict = check_trust("tsa", signer[1], [root[1]], [], NOW, tsa=True)
    assert not verdict.ok
    assert "not a time-stamping certificate" in verdict.en
    assert "id-kp-timeStamping" in verdict.vi
    # A CA certificate may not sign checkpoints itself.
    other = issue(name("Other CA"), root, ca=True)
    verdict = check_trust("signer", other[1], [root[1]], [], NOW)
    assert not verdict.ok
    assert "neither digitalSignature nor nonRepudiation" in verdict.en


def test_intermediates_link_but_never_anchor() -> None:
    root = issue(name("Root"), ca=True)
    middle = issue(name("Middle"), root, ca=True)
    signer = issue(name("Signer"), middle)
    verdict = check_trust("signer", signer[1], [root[1]], [middle[1]], NOW)
    assert verdict.ok, verdict.en
    assert "CN=Signer,C=VN → CN=Middle,C=VN → CN=Root,C=VN" in verdict.en
    verdict = check_trust("signer", signer[1], [root[1]], [], NOW)
    assert "issued by CN=Middle,C=VN, which is none of the trusted roots" in verdict.en
    # A leaf whose "issuer" is not a CA does not chain, even if named and included.
    fake_middle = issue(name("Middle"), root)
    under_leaf = issue(name("Signer"), fake_middle)
    assert not check_trust("signer", under_leaf[1], [root[1]], [fake_middle[1]], NOW).ok


def test_roots_are_read_from_pem_and_der(tmp_path: Path) -> None:
    a, b = issue(name("A"), ca=True)[1], issue(name("B"), ca=True)[1]
    both = pem_file(tmp_path / "both.pem", a, b)
    der = tmp_path / "a.der"
    der.write_bytes(a.public_bytes(Encoding.DER))
    assert load_certificate_files([both, der]) == [a, b, a]
    assert load_certificates(der.read_bytes()) == [a]
    with pytest.raises(ValueError, match="no CERTIFICATE block"):
        load_certificates(b"-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match=r"missing\.pem"):
        load_certificate_files([tmp_path / "missing.pem"])


def test_revocation_is_read_from_the_issuers_crl_valid_at_the_time() -> None:
    root = issue(name("Root"), ca=True)
    middle = issue(name("Middle"), root, ca=True)
    signer = issue(name("Signer"), middle)
    serial = signer[1].serial_number
    clean = [crl(middle), crl(root)]
    verdict = check_trust("signer", signer[1], [root[1]], [middle[1]], NOW, crls=clean)
    assert verdict.ok, verdict.en
    assert "CN=Signer,C=VN is not revoked according to the CRL of CN=Middle,C=VN" in verdict.en
    assert "CN=Middle,C=VN is not revoked according to the CRL of CN=Root,C=VN" in verdict.en
    assert "không bị thu hồi" in verdict.vi
    # Revoked an hour before the timestamp: refused, with the date.
    before = [crl(middle, {serial: NOW - timedelta(hours=1)}), crl(root)]
    verdict = check_trust("signer", signer[1], [root[1]], [middle[1]], NOW, crls=before)
    assert not verdict.ok
    assert "CN=Signer,C=VN was revoked on" in verdict.en
    assert "đã bị thu hồi" in verdict.vi
    # Revoked after the timestamp: the timestamp proves the signature came first.
    after = [crl(middle, {serial: NOW + timedelta(minutes=30)}), crl(root)]
    verdict = check_trust("signer", signer[1], [root[1]], [middle[1]], NOW, crls=after)
    assert verdict.ok
    assert "was revoked later" in verdict.en
    # The issuing CA revoked by the root revokes the chain.
    middle_gone = [crl(middle), crl(root, {middle[1].serial_number: NOW - timedelta(days=1)})]
    assert not check_trust("signer", signer[1], [root[1]], [middle[1]], NOW,
                           crls=middle_gone).ok


def test_a_crl_is_used_only_if_its_issuer_signed_it_and_it_was_current() -> None:
    root = issue(name("Root"), ca=True)
    signer = issue(name("Signer"), root)
    revoked = {signer[1].serial_number: NOW - timedelta(hours=1)}
    # The same issuer name, another key: a forged list is ignored.
    forged = crl(issue(name("Root"), ca=True), revoked)
    # A genuine list that had expired by the timestamp's time is ignored too.
    stale = crl(root, revoked, last_update=NOW - timedelta(days=40), days=30)
    for crls in ([forged], [stale], []):
        verdict = check_trust("signer", signer[1], [root[1]], [], NOW, crls=crls)
        assert verdict.ok
        assert "the revocation of CN=Signer,C=VN was not checked" in verdict.en
    # Without any CRLs at all the report says revocation was not checked (offline).
    assert "revocation was not checked (offline)" in check_trust(
        "signer", signer[1], [root[1]], [], NOW).en
