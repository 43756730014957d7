"""Key backends: where a signer's private key lives (PKCS#12 file, PKCS#11 token, remote service).

Every backend loads its key material once, builds one pyHanko ``Signer`` and reuses it for
every signature. No backend ever puts key material or a PIN into a log line, an exception
or a ``repr``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pkcs11
from asn1crypto import algos, x509
from cryptography import x509 as pyca_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from pkcs11.util.ec import encode_ecdsa_signature
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing.errors import KeyBackendError
from signing.port import CertificateDict

SignDigest = Callable[[bytes, str], bytes]
"""``sign_digest(digest, digest_algorithm) -> raw signature`` of a remote signing service."""


@dataclass(frozen=True)
class CertificateInfo:
    """What an event or a report records about a signer's certificate."""

    fingerprint_sha256: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> CertificateInfo:
        """Describe an asn1crypto certificate (names in RFC 4514 form, hex serial)."""
        parsed = pyca_x509.load_der_x509_certificate(cert.dump())
        return cls(
            fingerprint_sha256=cert.sha256.hex(),
            subject=parsed.subject.rfc4514_string(),
            issuer=parsed.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_before=parsed.not_valid_before_utc,
            not_after=parsed.not_valid_after_utc,
        )

    def as_payload(self) -> CertificateDict:
        """JSON primitives for an event payload."""
        return {
            "fingerprint_sha256": self.fingerprint_sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }


class KeyBackend(Protocol):
    """A signing key with its certificate; ``signer()`` returns the same object every time."""

    def signer(self) -> Signer:
        """The pyHanko signer, built once."""
        ...

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""
        ...

    @property
    def chain(self) -> list[x509.Certificate]:
        """Intermediate CA certificates between the signer and a trust root."""
        ...

    def info(self) -> CertificateInfo:
        """A summary of the signer's certificate."""
        ...

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Sign a SHA-256 digest; the value in CSC signHash form (see ``sign_digest``)."""
        ...


DIGEST_MECHANISMS = frozenset({"sha256_rsa", "sha256_ecdsa"})


def sign_digest(key: KeyBackend, digest: bytes, mechanism: str) -> bytes:
    """Sign a prehashed SHA-256 ``digest`` with ``key``, as CSC signHash answers.

    ``sha256_rsa``: PKCS#1 v1.5 over the DigestInfo; ``sha256_ecdsa``: a DER
    ECDSA-Sig-Value. The mechanism must match the key (KeyBackendError otherwise).
    """
    if mechanism not in DIGEST_MECHANISMS or len(digest) != hashlib.sha256().digest_size:
        raise KeyBackendError(f"cannot sign a digest with mechanism {mechanism!r}")
    return key.sign_digest(digest, mechanism)


def _key_mismatch(mechanism: str) -> KeyBackendError:
    return KeyBackendError(f"the key cannot make a {mechanism} signature")


def _sign_prehashed(key: PrivateKey, digest: bytes, mechanism: str) -> bytes:
    prehashed = Prehashed(hashes.SHA256())
    if mechanism == "sha256_rsa" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), prehashed)
    if mechanism == "sha256_ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(digest, ec.ECDSA(prehashed))
    raise _key_mismatch(mechanism)


def _to_asn1(cert: pyca_x509.Certificate) -> x509.Certificate:
    return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _intermediates(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    return [c for c in certs if c.subject != c.issuer]


def _registry(certs: Iterable[x509.Certificate]) -> SimpleCertificateStore:
    store: SimpleCertificateStore = SimpleCertificateStore.from_certs(certs)  # type: ignore[no-untyped-call]
    return store


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class _LoadedKeySigner(Signer):
    """A pyHanko signer over a private key parsed once (pyHanko's SimpleSigner re-parses it
    from DER on every signature)."""

    def __init__(
        self, key: PrivateKey, certificate: x509.Certificate, others: Iterable[x509.Certificate]
    ) -> None:
        super().__init__(signing_cert=certificate, cert_registry=_registry(others))
        self._key = key
        self._subject = CertificateInfo.from_certificate(certificate).subject

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self._subject}>"

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return key.sign(data)

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Sign a prehashed SHA-256 digest (CSC signHash form)."""
        return _sign_prehashed(self._key, digest, mechanism)


class CertificateAccessors:
    """The certificate, chain and summary every key backend keeps once it is loaded."""

    _certificate: x509.Certificate
    _chain: list[x509.Certificate]
    _info: CertificateInfo

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""
        return self._certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        """Intermediate CA certificates (from the file, the token or the caller)."""
        return list(self._chain)

    def info(self) -> CertificateInfo:
        """A summary of the signer's certificate."""
        return self._info


