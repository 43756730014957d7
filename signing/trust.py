"""Trust material: reading trust roots, CRLs and OCSP responses from PEM or DER bytes."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import crl, pem, x509

from docmgmt.domain.errors import InvalidInputError


def _blocks(data: bytes, kinds: tuple[str, ...]) -> list[bytes]:
    if not pem.detect(data):
        return [data]
    found = [der for kind, _headers, der in pem.unarmor(data, multiple=True) if kind in kinds]
    if not found:
        raise InvalidInputError(f"no {' / '.join(kinds)} block in the PEM data")
    return found


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in PEM (one or more blocks) or DER data."""
    try:
        certs = [x509.Certificate.load(der) for der in _blocks(data, ("CERTIFICATE",))]
        for cert in certs:
            _ = cert.subject, cert.public_key  # parse now: asn1crypto is lazy
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("not an X.509 certificate in PEM or DER") from exc
    return certs


def load_certificate_files(paths: list[Path]) -> list[x509.Certificate]:
    """Every certificate in the given PEM/DER files (e.g. the national root CAs)."""
    return [cert for path in paths for cert in load_certificates(Path(path).read_bytes())]


def load_crls(data: bytes) -> list[crl.CertificateList]:
    """Every CRL in PEM (one or more blocks) or DER data."""
    try:
        crls = [crl.CertificateList.load(der) for der in _blocks(data, ("X509 CRL",))]
        for item in crls:
            _ = item.issuer
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("not a CRL in PEM or DER") from exc
    return crls
