"""The port between the document workflow and PAdES signing: what is asked, what comes back.

The workflow (docmgmt) calls it; signing/ implements it. It lives with the adapter so that
the adapter never imports the application layer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NotRequired, Protocol, TypedDict
from uuid import UUID


class Verdict(StrEnum):
    """The bottom line on a signature, a timestamp or a whole PDF (JSON: its value)."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    UNSIGNED = "unsigned"


@dataclass(frozen=True)
class SignerIdentity:
    """Who signs, as printed under the signature."""

    user_id: UUID
    username: str
    full_name: str
    title: str


@dataclass(frozen=True)
class AgencyIdentity:
    """The agency whose seal is applied."""

    agency_id: UUID
    code: str
    name: str


class CertificateDict(TypedDict):
    """The signing certificate as recorded in an event (dates in ISO 8601)."""

    fingerprint_sha256: str
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str


class SignatureDict(TypedDict):
    """One signature's verdict in a validation report (JSON primitives)."""

    field_name: str
    intact: bool
    valid: bool
    trusted: bool
    revocation: str
    timestamp: str | None
    timestamp_trusted: bool | None
    document_timestamp: bool
    signer_subject: str | None
    signer_fingerprint: str | None
    signing_time: str | None
    reason: str | None
    location: str | None
    docmdp: str | None
    modification_level: str | None
    coverage: str | None
    pades_level: str | None
    bottom_line: Verdict
    explanation_en: str
    explanation_vi: str


class TimestampDict(TypedDict):
    """One document timestamp's verdict in a validation report (JSON primitives)."""

    field_name: str
    intact: bool
    valid: bool
    trusted: bool
    time: str | None
    tsa_subject: str | None
    coverage: str | None
    modification_level: str | None
    bottom_line: Verdict
    explanation_en: str
    explanation_vi: str


class ReportDict(TypedDict):
    """The validation report of one PDF, as the API answers it (JSON primitives)."""

    sha256: str
    validated_at: str
    signatures: list[SignatureDict]
    document_timestamps: list[TimestampDict]
    dss_ocsp_responses: int
    dss_crls: int
    bottom_line: Verdict
    explanation_en: str
    explanation_vi: str
    active_content: list[str]
    signature_count: int


class SignatureSummaryDict(TypedDict):
    """The part of one signature's verdict kept in events (absent keys read as None)."""

    field_name: str | None
    intact: bool | None
    valid: bool | None
    trusted: bool | None
    revocation: str | None
    signer_subject: str | None
    signer_fingerprint: str | None
    signing_time: str | None
    timestamp: str | None
    modification_level: str | None
    pades_level: str | None
    bottom_line: Verdict | None
    reason: str | None


class SummaryDict(TypedDict):
    """The part of a validation report kept in events: verdicts per signature."""

    bottom_line: Verdict | None
    signatures: list[SignatureSummaryDict]


class SignaturePayloadDict(TypedDict):
    """What a signing step records in its event (the leader's adds the capacity line)."""

    certificate: CertificateDict
    level: str
    validation: SummaryDict
    capacity_line: NotRequired[str]


@dataclass(frozen=True)
class SignatureOutcome:
    """What a signing step produced: certificate, level and the validation report after it."""

    certificate: CertificateDict
    level: str
    report: ReportDict

    def payload(self) -> SignaturePayloadDict:
        """The JSON-primitive summary recorded in the event."""
        return {"certificate": self.certificate, "level": self.level,
                "validation": summarise(self.report)}


@dataclass(frozen=True)
class PreparedSignature:
    """A PDF made ready for a leader's signature computed elsewhere (interrupted signing).

    ``digest`` is what the signer's key signs: the SHA-256 of the DER-encoded CMS signed
    attributes, which commit to the prepared PDF's byte-range digest. ``state`` is opaque
    JSON (no secret in it) that ``finish_leader`` needs beside the prepared PDF itself.
    """

    digest: bytes
    mechanism: str
    certificate: CertificateDict
    state: str


def summarise(report: ReportDict) -> SummaryDict:
    """The part of a validation report kept in events: verdicts per signature."""
    bottom_line = report.get("bottom_line")
    return {
        "bottom_line": None if bottom_line is None else Verdict(bottom_line),
        "signatures": [_summarise_signature(s) for s in report.get("signatures", [])],
    }