class Pkcs12KeyBackend(CertificateAccessors):
    """A key and certificate chain from a PKCS#12 (.p12/.pfx) file, read once at construction."""

    def __init__(self, path: Path, password: bytes | None) -> None:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError:
            raise KeyBackendError(f"cannot read the PKCS#12 file {path.name}") from None
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError):
            # The library's message is generic; dropping the cause keeps the password and
            # the file's bytes out of every traceback.
            raise KeyBackendError(
                f"cannot open the PKCS#12 file {path.name}: wrong password or damaged file"
            ) from None
        if cert is None or not isinstance(key, PrivateKey):
            raise KeyBackendError(
                f"the PKCS#12 file {path.name} holds no RSA/ECDSA/Ed25519 key with a certificate"
            )
        self._path_name = path.name
        self._certificate = _to_asn1(cert)
        others = [_to_asn1(c) for c in extra]
        self._chain = _intermediates(others)
        self._info = CertificateInfo.from_certificate(self._certificate)
        self._signer = _LoadedKeySigner(key, self._certificate, others)

    def __repr__(self) -> str:
        return f"<Pkcs12KeyBackend {self._path_name}: {self._info.subject}>"

    def signer(self) -> Signer:
        """The pyHanko signer, built once."""
        return self._signer

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Sign a prehashed SHA-256 digest (CSC signHash form)."""
        return self._signer.sign_digest(digest, mechanism)


def _pkcs11_error(action: str, exc: BaseException) -> KeyBackendError:
    # python-pkcs11 exception names (PinIncorrect, TokenNotPresent, ...) say what went
    # wrong without revealing anything secret; their arguments are not shown.
    return KeyBackendError(f"PKCS#11: cannot {action} ({type(exc).__name__})")


class Pkcs11KeyBackend(CertificateAccessors):
    """A key on a PKCS#11 token or HSM, reached through one session kept open until close().

    PKCS#11 sessions are not thread-safe, so every use of the session is serialised.
    """

    def __init__(
        self,
        module_path: str | Path,
        token_label: str,
        key_label: str,
        pin: str,
        cert_label: str | None = None,
        *,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        self._token_label = token_label
        self._lock = threading.Lock()
        try:
            self._session = open_pkcs11_session(
                str(module_path), token_criteria=TokenCriteria(label=token_label), user_pin=pin
            )
        except (pkcs11.PKCS11Error, OSError) as exc:
            raise _pkcs11_error(f"open token {token_label!r}", exc) from None
        try:
            self._signer = _LockedPkcs11Signer(
                self._session,
                lock=self._lock,
                key_label=key_label,
                cert_label=cert_label or key_label,
                ca_chain=list(chain),
                other_certs_to_pull=None,
            )
            with self._lock:
                self._signer.load_objects_now()
        except pkcs11.PKCS11Error as exc:
            self._session.close()
            raise _pkcs11_error(f"find key {key_label!r} and its certificate", exc) from None
        cert = self._signer.signing_cert
        self._certificate: x509.Certificate = cert
        others = list(self._signer.cert_registry)
        self._chain = [c for c in _intermediates(others) if c.dump() != cert.dump()]
        self._info = CertificateInfo.from_certificate(cert)
        self._closed = False

    def __repr__(self) -> str:
        return f"<Pkcs11KeyBackend token {self._token_label!r}: {self._info.subject}>"

    def signer(self) -> Signer:
        """The pyHanko signer, built once over the open session."""
        if self._closed:
            raise KeyBackendError("PKCS#11: the token session is closed")
        return self._signer

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Sign a prehashed SHA-256 digest on the token (CSC signHash form)."""
        if self._closed:
            raise KeyBackendError("PKCS#11: the token session is closed")
        return self._signer.sign_digest(digest, mechanism)

    def close(self) -> None:
        """Log out and close the session (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._session.close()


class _LockedPkcs11Signer(PKCS11Signer):
    """pyHanko's PKCS#11 signer with every token operation behind the backend's lock."""

    def __init__(self, session: Any, *, lock: threading.Lock, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self._lock = lock

    def load_objects_now(self) -> None:
        """Pull the certificate and key handle from the token (caller holds the lock)."""
        # pyHanko's signing_cert property loads the certificate and the key handle.
        _ = self.signing_cert

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(await super().async_sign_raw(data, digest_algorithm, dry_run=True))
        # Each sign_pdf call runs its own event loop in its own thread, so holding a thread
        # lock across this await only ever blocks other signing threads, never this loop.
        with self._lock:
            try:
                return bytes(await super().async_sign_raw(data, digest_algorithm))
            except pkcs11.PKCS11Error as exc:
                raise _pkcs11_error("sign", exc) from None

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Raw RSA_PKCS over the DigestInfo, or ECDSA over the digest then DER-encoded."""
        algorithm = self.signing_cert.public_key.algorithm
        with self._lock:
            handle = self._key_handle
            if handle is None:
                raise KeyBackendError("PKCS#11: the signing key is not loaded")
            try:
                if mechanism == "sha256_rsa" and algorithm == "rsa":
                    info = algos.DigestInfo({
                        "digest_algorithm": {"algorithm": "sha256"}, "digest": digest})
                    return bytes(handle.sign(info.dump(), mechanism=pkcs11.Mechanism.RSA_PKCS))
                if mechanism == "sha256_ecdsa" and algorithm == "ec":
                    raw = bytes(handle.sign(digest, mechanism=pkcs11.Mechanism.ECDSA))
                    return bytes(encode_ecdsa_signature(raw))
            except pkcs11.PKCS11Error as exc:
                raise _pkcs11_error("sign", exc) from None
        raise _key_mismatch(mechanism)


