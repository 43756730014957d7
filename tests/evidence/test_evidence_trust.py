"""`verify-bundle --trust-root`: who signed the checkpoint, not only that it is intact."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from docmgmt.ledger.bundle import build_bundle
from docmgmt.ledger.bundle_verify import (
    CHAIN,
    CRLS,
    NOT_CHECKED_EN,
    NOT_CHECKED_VI,
    SIGNER_TRUST,
    TSA_TRUST,
    load_certificate_files,
    main,
    verify_bundle,
)
from docmgmt.ledger.checkpoint import write_checkpoint
from docmgmt.ledger.systemkeys import system_note_keys
from tests.evidence.conftest import Bundled
from tests.evidence.test_evidence_bundle import members, rewrite
from tests.ledger.trust_support import Issued, issue, name, pem_file, resign

pytestmark = pytest.mark.postgres


@pytest.fixture
def dev_root(bundled: Bundled) -> Path:
    """The development root the served API's system key and TSA were issued by."""
    path = bundled.api.settings.pki_dir / "SYSTEM" / "root-ca.pem"
    assert path.exists(), "the API should have made the development system PKI"
    return path


def verdicts(report_text: str) -> dict[str, str]:
    """Check name -> PASS / FAIL, as printed."""
    found = {}
    for line in report_text.splitlines():
        if line.startswith(("[PASS] ", "[FAIL] ")):
            found[line[7:]] = line[1:5]
    return found


def forge(src: Path, dst: Path, signer: Issued, *chain: x509.Certificate) -> Path:
    """Re-sign the bundle's checkpoint note with ``signer``, as a forger would."""
    def change(files: dict[str, bytes]) -> None:
        note, signature = resign(files["checkpoint/note.txt"].decode(), signer)
        files["checkpoint/note.txt"] = note.encode()
        files["checkpoint/signature"] = signature
        files["checkpoint/signer.der"] = signer[1].public_bytes(Encoding.DER)
        if chain:
            files[CHAIN] = b"".join(c.public_bytes(Encoding.PEM) for c in chain)

    return rewrite(src, dst, change)


