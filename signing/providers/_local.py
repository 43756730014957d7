"""What the providers share: the mechanism a certificate's key signs with, and the
providers that sign at once with a key the server holds (development and server keys)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.errors import SigningProviderError
from signing.keys import KeyBackend, sign_digest
from signing.remote import (
    AnswerStatus,
    HashToSign,
    ProviderAnswer,
    ProviderCredential,
    SignerAccount,
    Submission,
)

KeyFor = Callable[[SignerAccount], KeyBackend]
"""Opens (or returns the kept) key of a signer."""

Clock = Callable[[], datetime]
"""The current moment (timezone-aware); tests pass their own."""


def utc_now() -> datetime:
    """The current moment in UTC."""
    return datetime.now(UTC)


def mechanism_of(certificate: bytes) -> str:
    """``sha256_rsa`` or ``sha256_ecdsa``, from the public key of a DER certificate."""
    try:
        public = x509.load_der_x509_certificate(certificate).public_key()
    except ValueError:
        raise SigningProviderError("the credential's certificate cannot be read") from None
    if isinstance(public, rsa.RSAPublicKey):
        return "sha256_rsa"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "sha256_ecdsa"
    raise SigningProviderError("only RSA and EC keys can sign through a provider")


class NamedProvider:
    """The name and the development flag every provider reports."""

    def __init__(self, name: str, *, development: bool = False) -> None:
        self._name = name
        self._development = development

    @property
    def name(self) -> str:
        """The provider's short name, recorded in events."""
        return self._name

    @property
    def development(self) -> bool:
        """True only for the development provider."""
        return self._development

    @property
    def server_held(self) -> bool:
        """False: the signer's key is with the service, not the server."""
        return False


class AnswersAtOnce(NamedProvider):
    """A provider whose ``submit`` returns every answer, so there is never anything to poll."""

    def poll(self, transaction_id: str,
             request_ids: Sequence[str]) -> tuple[ProviderAnswer, ...]:
        """Refused: every answer came back from ``submit``."""
        raise SigningProviderError(
            f"{self._name} answers at once; transaction {transaction_id} has nothing to poll")


class HeldKeyProvider(AnswersAtOnce):
    """A provider over a key the server holds: it signs every hash at once."""

    def __init__(self, name: str, key_for: KeyFor, *, development: bool) -> None:
        super().__init__(name, development=development)
        self._key_for = key_for

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name}>"

    @property
    def server_held(self) -> bool:
        """True: the server holds the key the operator bound to the signer."""
        return True

    def credentials(self, signer: SignerAccount) -> list[ProviderCredential]:
        """The signer's one key, named by its certificate's SHA-256 fingerprint."""
        key = self._key_for(signer)
        return [ProviderCredential(key.certificate.sha256.hex(), key.certificate.dump(),
                                   tuple(c.dump() for c in key.chain))]

    def submit(self, signer: SignerAccount, credential: ProviderCredential,
               hashes: Sequence[HashToSign], *, expires_at: datetime) -> Submission:
        """Sign every hash now."""
        key = self._key_for(signer)
        if key.certificate.dump() != credential.certificate:
            raise SigningProviderError(
                f"{self._name}: the credential is not the key held for {signer.username}")
        mechanism = mechanism_of(credential.certificate)
        answers = tuple(
            ProviderAnswer(h.request_id, AnswerStatus.SIGNED,
                           sign_digest(key, h.digest, mechanism))
            for h in hashes)
        return Submission(uuid.uuid4().hex, answers)