def max_signature_size(cert: x509.Certificate) -> int:
    """The longest signature value (bytes, DER for ECDSA) the certificate's key can make."""
    public = pyca_x509.load_der_x509_certificate(cert.dump()).public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return (public.key_size + 7) // 8
    if isinstance(public, ec.EllipticCurvePublicKey):
        coord = (public.curve.key_size + 7) // 8
        return 2 * (coord + 3) + 3
    return 512


def _verifies(public: Any, digest: bytes, signature: bytes, prehashed: Prehashed) -> bool:
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def digest_signature_verifies(certificate: x509.Certificate, digest: bytes,
                              signature: bytes) -> bool:
    """Whether ``signature`` (CSC signHash form) over a SHA-256 ``digest`` is by the
    certificate's key."""
    public = pyca_x509.load_der_x509_certificate(certificate.dump()).public_key()
    return _verifies(public, digest, signature, Prehashed(hashes.SHA256()))


class _RemoteDigestSigner(Signer):
    """Sends the digest of the signed attributes to a remote service and checks the answer."""

    def __init__(
        self,
        certificate: x509.Certificate,
        chain: Iterable[x509.Certificate],
        sign_digest: SignDigest,
    ) -> None:
        super().__init__(signing_cert=certificate, cert_registry=_registry(chain))
        self._sign_digest = sign_digest
        self._public = pyca_x509.load_der_x509_certificate(certificate.dump()).public_key()
        self._size = max_signature_size(certificate)

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(self._size)
        digest = hashlib.new(digest_algorithm, data).digest()
        return await asyncio.to_thread(self._ask, digest, digest_algorithm)

    def _ask(self, digest: bytes, digest_algorithm: str) -> bytes:
        """The service's signature over ``digest``, once it verifies, in CMS form."""
        try:
            signature = self._sign_digest(digest, digest_algorithm)
        except KeyBackendError:
            raise
        except Exception as exc:
            raise KeyBackendError(
                f"the remote signing service failed ({type(exc).__name__})"
            ) from exc
        return self._checked(bytes(signature), digest, digest_algorithm)

    def _checked(self, signature: bytes, digest: bytes, digest_algorithm: str) -> bytes:
        """Return the signature in CMS form once it verifies against the certificate."""
        prehashed = Prehashed(get_pyca_cryptography_hash(digest_algorithm))
        public = self._public
        candidates = [signature]
        if isinstance(public, ec.EllipticCurvePublicKey):
            coord = (public.curve.key_size + 7) // 8
            if len(signature) == 2 * coord:
                # Many services (and PKCS#11) answer ECDSA as raw r||s; CMS wants DER.
                r = int.from_bytes(signature[:coord], "big")
                s = int.from_bytes(signature[coord:], "big")
                candidates.append(encode_dss_signature(r, s))
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise KeyBackendError("remote signing supports RSA and ECDSA keys only")
        for candidate in candidates:
            if _verifies(public, digest, candidate, prehashed):
                return candidate
        raise KeyBackendError("the remote signature does not verify against the certificate")

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Have the service sign a prehashed SHA-256 digest; checked, in CSC form."""
        public = self._public
        expected = "sha256_rsa" if isinstance(public, rsa.RSAPublicKey) else "sha256_ecdsa"
        if mechanism != expected:
            raise _key_mismatch(mechanism)
        return self._ask(digest, "sha256")


class RemoteKeyBackend(CertificateAccessors):
    """A seam for remote signing services: only a digest leaves the process."""

    def __init__(
        self,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        sign_digest: SignDigest,
    ) -> None:
        self._certificate = certificate
        self._chain = _intermediates(chain)
        self._info = CertificateInfo.from_certificate(certificate)
        self._signer = _RemoteDigestSigner(certificate, chain, sign_digest)

    def __repr__(self) -> str:
        return f"<RemoteKeyBackend {self._info.subject}>"

    def signer(self) -> Signer:
        """The pyHanko signer, built once."""
        return self._signer

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Have the service sign a prehashed SHA-256 digest (checked, CSC form)."""
        return self._signer.sign_digest(digest, mechanism)