def test_clean_bundle_chains_to_the_development_root(
    bundled: Bundled, dev_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The auditor passes the published root (here the development one) as PEM.
    report = verify_bundle(bundled.zip_path, load_certificate_files([dev_root]))
    text = report.explain()
    assert report.ok, text
    assert report.trust_checked
    assert verdicts(text)[SIGNER_TRUST] == verdicts(text)[TSA_TRUST] == "PASS"
    assert "docmgmt Development Root CA SYSTEM" in text
    assert "dẫn tới chứng thư gốc tin cậy" in text
    assert "[NOT CHECKED]" not in text
    # The development root's CRL, stored when the checkpoint was made, travels along:
    # neither the system key nor the TSA was revoked at the timestamp's time.
    assert CRLS in members(bundled.zip_path)
    assert text.count("is not revoked according to the CRL of CN=docmgmt Development Root "
                      "CA SYSTEM") == 2
    assert "không bị thu hồi theo danh sách thu hồi" in text
    # The same root as DER, on the command line: exit 0.
    der = tmp_path / "root.der"
    der.write_bytes(x509.load_pem_x509_certificate(dev_root.read_bytes()).public_bytes(
        Encoding.DER))
    assert main([str(bundled.zip_path), "--trust-root", str(der)]) == 0
    assert "[PASS] timestamp authority trust" in capsys.readouterr().out
    # The copy inside the bundle does the same alone, in an isolated interpreter.
    checker = tmp_path / "bundle_verify.py"
    checker.write_bytes(members(bundled.zip_path)["verify/bundle_verify.py"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCMGMT_", "PG"))}
    done = subprocess.run([sys.executable, "-I", str(checker), str(bundled.zip_path),
                           "--trust-root", str(dev_root)], capture_output=True, text=True,
                          env=env | {"PYTHONPATH": ""}, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[PASS] {SIGNER_TRUST}" in done.stdout


def test_without_a_root_the_report_says_nothing_was_checked_against_one(
    bundled: Bundled, capsys: pytest.CaptureFixture[str],
) -> None:
    report = verify_bundle(bundled.zip_path)
    text = report.explain()
    # It still passes (integrity), but says plainly what that does not prove.
    assert report.ok
    assert not report.trust_checked
    assert "[NOT CHECKED] trust anchor" in text
    assert NOT_CHECKED_EN in text
    assert NOT_CHECKED_VI in text
    assert "BUT ONLY RELATIVE TO THE INCLUDED CERTIFICATES" in text
    assert "NHƯNG CHỈ SO VỚI CÁC CHỨNG THƯ KÈM THEO" in text
    assert SIGNER_TRUST not in verdicts(text)
    assert main([str(bundled.zip_path)]) == 0
    assert "NOT checked against a trust anchor" in capsys.readouterr().out


def test_an_unrelated_root_fails_both_certificates(
    bundled: Bundled, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    other = pem_file(tmp_path / "other.pem", issue(name("Some Other Root CA"), ca=True)[1])
    report = verify_bundle(bundled.zip_path, load_certificate_files([other]))
    assert not report.ok
    assert {c.name for c in report.failures} == {SIGNER_TRUST, TSA_TRUST}
    text = report.explain()
    # The development root came with the bundle (inside the token), but is not trusted.
    assert ("chains to the root CN=docmgmt Development Root CA SYSTEM,OU=DEVELOPMENT — NOT "
            "FOR PRODUCTION,O=docmgmt ledger,C=VN that came with the evidence, which is not "
            "one of the trusted roots") in text
    assert "không phải chứng thư gốc tin cậy nào" in text
    assert "CN=Some Other Root CA" in text  # the roots it was checked against are named
    assert main([str(bundled.zip_path), "--trust-root", str(other)]) == 1
    out = capsys.readouterr().out
    assert f"[FAIL] {SIGNER_TRUST}" in out
    assert "VERDICT: FAILED" in out


def test_a_re_signed_checkpoint_passes_its_signature_but_not_the_trust_check(
    bundled: Bundled, dev_root: Path, tmp_path: Path,
) -> None:
    # The forger makes a root with the development root's very name, signs with a key
    # under it, and ships that root in the bundle's chain.
    real = x509.load_pem_x509_certificate(dev_root.read_bytes())
    fake_root = issue(real.subject, ca=True)
    forged = forge(bundled.zip_path, tmp_path / "forged.zip",
                   issue(name("docmgmt ledger"), fake_root), fake_root[1])
    # Without a trust root this forgery passes: exactly the gap the trust check closes.
    assert verify_bundle(forged).ok
    report = verify_bundle(forged, load_certificate_files([dev_root]))
    text = report.explain()
    assert not report.ok
    assert verdicts(text)["checkpoint signature"] == "PASS"
    assert verdicts(text)["timestamp imprint"] == "PASS"
    assert verdicts(text)[TSA_TRUST] == "PASS"
    assert [c.name for c in report.failures] == [SIGNER_TRUST]
    assert "the checkpoint signer's certificate (CN=docmgmt ledger,C=VN) is not trusted" in text
    assert "reaches the name of a trusted root but does not verify against that root" in text
    # A self-signed signer with no chain at all is named by its issuer.
    plain = forge(bundled.zip_path, tmp_path / "plain.zip", issue(name("Forger")))
    report = verify_bundle(plain, load_certificate_files([dev_root]))
    assert [c.name for c in report.failures] == [SIGNER_TRUST]
    assert "issued by CN=Forger,C=VN, which is none of the trusted roots" in report.explain()


def test_intermediates_come_from_the_bundle_or_the_command_line(
    bundled: Bundled, dev_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # An agency whose system key was issued through an intermediate CA.
    agency_root = issue(name("Agency Root CA"), ca=True)
    intermediate = issue(name("Agency Issuing CA"), agency_root, ca=True)
    signer = issue(name("docmgmt ledger"), intermediate)
    roots = load_certificate_files([dev_root, pem_file(tmp_path / "agency.pem",
                                                       agency_root[1])])
    with_chain = forge(bundled.zip_path, tmp_path / "chain.zip", signer, intermediate[1])
    report = verify_bundle(with_chain, roots)
    assert report.ok, report.explain()
    assert "CN=Agency Issuing CA,C=VN → CN=Agency Root CA,C=VN" in report.explain()
    # Without the intermediate the signer cannot be linked to the root ...
    bare = forge(bundled.zip_path, tmp_path / "bare.zip", signer)
    report = verify_bundle(bare, roots)
    assert [c.name for c in report.failures] == [SIGNER_TRUST]
    assert "issued by CN=Agency Issuing CA,C=VN" in report.explain()
    # ... unless the auditor supplies it; an --intermediate is never an anchor by itself.
    ca = pem_file(tmp_path / "intermediate.pem", intermediate[1])
    assert main([str(bare), "--trust-root", str(roots_file(tmp_path, roots)),
                 "--intermediate", str(ca)]) == 0
    assert main([str(bare), "--trust-root", str(dev_root), "--intermediate", str(ca)]) == 1
    assert f"[FAIL] {SIGNER_TRUST}" in capsys.readouterr().out


def roots_file(tmp_path: Path, roots: list[x509.Certificate]) -> Path:
    """All roots in one PEM file (several blocks)."""
    return pem_file(tmp_path / "roots.pem", *roots)


def test_an_unreadable_trust_root_is_an_error_not_a_verdict(
    bundled: Bundled, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    assert main([str(bundled.zip_path), "--trust-root", str(junk)]) == 2
    assert "junk.pem: not a readable PEM or DER certificate" in capsys.readouterr().err


class BundledBlobs:
    """The stored files, served from the first bundle (it holds every one of them)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    @contextmanager
    def open_verified(self, key: str, sha256: str) -> Iterator[BinaryIO]:
        """The file whose digest is ``sha256``."""
        yield io.BytesIO(self.files[f"files/{sha256}.pdf"])


def test_the_builder_ships_the_signers_intermediates(
    bundled: Bundled, dev_root: Path, tmp_path: Path,
) -> None:
    # A deployment whose system key came through an intermediate passes it to the builder.
    keys = system_note_keys(bundled.api.settings)
    assert keys is not None
    conninfo = bundled.api.db.app.conninfo()
    intermediate = issue(name("Agency Issuing CA"), issue(name("Agency Root"), ca=True),
                         ca=True)[1]
    path = build_bundle(conninfo, uuid.UUID(bundled.document_id),
                        BundledBlobs(members(bundled.zip_path)), tmp_path,
                        checkpoint=lambda: write_checkpoint(conninfo, *keys),
                        signer_chain=[intermediate.public_bytes(Encoding.DER)])
    files = members(path)
    assert load_certificate_files([_write(tmp_path / "chain.pem", files[CHAIN])]) == [
        intermediate]
    # It is listed in the manifest and does not disturb the checks.
    report = verify_bundle(path, load_certificate_files([dev_root]))
    assert report.ok, report.explain()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
