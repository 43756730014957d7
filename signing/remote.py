"""Signing services that hold a leader's key: what docmgmt sends them and what comes back.

A provider signs digests with a key the server never holds (a CSC service, a remote signing
service that waits for the signer's confirmation on a phone) or, in development and where an
agency keeps a leader's key in its own HSM, with a key the server does hold. Every provider
signs the same thing: the SHA-256 digest of a CMS signed-attributes structure that the server
prepared (see ``PdfSigningPort.prepare_leader``); the server checks every answer against the
registered certificate before anything is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class AnswerStatus(StrEnum):
    """Where one hash stands at the provider."""

    PENDING = "pending"    # waiting for the signer's confirmation
    SIGNED = "signed"      # a signature value came back
    REFUSED = "refused"    # the signer (or the service) declined
    EXPIRED = "expired"    # the provider gave up waiting


@dataclass(frozen=True)
class SignerAccount:
    """Who is asked to sign, as the provider knows them."""

    username: str
    full_name: str


@dataclass(frozen=True)
class ProviderCredential:
    """One key the signer holds at the provider, with its certificate (DER) and chain."""

    credential_id: str
    certificate: bytes
    chain: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class HashToSign:
    """One digest to sign, with the line the signer is shown for it (a document summary)."""

    request_id: str
    digest: bytes
    label: str


@dataclass(frozen=True)
class ProviderAnswer:
    """What became of one hash; ``signature`` is set when ``status`` is SIGNED.

    The signature value is in the form CSC signHash returns: PKCS#1 v1.5 for RSA keys
    (over the DigestInfo of ``digest``), a DER-encoded ECDSA-Sig-Value for EC keys.
    """

    request_id: str
    status: AnswerStatus
    signature: bytes | None = None
    detail: str = ""


@dataclass(frozen=True)
class Submission:
    """The provider's receipt: its transaction id, and the answers if it signed at once."""

    transaction_id: str
    answers: tuple[ProviderAnswer, ...] | None = None


class SigningProvider(Protocol):
    """A service that signs digests for a signer (one per agency, from the keys file)."""

    @property
    def name(self) -> str:
        """A short name shown to users and recorded in events (``csc``, ``confirm``, ...)."""

    @property
    def development(self) -> bool:
        """True for the development provider: its signatures are labelled as such."""

    @property
    def server_held(self) -> bool:
        """True when the server holds the keys (development PKI, the keys file's "users"),
        bound to users by the operator: their certificates are registered on first use."""

    def credentials(self, signer: SignerAccount) -> list[ProviderCredential]:
        """The signer's keys at the service (certificates included)."""

    def submit(self, signer: SignerAccount, credential: ProviderCredential,
               hashes: Sequence[HashToSign], *, expires_at: datetime) -> Submission:
        """Ask for signatures over ``hashes`` with one authorisation (SCAL2: bound to them)."""

    def poll(self, transaction_id: str,
             request_ids: Sequence[str]) -> tuple[ProviderAnswer, ...]:
        """Where each of a transaction's hashes stands now."""
