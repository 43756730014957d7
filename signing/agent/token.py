"""The leader's PKCS#11 token as the agent uses it: list its certificates, sign digests.

Certificates are public objects, read without the PIN. Signing opens one session with the
PIN the leader typed on the confirm page, signs every digest of the job and closes it; the
PIN is not kept. Signature values have the CSC signHash form (sign15 §2).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from asn1crypto import algos, x509
from pkcs11.util.ec import encode_ecdsa_signature

from signing.errors import KeyBackendError


class TokenError(KeyBackendError):
    """The token could not do what was asked; ``code`` is stable, no secret in the text."""

    code = "token_error"


class TokenAbsentError(TokenError):
    """The configured token is not plugged in (or its module cannot be loaded)."""

    code = "token_absent"


class WrongPinError(TokenError):
    """The token rejected the PIN; the leader may try again (the token counts failures)."""

    code = "pin_incorrect"


class PinLockedError(TokenError):
    """The token refuses every PIN until it is unlocked with the PUK or by the issuer."""

    code = "pin_locked"


class UnknownCertificateError(TokenError):
    """No certificate with that id (or no private key beside it) is on the token."""

    code = "certificate_not_found"


@dataclass(frozen=True)
class TokenCertificate:
    """A signing certificate found on the token, with the issuers found beside it."""

    id: str          # hex of CKA_ID, shared by the certificate and its private key
    label: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    def as_json(self) -> dict[str, Any]:
        """The wire form of ``GET /v1/certificates`` (DER as standard base64)."""
        return {"id": self.id, "label": self.label,
                "certificate": base64.b64encode(self.certificate.dump()).decode(),
                "chain": [base64.b64encode(c.dump()).decode() for c in self.chain]}


def _digest_info(digest: bytes) -> bytes:
    return bytes(algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"},
                                   "digest": digest}).dump())


def _chain(cert: x509.Certificate, others: Sequence[x509.Certificate]
           ) -> tuple[x509.Certificate, ...]:
    """The issuers of ``cert`` among ``others``, nearest first, stopping at a root."""
    chain: list[x509.Certificate] = []
    current = cert
    while not current.self_issued:
        issuer = next((c for c in others if c.subject == current.issuer
                       and c.dump() != current.dump() and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return tuple(chain)


class Token:
    """One token, found by its label in one PKCS#11 module; every use is serialised."""

    def __init__(self, module: str | Path, label: str) -> None:
        self.module = str(module)
        self.label = label
        self._lock = threading.Lock()

    def _token(self) -> Any:
        try:
            return pkcs11.lib(self.module).get_token(token_label=self.label)
        except (pkcs11.PKCS11Error, OSError, RuntimeError) as exc:
            raise TokenAbsentError(f"token {self.label!r} not found "
                                   f"({type(exc).__name__})") from None

    def present(self) -> bool:
        """Whether the token is plugged in (its module loads and lists it)."""
        try:
            with self._lock:
                self._token()
        except TokenAbsentError:
            return False
        return True

    def certificates(self) -> list[TokenCertificate]:
        """The end-entity certificates on the token, each with its chain from the token."""
        with self._lock:
            try:
                with self._token().open() as session:
                    found = [(bytes(o[pkcs11.Attribute.ID]), str(o[pkcs11.Attribute.LABEL]),
                              x509.Certificate.load(bytes(o[pkcs11.Attribute.VALUE])))
                             for o in session.get_objects(
                                 {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE})]
            except pkcs11.PKCS11Error as exc:
                raise TokenError(f"cannot read the token ({type(exc).__name__})") from None
        every = [cert for _, _, cert in found]
        return [TokenCertificate(id=cid.hex(), label=label, certificate=cert,
                                 chain=_chain(cert, every))
                for cid, label, cert in found if not cert.ca]

    def sign(self, certificate_id: str, digests: Sequence[bytes], pin: str) -> list[bytes]:
        """Sign each SHA-256 digest with the key beside the certificate, in one session."""
        cert = next((c for c in self.certificates() if c.id == certificate_id), None)
        if cert is None:
            raise UnknownCertificateError(f"no certificate {certificate_id!r} on the token")
        is_ec = cert.certificate.public_key.algorithm == "ec"
        with self._lock:
            try:
                with self._token().open(user_pin=pin) as session:
                    key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY,
                                          id=bytes.fromhex(certificate_id))
                    if is_ec:
                        return [encode_ecdsa_signature(
                            key.sign(d, mechanism=pkcs11.Mechanism.ECDSA)) for d in digests]
                    return [bytes(key.sign(_digest_info(d), mechanism=pkcs11.Mechanism.RSA_PKCS))
                            for d in digests]
            except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
                raise WrongPinError("the token rejected the PIN") from None
            except pkcs11.PinLocked:
                raise PinLockedError("the token's PIN is locked") from None
            except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned):
                raise UnknownCertificateError(
                    f"no single private key beside certificate {certificate_id!r}") from None
            except pkcs11.PKCS11Error as exc:
                raise TokenError(f"the token could not sign ({type(exc).__name__})") from None

    def pin_warning(self) -> str | None:
        """``final_try`` or ``count_low`` when the token says so after failed PINs."""
        try:
            with self._lock:
                flags = self._token().flags
        except TokenAbsentError:
            return None
        if flags & pkcs11.TokenFlag.USER_PIN_FINAL_TRY:
            return "final_try"
        if flags & pkcs11.TokenFlag.USER_PIN_COUNT_LOW:
            return "count_low"
        return None