def _summarise_signature(s: SignatureDict) -> SignatureSummaryDict:
    # Key order is the order events have always recorded; .get keeps a partial entry legal.
    return {
        "field_name": s.get("field_name"), "intact": s.get("intact"), "valid": s.get("valid"),
        "trusted": s.get("trusted"), "revocation": s.get("revocation"),
        "signer_subject": s.get("signer_subject"),
        "signer_fingerprint": s.get("signer_fingerprint"),
        "signing_time": s.get("signing_time"), "timestamp": s.get("timestamp"),
        "modification_level": s.get("modification_level"),
        "pades_level": s.get("pades_level"), "bottom_line": _verdict(s),
        "reason": s.get("reason"),
    }


def _verdict(signature: SignatureDict) -> Verdict | None:
    value = signature.get("bottom_line")
    return None if value is None else Verdict(value)


def competent_signature_valid(report: ReportDict) -> bool:
    """Whether the first (the competent person's) signature is intact, valid and trusted."""
    signatures = report.get("signatures", [])
    return bool(signatures) and _verdict(signatures[0]) is Verdict.VALID


class PdfSigningPort(Protocol):
    """PAdES operations on files (the signing/ package implements it)."""

    def prepare_leader(
        self, src: Path, dst: Path, *, signer: SignerIdentity, agency: AgencyIdentity,
        capacity_line: str, certificate: bytes, chain: Sequence[bytes],
    ) -> PreparedSignature:
        """Write to ``dst`` the approved PDF with its fields, the leader's appearance and a
        reserved byte range for a certification signature (DocMDP: form filling allowed) by
        ``certificate`` (DER); return the digest that certificate's key must sign.

        The certificate is validated at this moment first (SignerCertificate*Error)."""

    def finish_leader(self, prepared: Path, dst: Path, *, agency: AgencyIdentity,
                      state: str, signature: bytes) -> SignatureOutcome:
        """Embed the signature value that came back into the prepared PDF, at the agency's
        PAdES level (timestamp, revocation data), and validate the result.

        A value not made by the prepared certificate's key over the prepared digest is
        refused with SignatureMismatchError before anything is written."""

    def prepare_upload(self, src: Path, dst: Path) -> None:
        """Write to ``dst`` the approved PDF with its number, date, leader and seal fields
        (no signature): the file a signer's own software signs whole."""

    def accept_uploaded(self, prepared: Path, uploaded: Path, *, agency: AgencyIdentity,
                        certificates: Collection[str]) -> SignatureOutcome:
        """Accept a whole signed PDF only if it is ``prepared`` byte for byte plus one
        incremental update holding exactly one new signature, in the leader's field, by a
        certificate whose SHA-256 fingerprint is in ``certificates``, that validates, with
        nothing else changed; otherwise SignedPdfRefusedError naming what is wrong."""

    def check_certificate(self, certificate: bytes, chain: Sequence[bytes]) -> CertificateDict:
        """Describe a signing certificate (DER) that chains to a trust root and may sign
        now; otherwise the precise SignerCertificate*Error."""

    def verify_possession(self, certificate: bytes, message: bytes, signature: bytes) -> None:
        """Check that ``signature`` (CSC signHash form) over SHA-256(``message``) was made by
        the key of ``certificate``; SignatureMismatchError if not."""

    def write_number(self, src: Path, dst: Path, *, number_label: str,
                     date_label: str) -> ReportDict:
        """Fill the number and date fields incrementally; return the validation report."""

    def seal(self, src: Path, dst: Path, *, agency: AgencyIdentity) -> SignatureOutcome:
        """Apply the agency's digital signature."""

    def seal_appendix(self, src: Path, dst: Path, *, agency: AgencyIdentity,
                      number_label: str) -> SignatureOutcome:
        """Apply the agency's signature to an appendix: text only, top right of page 1."""

    def validate(self, path: Path) -> ReportDict:
        """The validation report of any PDF."""

    def validate_html(self, path: Path) -> str:
        """The validation report as a readable HTML page."""
