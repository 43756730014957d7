"""Certificates a forger could make, and re-signing a checkpoint note with them."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

Issued = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


def name(common_name: str) -> x509.Name:
    """A plain subject name."""
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(subject: x509.Name, issuer: Issued | None = None, *, ca: bool = False,
          days: int = 365, crl_url: str | None = None) -> Issued:
    """A P-256 key and its certificate, self-signed when ``issuer`` is None (with a CRL
    distribution point if ``crl_url`` is given)."""
    key = ec.generate_private_key(ec.SECP256R1())
    signing_key, issuer_name = (key, subject) if issuer is None else (
        issuer[0], issuer[1].subject)
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                   crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[0].public_key()),
            critical=False)
    if crl_url is not None:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
    return key, builder.sign(signing_key, hashes.SHA256())


def pem_file(path: Path, *certs: x509.Certificate) -> Path:
    """Write the certificates as one PEM file."""
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def resign(note: str, signer: Issued) -> tuple[str, bytes]:
    """The same note body signed by another key: (the new note, the raw signature)."""
    body, _, sig_line = note.partition("\n\n")
    body += "\n"
    key_name = sig_line.rstrip("\n").partition(" ")[2].rpartition(" ")[0]
    key, cert = signer
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    kid = hashlib.sha256(key_name.encode() + b"\n\xff" + spki).digest()[:4]
    signature = key.sign(body.encode(), ec.ECDSA(hashes.SHA256()))
    return (f"{body}\n— {key_name} {base64.b64encode(kid + signature).decode()}\n",
            signature)


def crl(issuer: Issued, revoked: dict[int, datetime] | None = None, *,
        last_update: datetime | None = None, days: int = 30) -> x509.CertificateRevocationList:
    """A CRL of ``issuer`` revoking the given serial numbers at the given moments."""
    now = datetime.now(UTC)
    start = last_update or now - timedelta(hours=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer[1].subject)
               .last_update(start).next_update(start + timedelta(days=days)))
    for serial, when in (revoked or {}).items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            .build())
    return builder.sign(issuer[0], hashes.SHA256())
