"""The development system key and TSA for checkpoints (never for production)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.timestamps.api import TimeStamper

from docmgmt.ledger.checkpoint import CertifiedNoteSigner
from docmgmt.ledger.revocation import crl_files_pem
from signing.devpki import DevPki, dev_timestamper, init_dev_pki

SYSTEM_CODE = "SYSTEM"
SYSTEM_NAME = "docmgmt ledger"


class Pkcs12NoteSigner(CertifiedNoteSigner):
    """Signs notes with the key of a PKCS#12 file (ECDSA P-256 or RSA, SHA-256)."""

    def __init__(self, path: Path, password: bytes, name: str = SYSTEM_NAME,
                 crl_files: Sequence[Path] = ()) -> None:
        key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), password)
        if cert is None or not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"{path.name} holds no ECDSA/RSA key with a certificate")
        super().__init__(name, cert, extra)
        self._crl_files = list(crl_files)
        self._key = key

    def crls_pem(self, certificates: Sequence[x509.Certificate]) -> bytes:
        """The CRL files given (read afresh each time: they are re-issued), as PEM."""
        return crl_files_pem(self._crl_files)

    def sign(self, data: bytes) -> bytes:
        """ECDSA (DER) or RSA PKCS#1 v1.5 signature, SHA-256."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class PyHankoNoteTimestamper:
    """RFC 3161 tokens from a pyHanko TimeStamper (call outside any running event loop)."""

    def __init__(self, stamper: TimeStamper) -> None:
        self._stamper = stamper

    def timestamp(self, sha256_digest: bytes) -> bytes:
        """The DER TimeStampToken over the digest."""
        token = asyncio.run(self._stamper.async_timestamp(sha256_digest, "sha256"))
        return bytes(token.dump())


def dev_system_keys(pki_dir: Path) -> tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper, DevPki]:
    """The development SYSTEM seal key and TSA under ``pki_dir`` (made on first use)."""
    pki = init_dev_pki(pki_dir / SYSTEM_CODE, SYSTEM_CODE, SYSTEM_NAME)
    # One root issued both the system key and the TSA: its CRL covers both.
    signer = Pkcs12NoteSigner(pki.seal_p12_path, pki.password_for(pki.seal_p12_path),
                              crl_files=[pki.crl_der_path])
    return signer, PyHankoNoteTimestamper(dev_timestamper(pki)), pki


class LazyDevSystemKeys:
    """The development SYSTEM keys, made on the first checkpoint rather than at start-up.

    Making the development PKI generates an RSA-3072 TSA key (seconds of CPU); most
    start-ups, and every short-lived test server, never reach a checkpoint.
    """

    name = SYSTEM_NAME

    def __init__(self, pki_dir: Path) -> None:
        self._pki_dir = pki_dir
        self._keys: tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper, DevPki] | None = None

    def _load(self) -> tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper, DevPki]:
        if self._keys is None:
            self._keys = dev_system_keys(self._pki_dir)
        return self._keys

    @property
    def certificate_der(self) -> bytes:
        """The signer's X.509 certificate (DER)."""
        return self._load()[0].certificate_der

    @property
    def public_key_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo of the key."""
        return self._load()[0].public_key_der

    @property
    def chain_pem(self) -> bytes:
        """Intermediate CA certificates, as PEM."""
        return self._load()[0].chain_pem

    def crls_pem(self, certificates: Sequence[x509.Certificate]) -> bytes:
        """The development root's current CRL, as PEM."""
        return self._load()[0].crls_pem(certificates)

    def sign(self, message: bytes) -> bytes:
        """Sign the note body."""
        return self._load()[0].sign(message)

    def timestamp(self, sha256_digest: bytes) -> bytes:
        """A DER TimeStampToken over the digest."""
        return self._load()[1].timestamp(sha256_digest)
