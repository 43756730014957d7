"""A leader's development key, as their token would hold it: taken from the served app's
development PKI (under its data dir), for tests that sign as the leader's own software or
agent would."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from signing.devpki import issue_user_cert
from signing.port import AgencyIdentity
from signing.service import DevKeyRegistry


@dataclass(frozen=True)
class DevKey:
    """A private key, its certificate (DER) and the PKCS#12 file it came from."""

    private: Any
    certificate: bytes
    p12: Path
    password: bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate, as registrations name it."""
        return hashlib.sha256(self.certificate).hexdigest()

    @property
    def certificate_b64(self) -> str:
        """The certificate as the wire carries it."""
        return base64.b64encode(self.certificate).decode()

    def sign(self, digest: bytes) -> bytes:
        """The signature value over a SHA-256 digest, in CSC signHash form."""
        if isinstance(self.private, rsa.RSAPrivateKey):
            return bytes(self.private.sign(digest, padding.PKCS1v15(),
                                           Prehashed(hashes.SHA256())))
        assert isinstance(self.private, ec.EllipticCurvePrivateKey)
        return bytes(self.private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))


def _load(path: Path, password: bytes) -> DevKey:
    key, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), password)
    assert key is not None
    assert cert is not None
    return DevKey(key, cert.public_bytes(Encoding.DER), path, password)


def _pki(pki_dir: Path, agency_id: str, code: str, name: str) -> Any:
    return DevKeyRegistry(pki_dir).pki(AgencyIdentity(UUID(agency_id), code, name))


def leader_key(pki_dir: Path, agency_id: str, code: str, name: str, username: str,
               full_name: str) -> DevKey:
    """The development key of a leader of the agency (issued if it does not exist)."""
    pki = _pki(pki_dir, agency_id, code, name)
    path = issue_user_cert(pki.directory, username, full_name)
    return _load(path, pki.password_for(path))


def seal_key(pki_dir: Path, agency_id: str, code: str, name: str) -> DevKey:
    """Another key of the same PKI (the agency's seal): trusted, but nobody's own."""
    pki = _pki(pki_dir, agency_id, code, name)
    return _load(pki.seal_p12_path, pki.password_for(pki.seal_p12_path))
